// A continuous collection survives its cluster's kube-apiserver going away and coming back
// (an API server of this test's own, on the shared etcd): the follow streams and the pod
// watch end with it, the job keeps retrying, and once the API server is back it resumes
// every container from its last stored line and picks up a pod created while it was down.
// Every line is stored exactly once, compared by content.
import t from 'tap';
import { collectStack } from './collect-fixture.ts';
import { waitFor, waitForValue } from '../../helpers/wait-for.ts';

const stack = await collectStack(t, {}, { private: true });
if (!stack) {
  t.comment('skipped: needs an API server of its own and the fake kubelet');
  process.exit(0);
}
const { kube, cluster, call } = stack;
const driver = kube.driver;
const kubelet = kube.kubelet!;
const apiServer = kube.apiServer!;

t.test('every line exactly once across two API server restarts', async (t) => {
  const ns = await kube.namespace('apirestart');
  const expected: string[] = [];
  const write = (pod: string, text: string) => {
    driver.appendLog(ns, pod, 'main', text);
    expected.push(`${pod}:${text}`);
  };
  await driver.addPod({ namespace: ns, name: 'a-0', nodeName: kube.node, labels: { app: 'a' } });
  write('a-0', 'before the job');
  const res = await call('POST', '/collect/continuous', { cluster, namespace: ns, label_selector: 'app=a' });
  t.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body['job_id'];
  const allStored = (what: string) =>
    waitForValue(
      async () => (await stack.job(id)).progress?.lines ?? 0,
      (n) => n >= expected.length,
      { what: `${what}: ${expected.length} lines stored`, timeoutMs: 30_000, intervalMs: 50 },
    );
  const follows = () =>
    kubelet.requests.filter((r) => r.path === `/containerLogs/${ns}/a-0/main` && r.query['follow'] === 'true').length;
  await waitFor(() => kubelet.followers(ns, 'a-0') === 1, { what: 'a-0 followed', timeoutMs: 20_000 });
  write('a-0', 'while followed');
  await allStored('before the restart');

  for (let round = 0; round < 2; round++) {
    const before = follows();
    await apiServer.stop();
    await waitFor(() => kubelet.followers(ns, 'a-0') === 0, {
      what: `the proxied follow ended with the API server (round ${round})`,
      timeoutMs: 20_000,
    });
    write('a-0', `while the API server was down ${round}`);
    await apiServer.start();
    write('a-0', `after the API server came back ${round}`);
    await waitFor(() => follows() > before && kubelet.followers(ns, 'a-0') === 1, {
      what: `followed again after restart ${round}`,
      timeoutMs: 30_000,
    });
    await allStored(`after restart ${round}`);
  }

  // The pod watch came back too: a pod created now is followed.
  await driver.addPod({ namespace: ns, name: 'a-1', nodeName: kube.node, labels: { app: 'a' }, logs: {} });
  write('a-1', 'a pod created after the restarts');
  await waitFor(() => kubelet.followers(ns, 'a-1') === 1, { what: 'a-1 followed', timeoutMs: 30_000 });
  await allStored('a-1');

  const stored = await waitForValue(
    () => stack.stored(ns),
    (s) => s.length >= expected.length,
    { what: 'lines searchable', timeoutMs: 10_000 },
  );
  t.same(stored.map((r) => `${r.pod}:${r.message}`).sort(), expected.slice().sort(), 'every line once, nothing else');
  const job = await stack.job(id);
  t.equal(job.status, 'running');
  t.equal(job.attempts, 1, 'the same run survived (no job restart)');
  await call('DELETE', `/collect/jobs?id=${id}`);
  await waitFor(() => kubelet.followers(ns, 'a-0') + kubelet.followers(ns, 'a-1') === 0, {
    what: 'streams closed after cancel',
    timeoutMs: 10_000,
  });
});
