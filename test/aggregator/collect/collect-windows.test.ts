// One-time collection windows through the real kube-apiserver (pods/log proxied to the fake
// kubelet) into the shared OpenSearch: `since_time` inside a second (the API server forwards
// whole seconds; the lines before the instant are not stored), `since_seconds`, `limit_bytes`
// (the cut last line is kept), init containers only on request, exclusion annotations, the
// stored lines found by `POST /search` and LogQL through their source and job labels; and the
// endpoints' /docs and rate classes.
import t from 'tap';
import { collectStack } from './collect-fixture.ts';

// Distinct limits per class, high enough never to be reached: the headers show each request's class.
const stack = await collectStack(t, { K8S_LOGS_RATE_LIMIT_HEAVY: '1000', K8S_LOGS_RATE_LIMIT_STANDARD: '100000' });
if (!stack) {
  t.comment('skipped: needs the fake kubelet');
  process.exit(0);
}
const { kube, cluster, call } = stack;
const driver = kube.driver;
const kubelet = kube.kubelet!;

const finished = (id: string, timeoutMs?: number) => stack.finished(id, timeoutMs);

const SECOND = 1_000_000_000n;
const iso = (ns: bigint) =>
  `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19)}.${String(ns % SECOND).padStart(9, '0')}Z`;

t.test(
  'since_time inside a second, then since_seconds: each window exactly, default containers without init, found by /search and LogQL',
  async (t) => {
    const ns = await kube.namespace('window');
    await driver.addPod({
      namespace: ns,
      name: 'win-0',
      nodeName: kube.node,
      containers: ['app'],
      initContainers: ['setup'],
      logs: { setup: ['init line'] },
    });
    const now = BigInt(Date.now()) * 1_000_000n;
    const s = (now / SECOND - 10n) * SECOND; // a whole second, 10 s ago
    const lines: Array<[string, bigint]> = [
      ['two hours ago', now - 7200n * SECOND],
      ['at .2', s + 200_000_000n],
      ['at .5', s + 500_000_000n],
      ['at .8', s + 800_000_000n],
      ['two seconds later', s + 2n * SECOND],
    ];
    for (const [text, time] of lines) driver.appendLog(ns, 'win-0', 'app', text, time);

    const a = await call('POST', '/collect', {
      cluster,
      namespace: ns,
      pods: ['win-0'],
      since_time: iso(s + 500_000_000n),
    });
    t.equal(a.status, 202, JSON.stringify(a.body));
    const jobA = await finished(a.body['job_id']);
    t.equal(jobA.status, 'succeeded', JSON.stringify(jobA));
    t.equal(jobA.result.lines, 3, 'the lines at or after the instant, not the rest of its second');
    const reads = kubelet.requests.filter((r) => r.path === `/containerLogs/${ns}/win-0/app`);
    t.equal(reads.at(-1)?.query['sinceTime'], iso(s).replace('.000000000', ''), 'the kubelet got the whole second');
    t.notOk(
      kubelet.requests.some((r) => r.path === `/containerLogs/${ns}/win-0/setup`),
      'init containers are not read by default',
    );
    let stored = await stack.stored(ns);
    t.same(
      stored.map((r) => `${r.container}:${r.message}`),
      ['app:at .5', 'app:at .8', 'app:two seconds later'],
    );

    const b = await call('POST', '/collect', { cluster, namespace: ns, pods: ['win-0'], since_seconds: 3600 });
    const jobB = await finished(b.body['job_id']);
    t.equal(jobB.status, 'succeeded', JSON.stringify(jobB));
    t.equal(jobB.result.lines, 4, 'the last hour: every line but the two-hour-old one');
    stored = await stack.stored(ns);
    t.same(
      stored.map((r) => r.message),
      ['at .2', 'at .5', 'at .8', 'two seconds later'],
      'the overlap is stored once (same ids)',
    );

    // Each line keeps the job that stored it first: A's three, B's one.
    const search = await call('POST', '/search', {
      namespaces: [ns],
      labels: `k8s-logs.io/source=api,k8s-logs.io/collect-job=${a.body['job_id']}`,
      start: 'now-3h',
      sort: { order: 'asc' },
    });
    t.equal(search.status, 200, JSON.stringify(search.body));
    t.same(
      search.body['logs'].map((r: { message: string }) => r.message),
      ['at .5', 'at .8', 'two seconds later'],
      '/search finds job A by its labels',
    );
    const logql = await call('POST', '/search/logql', {
      query: `{namespace="${ns}", k8s_logs_io_source="api", k8s_logs_io_collect_job="${b.body['job_id']}"}`,
      start: 'now-3h',
    });
    t.equal(logql.status, 200, JSON.stringify(logql.body));
    t.same(
      (logql.body['result'] as Array<{ values: [string, string][] }>).flatMap((st) => st.values.map((v) => v[1])),
      ['at .2'],
      'LogQL finds job B by its labels',
    );
  },
);

t.test('limit_bytes stops each container after that many bytes and keeps the cut last line', async (t) => {
  const ns = await kube.namespace('limit');
  await driver.addPod({ namespace: ns, name: 'lim-0', nodeName: kube.node, containers: ['main', 'other'] });
  for (const text of ['aaaaaaaaaa', 'bbbbbbbbbb', 'cccccccccc']) driver.appendLog(ns, 'lim-0', 'main', text);
  for (const text of ['xxxxxxxxxx', 'yyyyyyyyyy', 'zzzzzzzzzz']) driver.appendLog(ns, 'lim-0', 'other', text);
  const raw = await driver.podLog(ns, 'lim-0', { container: 'main', timestamps: true });
  t.equal(raw.status, 200);
  const rendered = raw.text.split('\n');
  // Two whole lines, then the third line's timestamp, its space and four characters.
  const limit = rendered[0]!.length + 1 + rendered[1]!.length + 1 + rendered[2]!.indexOf(' ') + 1 + 4;
  const seen = kubelet.requests.length; // after the raw read above
  const res = await call('POST', '/collect', { cluster, namespace: ns, pods: ['lim-0'], limit_bytes: limit });
  t.equal(res.status, 202, JSON.stringify(res.body));
  const job = await finished(res.body['job_id']);
  t.equal(job.status, 'succeeded', JSON.stringify(job));
  const reads = kubelet.requests.slice(seen).filter((r) => r.path.startsWith(`/containerLogs/${ns}/lim-0/`));
  t.same(
    reads.map((r) => [r.path.split('/').at(-1), r.query['limitBytes']]).sort(),
    [
      ['main', String(limit)],
      ['other', String(limit)],
    ],
    'one read per container, limitBytes passed on',
  );
  const stored = await stack.stored(ns);
  t.same(stored.map((r) => `${r.container}:${r.message}`).sort(), [
    'main:aaaaaaaaaa',
    'main:bbbbbbbbbb',
    'main:cccc',
    'other:xxxxxxxxxx',
    'other:yyyyyyyyyy',
    'other:zzzz',
  ]);
  t.equal(job.progress.pods[`${ns}/lim-0`].containers.main.status, 'done');
});

t.test('/docs describes the collect endpoints with their bodies, answers and refusals', async (t) => {
  type Op = {
    requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
    responses?: Record<string, { content?: Record<string, { schema?: object }> }>;
    parameters?: Array<{ name: string; in: string }>;
  };
  const root = stack.api().replace(/\/v1\/k8s\/logs$/, '');
  const doc = (await (await fetch(`${root}/docs/json`)).json()) as { paths: Record<string, Record<string, Op>> };
  const endpoints: Array<[string, string, number, string[]]> = [
    [
      'post',
      '/collect',
      202,
      ['cluster', 'namespace', 'pods', 'label_selector', 'since_time', 'limit_bytes', 'previous'],
    ],
    ['post', '/collect/continuous', 202, ['cluster', 'namespace', 'label_selector', 'end_time']],
    ['post', '/collect/bulk', 202, ['cluster', 'label_selector', 'concurrency', 'tail_lines']],
    ['get', '/collect/jobs', 200, []],
    ['delete', '/collect/jobs', 200, []],
  ];
  for (const [method, path, status, fields] of endpoints) {
    const what = `${method.toUpperCase()} ${path}`;
    const op = doc.paths[`/v1/k8s/logs${path}`]?.[method];
    if (!op) {
      t.fail(`${what} is not in /docs`);
      continue;
    }
    t.ok(op.responses?.[String(status)]?.content?.['application/json']?.schema, `${what}: ${status} answer schema`);
    for (const code of ['400', '403', '404']) t.ok(op.responses?.[code], `${what}: ${code} documented`);
    const props = op.requestBody?.content?.['application/json']?.schema?.properties ?? {};
    for (const f of fields) t.ok(f in props, `${what}: body field ${f}`);
  }
  const post = doc.paths['/v1/k8s/logs/collect']!['post']!;
  t.ok(post.responses?.['409'] && post.responses['429'], 'POST /collect: 409 and 429 documented');
  const list = doc.paths['/v1/k8s/logs/collect/jobs']!['get']!;
  t.same(
    ['id', 'status', 'type', 'cluster'].filter((n) => !list.parameters?.some((p) => p.name === n && p.in === 'query')),
    [],
    'GET /collect/jobs: its filters documented',
  );
});

t.test('exclusion annotations: a namespace opted out, and containers a pod opts out, are not read', async (t) => {
  const off = await kube.namespace('optout', { annotations: { 'k8s-logs.io/exclude': 'true' } });
  await driver.addPod({ namespace: off, name: 'q-0', nodeName: kube.node, logs: { main: ['quiet'] } });
  const ns = await kube.namespace('partial');
  await driver.addPod({
    namespace: ns,
    name: 'mixed',
    nodeName: kube.node,
    containers: ['app', 'side'],
    annotations: { 'k8s-logs.io/exclude-containers': 'side' },
    logs: { app: ['kept'], side: ['dropped'] },
  });
  const a = await call('POST', '/collect', { cluster, namespace: off, pods: ['q-0'] });
  const b = await call('POST', '/collect', { cluster, namespace: ns, pods: ['mixed'] });
  const [ja, jb] = [await finished(a.body['job_id']), await finished(b.body['job_id'])];
  t.equal(ja.status, 'succeeded', JSON.stringify(ja));
  t.same(ja.result.excluded, [{ pod: `${off}/q-0`, container: 'main', reason: 'excluded_by_annotation' }]);
  t.equal(ja.result.pods_excluded, 1);
  t.equal(jb.status, 'succeeded', JSON.stringify(jb));
  t.same(jb.result.excluded, [{ pod: `${ns}/mixed`, container: 'side', reason: 'excluded_by_annotation' }]);
  t.equal(jb.result.pods_done, 1);
  t.notOk(
    kubelet.requests.some((r) => r.path.startsWith(`/containerLogs/${off}/`) || r.path.endsWith('/mixed/side')),
    'excluded containers are never requested',
  );
  t.same(await stack.stored(off), []);
  t.same(
    (await stack.stored(ns)).map((r) => `${r.container}:${r.message}`),
    ['app:kept'],
  );
});

t.test('the collect POSTs are heavy-class requests; reading and cancelling jobs are standard', async (t) => {
  const ns = await kube.namespace('rate');
  await driver.addPod({ namespace: ns, name: 'r-0', nodeName: kube.node, logs: { main: ['r'] } });
  const ids: string[] = [];
  for (const [path, body] of [
    ['/collect', { cluster, namespace: ns, pods: ['r-0'] }],
    ['/collect/continuous', { cluster, namespace: ns }],
    ['/collect/bulk', { cluster, namespace: ns }],
  ] as const) {
    const res = await call('POST', path, body);
    t.equal(res.status, 202, JSON.stringify(res.body));
    t.equal(res.headers.get('x-ratelimit-limit'), '1000', `POST ${path}: heavy`);
    ids.push(res.body['job_id']);
  }
  const list = await call('GET', '/collect/jobs');
  t.equal(list.headers.get('x-ratelimit-limit'), '100000', 'GET /collect/jobs: standard');
  const del = await call('DELETE', `/collect/jobs?id=${ids[1]}`);
  t.equal(del.status, 200);
  t.equal(del.headers.get('x-ratelimit-limit'), '100000', 'DELETE /collect/jobs: standard');
  for (const id of ids) await finished(id);
});
