// A continuous collection's pod watch and its end, through the real kube-apiserver (pods/log
// proxied to the fake kubelet) into the shared OpenSearch: pods created while the job runs,
// and pods relabelled to match, are followed from their first line; pods outside the
// selector never are; a deleted pod's container ends `gone`; `end_time` ends the job by
// itself (succeeded, containers done, streams closed), also when it lies beyond the
// ~24.8 days a single timer can wait; the collection config and the namespace's exclusion
// annotation apply while it runs.
import t from 'tap';
import { collectStack } from './collect-fixture.ts';
import { waitFor, waitForValue } from '../../helpers/wait-for.ts';

const stack = await collectStack(t);
if (!stack) {
  t.comment('skipped: needs the fake kubelet');
  process.exit(0);
}
const { kube, cluster, call } = stack;
const driver = kube.driver;
const kubelet = kube.kubelet!;

const progressOf = async (id: string) => (await stack.job(id)).progress ?? { lines: 0, pods: {} };
const linesStored = (id: string, n: number, what: string) =>
  waitForValue(
    async () => (await progressOf(id)).lines as number,
    (v) => v >= n,
    { what: `${what}: ${n} lines stored`, timeoutMs: 20_000, intervalMs: 50 },
  );
const finished = (id: string, timeoutMs?: number) => stack.finished(id, timeoutMs);

t.test(
  'the watch picks up pods created or relabelled later; others are not read; a deleted pod ends gone',
  async (t) => {
    const ns = await kube.namespace('watch');
    await driver.addPod({
      namespace: ns,
      name: 'web-0',
      nodeName: kube.node,
      labels: { app: 'web' },
      logs: { main: ['web-0 first'] },
    });
    const res = await call('POST', '/collect/continuous', { cluster, namespace: ns, label_selector: 'app=web' });
    t.equal(res.status, 202, JSON.stringify(res.body));
    t.equal(res.body['pods'], 1);
    const id = res.body['job_id'];
    await waitFor(() => kubelet.followers(ns, 'web-0') === 1, { what: 'web-0 followed', timeoutMs: 20_000 });
    await linesStored(id, 1, 'web-0');

    // Created while the job runs: from its first line (written before the job saw the pod).
    await driver.addPod({
      namespace: ns,
      name: 'web-1',
      nodeName: kube.node,
      labels: { app: 'web' },
      logs: { main: ['web-1 first'] },
    });
    await waitFor(() => kubelet.followers(ns, 'web-1') === 1, { what: 'web-1 followed', timeoutMs: 20_000 });
    driver.appendLog(ns, 'web-1', 'main', 'web-1 second');
    await linesStored(id, 3, 'web-1');

    // Outside the selector, then one relabelled into it (its watch event comes after the stranger's).
    await driver.addPod({
      namespace: ns,
      name: 'stranger',
      nodeName: kube.node,
      labels: { app: 'db' },
      logs: { main: ['not ours'] },
    });
    await driver.addPod({
      namespace: ns,
      name: 'late',
      nodeName: kube.node,
      labels: { app: 'batch' },
      logs: { main: ['late first'] },
    });
    await driver.patchPod(ns, 'late', { metadata: { labels: { app: 'web' } } });
    await waitFor(() => kubelet.followers(ns, 'late') === 1, {
      what: 'the relabelled pod followed',
      timeoutMs: 20_000,
    });
    await linesStored(id, 4, 'late');
    t.notOk(
      kubelet.requests.some((r) => r.path.startsWith(`/containerLogs/${ns}/stranger/`)),
      'a pod outside the selector is never read',
    );

    await driver.deletePod(ns, 'web-1');
    await waitForValue(
      async () => (await progressOf(id)).pods[`${ns}/web-1`]?.status,
      (s) => s === 'gone',
      { what: 'the deleted pod gone in the progress', timeoutMs: 20_000, intervalMs: 100 },
    );
    t.equal((await progressOf(id)).pods[`${ns}/web-0`].status, 'running', 'the others are still followed');

    const stored = await stack.stored(ns);
    t.same(stored.map((r) => `${r.pod}:${r.message}`).sort(), [
      'late:late first',
      'web-0:web-0 first',
      'web-1:web-1 first',
      'web-1:web-1 second',
    ]);
    await call('DELETE', `/collect/jobs?id=${id}`);
    t.equal((await finished(id)).status, 'cancelled');
  },
);

t.test('end_time ends the job by itself: succeeded, containers done, streams closed', async (t) => {
  const ns = await kube.namespace('ends');
  await driver.addPod({ namespace: ns, name: 'e-0', nodeName: kube.node, logs: { main: ['e first'] } });
  const end = new Date(Date.now() + 25_000).toISOString();
  const res = await call('POST', '/collect/continuous', { cluster, namespace: ns, end_time: end });
  t.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body['job_id'];
  await linesStored(id, 1, 'before the end');
  driver.appendLog(ns, 'e-0', 'main', 'e second');
  await linesStored(id, 2, 'still following');
  // Stamped after end_time (a clock ahead, or a line read late): not the job's. The line
  // after it shows the stream delivered it before the end.
  driver.appendLog(ns, 'e-0', 'main', 'e from after the end', new Date(Date.parse(end) + 3_600_000));
  driver.appendLog(ns, 'e-0', 'main', 'e third');
  await linesStored(id, 3, 'the line after the late one');
  const job = await finished(id, 60_000);
  t.equal(job.status, 'succeeded', JSON.stringify(job));
  t.ok(Date.parse(job.finished_at) >= Date.parse(end), `ended at ${job.finished_at}, not before ${end}`);
  t.equal(job.progress.pods[`${ns}/e-0`].containers.main.status, 'done');
  t.equal(job.result.pods_done, 1);
  t.equal(job.result.lines, 3, 'the line stamped after end_time is not stored');
  await waitFor(() => kubelet.followers(ns, 'e-0') === 0, { what: 'the stream closed at the end', timeoutMs: 5000 });
});

t.test('an end_time 40 days ahead (beyond one timer) does not end the job at once', async (t) => {
  const ns = await kube.namespace('far');
  await driver.addPod({ namespace: ns, name: 'f-0', nodeName: kube.node, logs: { main: ['f first'] } });
  const end = new Date(Date.now() + 40 * 86_400_000).toISOString();
  const res = await call('POST', '/collect/continuous', { cluster, namespace: ns, end_time: end });
  t.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body['job_id'];
  await linesStored(id, 1, 'the first line');
  driver.appendLog(ns, 'f-0', 'main', 'f second');
  await linesStored(id, 2, 'still following');
  t.equal((await stack.job(id)).status, 'running');
  await call('DELETE', `/collect/jobs?id=${id}`);
  t.equal((await finished(id)).status, 'cancelled');
});

t.test(
  'a namespace annotated out while the job runs stops being followed, and resumes when the annotation goes',
  async (t) => {
    const ns = await kube.namespace('annot');
    await driver.addPod({ namespace: ns, name: 'a-0', nodeName: kube.node, logs: { main: ['before'] } });
    const res = await call('POST', '/collect/continuous', { cluster, namespace: ns });
    t.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body['job_id'];
    await waitFor(() => kubelet.followers(ns, 'a-0') === 1, { what: 'a-0 followed', timeoutMs: 20_000 });
    await linesStored(id, 1, 'before');

    const annotate = (value: string | null) =>
      driver.api.patch(`/api/v1/namespaces/${ns}`, { metadata: { annotations: { 'k8s-logs.io/exclude': value } } });
    await annotate('true');
    await waitFor(() => kubelet.followers(ns, 'a-0') === 0, { what: 'the follow stopped', timeoutMs: 20_000 });
    const excluded = await waitForValue(
      () => progressOf(id),
      (p) => p.pods[`${ns}/a-0`]?.containers?.main?.status === 'excluded',
      { what: 'the container excluded in the progress', timeoutMs: 20_000, intervalMs: 100 },
    );
    t.equal(excluded.pods[`${ns}/a-0`].containers.main.reason, 'excluded_by_annotation');
    t.equal((await stack.job(id)).status, 'running', 'the job goes on');

    await annotate(null);
    await waitFor(() => kubelet.followers(ns, 'a-0') === 1, { what: 'followed again', timeoutMs: 20_000 });
    driver.appendLog(ns, 'a-0', 'main', 'after');
    await linesStored(id, 2, 'after');
    t.same(
      (await stack.stored(ns)).map((r) => r.message),
      ['before', 'after'],
      'resumed from its position: nothing twice',
    );
    await call('DELETE', `/collect/jobs?id=${id}`);
    t.equal((await finished(id)).status, 'cancelled');
  },
);

t.test(
  'a namespace disabled by the collection config while the job runs stops being followed, and resumes when enabled',
  async (t) => {
    const ns = await kube.namespace('toggle');
    await driver.addPod({ namespace: ns, name: 't-0', nodeName: kube.node, logs: { main: ['before'] } });
    const res = await call('POST', '/collect/continuous', { cluster, namespace: ns });
    t.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body['job_id'];
    await waitFor(() => kubelet.followers(ns, 't-0') === 1, { what: 't-0 followed', timeoutMs: 20_000 });
    await linesStored(id, 1, 'before');

    const off = await call('POST', '/config/disable', { cluster, namespace: ns });
    t.ok(off.status < 300, JSON.stringify(off.body));
    await waitFor(() => kubelet.followers(ns, 't-0') === 0, { what: 'the follow stopped', timeoutMs: 20_000 });
    const excluded = await waitForValue(
      () => progressOf(id),
      (p) => p.pods[`${ns}/t-0`]?.containers?.main?.status === 'excluded',
      { what: 'the container excluded in the progress', timeoutMs: 20_000, intervalMs: 100 },
    );
    t.same(excluded.excluded_namespaces, { [ns]: 'excluded_by_config' });
    t.equal((await stack.job(id)).status, 'running', 'the job goes on');

    const on = await call('DELETE', `/config?id=${encodeURIComponent(`${cluster}:${ns}`)}`);
    t.ok(on.status < 300, JSON.stringify(on.body));
    await waitFor(() => kubelet.followers(ns, 't-0') === 1, { what: 'followed again', timeoutMs: 20_000 });
    driver.appendLog(ns, 't-0', 'main', 'after');
    await linesStored(id, 2, 'after');
    // The progress is persisted by a checkpointer (at most every interval while it changed):
    // wait for the checkpoint that holds the re-admitted state.
    const back = await waitForValue(
      () => progressOf(id),
      (p) => Object.keys(p.excluded_namespaces ?? {}).length === 0,
      { what: 'the namespace no longer listed as excluded', timeoutMs: 20_000, intervalMs: 100 },
    );
    t.equal(back.pods[`${ns}/t-0`].containers.main.status, 'running');
    t.same(back.excluded_namespaces, {}, 'no longer listed as excluded');
    t.same(
      (await stack.stored(ns)).map((r) => r.message),
      ['before', 'after'],
      'resumed from its position: nothing twice',
    );
    await call('DELETE', `/collect/jobs?id=${id}`);
    t.equal((await finished(id)).status, 'cancelled');
  },
);
