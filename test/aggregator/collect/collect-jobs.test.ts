// One-time, bulk and cancel of collect jobs, and bad input, through the real kube-apiserver
// (pods/log proxied to the fake kubelet) into the shared OpenSearch.
import t from 'tap';
import { collectStack } from './collect-fixture.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const stack = await collectStack(t, {
  K8S_LOGS_COLLECT_MAX_CONTINUOUS_JOBS: '2',
  K8S_LOGS_COLLECT_MAX_STREAMS_PER_CLUSTER: '12',
});
if (!stack) {
  t.comment('skipped: needs the fake kubelet');
  process.exit(0);
}
const { kube, cluster, call } = stack;
const driver = kube.driver;
const kubelet = kube.kubelet!;

const finished = (id: string, timeoutMs?: number) => stack.finished(id, timeoutMs);

t.test(
  'one-time: named pod, every container (init included), stored like agent lines and marked as collected',
  async (t) => {
    const ns = await kube.namespace('once');
    await driver.addPod({
      namespace: ns,
      name: 'web-1',
      nodeName: kube.node,
      containers: ['app', 'side'],
      initContainers: ['setup'],
      labels: { app: 'web' },
      logs: { setup: ['init done'], app: ['a1', '{"level":"error","msg":"a2"}', 'a3'], side: ['s1'] },
    });
    const res = await call('POST', '/collect', {
      cluster,
      namespace: ns,
      pods: ['web-1'],
      include_init_containers: true,
    });
    t.equal(res.status, 202, JSON.stringify(res.body));
    t.equal(res.body['pods'], 1);
    const job = await finished(res.body['job_id']);
    t.equal(job.status, 'succeeded', JSON.stringify(job));
    t.equal(job.result.pods_done, 1);
    t.equal(job.result.lines, 5);
    const stored = await stack.stored(ns);
    t.same(
      stored.map((r) => `${r.container}:${r.message}`).sort(),
      ['app:a1', 'app:{"level":"error","msg":"a2"}', 'app:a3', 'setup:init done', 'side:s1'].sort(),
    );
    t.equal(stored[0]!.labels['k8s-logs.io/source'], 'api');
    t.equal(stored[0]!.labels['k8s-logs.io/collect-job'], res.body['job_id']);
    t.equal(stored[0]!.labels['app'], 'web');
    t.equal(stored.find((r) => r.message.startsWith('{'))!['level'], 'error');
    // Found by the logs API, by the source label.
    const found = await call(
      'GET',
      `/?namespace=${ns}&labels=${encodeURIComponent('k8s-logs.io/source=api')}&start=now-1h`,
    );
    t.equal(found.status, 200, JSON.stringify(found.body));
    t.equal(found.body['logs'].length, 5);

    // A re-run stores nothing twice (same ids); tail_lines and previous are passed on.
    const again = await call('POST', '/collect', {
      cluster,
      namespace: ns,
      label_selector: 'app=web',
      tail_lines: 2,
      containers: ['app'],
    });
    t.equal(again.status, 202);
    t.equal((await finished(again.body['job_id'])).result.lines, 2);
    t.equal((await stack.stored(ns)).length, 5, 'no duplicates after a re-run');
    await driver.restartContainer(ns, 'web-1', 'app');
    driver.appendLog(ns, 'web-1', 'app', 'new instance');
    const prev = await call('POST', '/collect', {
      cluster,
      namespace: ns,
      pods: ['web-1'],
      containers: ['app'],
      previous: true,
    });
    const prevJob = await finished(prev.body['job_id']);
    t.equal(prevJob.status, 'succeeded', JSON.stringify(prevJob));
    // What `previous` stores is the prior instance's lines (read again: the same ids as the
    // first job stored for them), not the new instance's.
    t.equal(prevJob.result.lines, 3, 'the three lines of the prior instance');
    const afterPrev = await stack.stored(ns);
    t.same(
      afterPrev
        .filter((r) => r.container === 'app')
        .map((r) => r.message)
        .sort(),
      ['a1', 'a3', '{"level":"error","msg":"a2"}'].sort(),
      'the prior instance, exactly once; nothing of the new one',
    );
    t.equal(afterPrev.length, 5);
    const q = kubelet.requests.filter((r) => r.path.endsWith('/web-1/app'));
    t.equal(q.at(-1)!.query['previous'], 'true');
    t.equal(q.find((r) => r.query['tailLines'])?.query['tailLines'], '2');
  },
);

t.test(
  'bulk over 200 pods stays within its concurrency cap; excluded and failing pods do not fail the job',
  async (t) => {
    const ns = await kube.namespace('bulk');
    const names = Array.from({ length: 200 }, (_, i) => `p-${String(i).padStart(3, '0')}`);
    const made = Date.now();
    for (let i = 0; i < names.length; i += 100) {
      await Promise.all(
        names.slice(i, i + 100).map((name) =>
          driver.addPod({
            namespace: ns,
            name,
            nodeName: kube.node,
            labels: { tier: 'bulk' },
            ...(name === 'p-007' ? { annotations: { 'k8s-logs.io/exclude': 'true' } } : {}),
            logs: { main: [`hello from ${name}`] },
          }),
        ),
      );
    }
    t.comment(`200 pods created in ${Date.now() - made} ms`);
    // One pod's reads fail (the kubelet answers 500 every time); every read takes a while, so
    // reads would pile up without the cap.
    kubelet.injectFault({
      match: { namespace: ns, pod: 'p-009' },
      fault: { kind: 'status', status: 500, message: 'kubelet is sick' },
      times: Infinity,
    });
    kubelet.injectFault({ match: { namespace: ns }, fault: { kind: 'delay', ms: 40 }, times: Infinity });
    kubelet.resetPeak();
    const res = await call('POST', '/collect/bulk', { cluster, namespace: ns, concurrency: 4 });
    t.equal(res.status, 202, JSON.stringify(res.body));
    t.equal(res.body['pods'], 200);
    const ran = Date.now();
    const job = await finished(res.body['job_id'], 60_000);
    t.comment(`bulk job ran in ${Date.now() - ran} ms`);
    kubelet.clearFaults();
    t.equal(job.status, 'succeeded', JSON.stringify(job.error));
    t.ok(kubelet.peakActiveRequests <= 4, `at most 4 reads at once at the kubelet (saw ${kubelet.peakActiveRequests})`);
    t.ok(kubelet.peakActiveRequests >= 2, 'reads did run concurrently');
    t.equal(job.result.pods_total, 200);
    t.equal(job.result.pods_excluded, 1);
    t.same(job.result.excluded, [{ pod: `${ns}/p-007`, container: 'main', reason: 'excluded_by_annotation' }]);
    t.equal(job.result.pods_failed, 1, 'the failing pod fails alone');
    t.equal(job.result.pods_done, 198);
    t.match(job.progress.pods[`${ns}/p-009`].containers.main.error, /HTTP 5\d\d/);
    const stored = await stack.stored(ns);
    t.equal(stored.length, 198);
  },
);

t.test('a namespace disabled by the collection config is not collected, and the result says so', async (t) => {
  const ns = await kube.namespace('off');
  await driver.addPod({ namespace: ns, name: 'quiet', nodeName: kube.node, logs: { main: ['x'] } });
  const off = await call('POST', '/config/disable', { cluster, namespace: ns });
  t.ok(off.status < 300, JSON.stringify(off.body));
  const res = await call('POST', '/collect', { cluster, namespace: ns, pods: ['quiet'] });
  const job = await finished(res.body['job_id']);
  t.equal(job.status, 'succeeded');
  t.equal(job.result.lines, 0);
  t.same(job.result.excluded_namespaces, { [ns]: 'excluded_by_config' });
  t.equal((await stack.stored(ns)).length, 0);
});

t.test('cancel stops a continuous job streaming within seconds', async (t) => {
  const ns = await kube.namespace('cancel');
  await driver.addPod({ namespace: ns, name: 'tailed', nodeName: kube.node, logs: { main: ['first'] } });
  const res = await call('POST', '/collect/continuous', { cluster, namespace: ns });
  t.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body['job_id'];
  await waitFor(() => kubelet.followers(ns, 'tailed') === 1, { what: 'the job follows the pod', timeoutMs: 20_000 });
  const del = await call('DELETE', `/collect/jobs?id=${id}`);
  t.equal(del.status, 200, JSON.stringify(del.body));
  t.equal(del.body['cancel_requested'], true);
  await waitFor(() => kubelet.followers(ns, 'tailed') === 0, {
    what: 'the follow stream closed after cancel',
    timeoutMs: 5000,
  });
  t.equal((await finished(id, 10_000)).status, 'cancelled');
  // The job is read by id (realtime) above; a list is a search, which sees the outcome once
  // the store's refresh that the runner waits for has happened — moments later.
  await waitFor(
    async () => {
      const listed = await call('GET', `/collect/jobs?type=continuous&status=cancelled&cluster=${cluster}`);
      return listed.body['jobs'].some((j: { id: string }) => j.id === id);
    },
    { what: 'the cancelled job listed by status', timeoutMs: 15_000 },
  );
  t.pass('listed as cancelled');
});

t.test('bad input gives 4xx envelopes', async (t) => {
  const ns = await kube.namespace('bad');
  await driver.addPod({ namespace: ns, name: 'there', nodeName: kube.node });
  const noApi = await call('POST', '/clusters/configs', { id: `${cluster}-noapi`, name: 'no api' });
  t.equal(noApi.status, 201, JSON.stringify(noApi.body));
  const cases: Array<[string, string, unknown, number, string]> = [
    ['unknown cluster', '/collect', { cluster: 'nope', namespace: ns, pods: ['there'] }, 404, 'not_found'],
    [
      'cluster without API',
      '/collect',
      { cluster: `${cluster}-noapi`, namespace: ns, pods: ['there'] },
      409,
      'cluster_not_connected',
    ],
    ['unknown pod', '/collect', { cluster, namespace: ns, pods: ['there', 'ghost'] }, 404, 'not_found'],
    ['unknown namespace', '/collect/continuous', { cluster, namespace: 'no-such-ns-x' }, 404, 'not_found'],
    ['invalid selector', '/collect/bulk', { cluster, label_selector: 'app in (' }, 400, 'invalid_request'],
    [
      'two windows',
      '/collect',
      { cluster, namespace: ns, pods: ['there'], since_seconds: 5, since_time: '2026-01-01T00:00:00Z' },
      400,
      'invalid_request',
    ],
    [
      'bad since_time',
      '/collect',
      { cluster, namespace: ns, pods: ['there'], since_time: 'yesterday' },
      400,
      'invalid_request',
    ],
    ['no selection', '/collect', { cluster, namespace: ns }, 400, 'invalid_request'],
    ['unknown field', '/collect/bulk', { cluster, frobnicate: 1 }, 400, 'invalid_request'],
  ];
  for (const [what, path, body, status, code] of cases) {
    const res = await call('POST', path, body);
    t.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    t.equal(res.body?.error?.code, code, what);
  }
  const reader = await stack.token({ name: 'reader', scopes: ['logs:read'] });
  t.equal(
    (await call('POST', '/collect', { cluster, namespace: ns, pods: ['there'] }, reader)).status,
    403,
    'logs:read is not enough',
  );
  const other = await stack.token({ name: 'other ns', scopes: ['logs:write'], namespaces: ['elsewhere'] });
  const denied = await call('POST', '/collect', { cluster, namespace: ns, pods: ['there'] }, other);
  t.equal(denied.status, 403, 'a namespace-restricted token collects only from its namespaces');
  t.equal((await call('GET', '/collect/jobs', undefined, other)).body['jobs'].length, 0, 'and sees no other job');
  t.equal((await call('GET', '/collect/jobs?id=nope')).status, 404);
});

t.test(
  'a bulk by a namespace-restricted token covers its namespaces only, also when the cluster lacks one',
  async (t) => {
    const mine = await kube.namespace('mine');
    const theirs = await kube.namespace('theirs');
    for (const ns of [mine, theirs])
      await driver.addPod({
        namespace: ns,
        name: 'scoped',
        nodeName: kube.node,
        labels: { scope: 'bulk' },
        logs: { main: [`from ${ns}`] },
      });
    const token = await stack.token({
      name: 'two ns',
      scopes: ['logs:write'],
      namespaces: [mine, 'not-in-this-cluster'],
    });
    const res = await call('POST', '/collect/bulk', { cluster, label_selector: 'scope=bulk' }, token);
    t.equal(res.status, 202, JSON.stringify(res.body));
    t.equal(res.body['pods'], 1, 'only the pod of its namespace');
    const job = await finished(res.body['job_id']);
    t.equal(job.status, 'succeeded', JSON.stringify(job));
    t.same(job.params.namespaces, [mine, 'not-in-this-cluster']);
    t.equal(job.result.pods_done, 1);
    t.same(
      (await stack.stored(mine)).map((r) => r.message),
      [`from ${mine}`],
    );
    t.same(await stack.stored(theirs), [], 'nothing from a namespace outside the token');
    const listed = await call('GET', '/collect/jobs?type=bulk', undefined, token);
    t.ok(
      listed.body['jobs'].some((j: { id: string }) => j.id === res.body['job_id']),
      'the token sees its job',
    );
    t.equal(
      (await call('POST', '/collect/bulk', { cluster, namespace: theirs }, token)).status,
      403,
      'naming a namespace outside the token is refused',
    );
  },
);

t.test('limits: too many continuous jobs is a 409, streams beyond the cluster budget a 429', async (t) => {
  const ns = await kube.namespace('limits');
  await driver.addPod({ namespace: ns, name: 'one', nodeName: kube.node, containers: ['a', 'b'] });
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const ok = await call('POST', '/collect/continuous', { cluster, namespace: ns });
    t.equal(ok.status, 202, JSON.stringify(ok.body));
    ids.push(ok.body['job_id']);
  }
  const third = await call('POST', '/collect/continuous', { cluster, namespace: ns });
  t.equal(third.status, 409);
  t.equal(third.body.error.code, 'too_many_continuous_collections');
  // 2 × 2 streams reserved of 12: a bulk reading 10 at once does not fit.
  const bulk = await call('POST', '/collect/bulk', { cluster, namespace: ns, concurrency: 10 });
  t.equal(bulk.status, 429, JSON.stringify(bulk.body));
  t.equal(bulk.body.error.code, 'collect_streams_exhausted');
  t.ok(bulk.headers.get('retry-after'));
  for (const id of ids) await call('DELETE', `/collect/jobs?id=${id}`);
  for (const id of ids) t.equal((await finished(id)).status, 'cancelled');
  const fits = await call('POST', '/collect/bulk', { cluster, namespace: ns, concurrency: 10 });
  t.equal(fits.status, 202, 'fits once they are cancelled');
  await finished(fits.body['job_id']);
});

t.test('GET /collect/jobs: each filter leaves other jobs out, and the list pages by cursor', async (t) => {
  const ns = await kube.namespace('listing');
  await driver.addPod({ namespace: ns, name: 'p', nodeName: kube.node, logs: { main: ['x'] } });
  const mine: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await call('POST', '/collect', { cluster, namespace: ns, pods: ['p'] });
    t.equal(res.status, 202, JSON.stringify(res.body));
    mine.push(res.body['job_id']);
    t.equal((await finished(res.body['job_id'])).status, 'succeeded');
  }
  type Listed = { id: string; type: string; status: string; params: Record<string, unknown> };
  const list = async (query: string): Promise<Listed[]> => {
    const res = await call('GET', `/collect/jobs?${query}`);
    t.equal(res.status, 200, `${query}: ${JSON.stringify(res.body)}`);
    return res.body['jobs'];
  };
  // A list is a search: it sees the three once the store has refreshed.
  const oneTime = await waitFor(
    async () => {
      const jobs = await list('type=one-time&status=succeeded&limit=100');
      return mine.every((id) => jobs.some((j) => j.id === id)) ? jobs : undefined;
    },
    { what: 'the three one-time jobs listed', timeoutMs: 15_000 },
  );
  t.ok(
    oneTime.every((j) => j.type === 'collect' && j.status === 'succeeded' && j.params['cluster'] === cluster),
    'type=one-time&status=succeeded lists only such jobs',
  );
  const all = await list('limit=100');
  const types = new Set(all.map((j) => j.type));
  t.ok(types.size >= 3, `the file's jobs span every kind (${[...types].join(', ')})`);
  const bulk = await list('type=bulk&limit=100');
  t.ok(bulk.length > 0 && bulk.every((j) => !mine.includes(j.id)), 'type=bulk leaves the one-time jobs out');
  t.equal(new Set(bulk.map((j) => j.type)).size, 1, 'type=bulk lists one job type');
  const cancelled = await list('status=cancelled&limit=100');
  t.ok(cancelled.length > 0, 'the cancelled jobs of the earlier tests are listed');
  t.ok(
    cancelled.every((j) => j.status === 'cancelled' && !mine.includes(j.id)),
    'status=cancelled leaves the rest out',
  );
  t.same(await list('cluster=some-other-cluster&limit=100'), [], 'a cluster with no jobs lists none');
  t.equal((await list(`cluster=${cluster}&limit=100`)).length, all.length, "this cluster's filter keeps them all");

  // limit=1 pages through the same jobs, newest first, once each.
  const paged: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await call(
      'GET',
      `/collect/jobs?type=one-time&status=succeeded&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
    );
    t.equal(res.status, 200, JSON.stringify(res.body));
    t.ok(res.body['jobs'].length <= 1);
    paged.push(...res.body['jobs'].map((j: Listed) => j.id));
    cursor = res.body['has_more'] ? res.body['next_cursor'] : null;
  } while (cursor && paged.length <= oneTime.length);
  t.same(
    paged,
    oneTime.map((j) => j.id),
    'limit=1 pages give the same jobs in the same order',
  );
  t.equal(new Set(paged).size, paged.length, 'no job on two pages');
  const first = await call('GET', '/collect/jobs?type=one-time&status=succeeded&limit=1');
  const replayed = await call('GET', `/collect/jobs?type=bulk&limit=1&cursor=${first.body['next_cursor']}`);
  t.equal(replayed.status, 400, 'a cursor replayed with other filters is refused');
});
