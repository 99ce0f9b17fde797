// A continuous collection through the real kube-apiserver into the shared OpenSearch
// survives what the API does to follow streams — 20 forced cuts (connection resets,
// rotations, clean EOFs after which the whole log is read again, a cut in the middle of a
// line on reconnect), a container restart while the
// stream was down (the previous instance's missing tail is read once), an aggregator
// restart (another runner resumes from the persisted positions) — and a pod that starts
// matching later is picked up: every line is stored exactly once, compared by content.
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

t.test('every line exactly once across 20 stream cuts, a container restart and an aggregator restart', async (t) => {
  const ns = await kube.namespace('follow');
  const expected: string[] = [];
  const write = (pod: string, text: string, time?: bigint) => {
    driver.appendLog(ns, pod, 'main', text, time);
    expected.push(`${pod}:${text}`);
  };
  await driver.addPod({ namespace: ns, name: 'api-0', nodeName: kube.node, labels: { app: 'api' } });
  write('api-0', 'before the job');
  const res = await call('POST', '/collect/continuous', { cluster, namespace: ns, label_selector: 'app=api' });
  t.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body['job_id'];
  const storedLines = async () => (await stack.job(id)).progress?.lines ?? 0;
  const allStored = (what: string) =>
    waitForValue(storedLines, (n) => n >= expected.length, {
      what: `${what}: ${expected.length} lines stored`,
      timeoutMs: 20_000,
      intervalMs: 50,
    });
  const follows = () =>
    kubelet.requests.filter((r) => r.path.endsWith('/api-0/main') && r.query['follow'] === 'true').length;
  await waitFor(() => kubelet.followers(ns, 'api-0') === 1, { what: 'the job follows api-0', timeoutMs: 20_000 });
  await allStored('first line');

  let n = 0;
  for (let cut = 0; cut < 20; cut++) {
    // Several lines per round, three of them at one nanosecond timestamp (positions matter).
    const same = BigInt(Date.now()) * 1_000_000n + BigInt(cut);
    for (let j = 0; j < 3; j++) write('api-0', `round ${cut} same-ts ${j}`, same);
    write('api-0', `round ${cut} line ${n++}`);
    await allStored(`round ${cut}`);
    const before = follows();
    if (cut % 3 === 0) {
      kubelet.rotateLog(ns, 'api-0', 'main');
    } else if (cut % 3 === 1) {
      // A clean EOF (idle or request timeout): the reconnect reads the whole log again.
      kubelet.endFollows(ns, 'api-0', 'main');
    } else {
      // Reset every connection; the first reconnect is cut again 30 bytes into the replay.
      kubelet.injectFault({ match: { pod: 'api-0', follow: true }, fault: { kind: 'cut', afterBytes: 30 } });
      await kubelet.refuse(true);
      write('api-0', `while down ${cut}`);
      await kubelet.refuse(false);
    }
    await waitFor(() => follows() > before && kubelet.followers(ns, 'api-0') === 1, {
      what: `reconnected after cut ${cut}`,
      timeoutMs: 20_000,
    });
  }
  await allStored('after 20 cuts');

  // Restart while the stream is down: lines of the old instance after the cut, then of the new one.
  await kubelet.refuse(true);
  write('api-0', 'old instance tail 1');
  write('api-0', 'old instance tail 2');
  await driver.restartContainer(ns, 'api-0', 'main');
  write('api-0', 'new instance 1');
  await kubelet.refuse(false);
  await allStored('after the restart');
  const previousReads = kubelet.requests.filter(
    (r) => r.path.endsWith('/api-0/main') && r.query['previous'] === 'true',
  );
  t.equal(previousReads.length, 1, 'the previous instance was read once');

  // Aggregator restart: lines written while no aggregator runs are collected by the next one.
  await stack.restart();
  write('api-0', 'while the aggregator was down');
  await driver.addPod({ namespace: ns, name: 'api-1', nodeName: kube.node, labels: { app: 'api' }, logs: {} });
  write('api-1', 'a pod that started matching later');
  write('api-0', 'after the restart');
  await allStored('after the aggregator restart');

  const stored = await waitForValue(
    () => stack.stored(ns),
    (s) => s.length >= expected.length,
    { what: 'lines searchable', timeoutMs: 10_000 },
  );
  const got = stored.map((r) => `${r.pod}:${r.message}`);
  t.same(got.slice().sort(), expected.slice().sort(), 'every line once, nothing else');
  t.equal(new Set(stored.map((r) => r.id)).size, stored.length, 'ids are unique');
  t.ok(follows() >= 21, `at least 21 follow requests (${follows()})`);
  const job = await stack.job(id);
  t.equal(job.status, 'running');
  t.ok(job.attempts >= 2, 'resumed by the restarted aggregator');
  t.equal(job.progress.pods[`${ns}/api-1`].status, 'running');
  await call('DELETE', `/collect/jobs?id=${id}`);
  await waitFor(() => kubelet.followers(ns, 'api-0') + kubelet.followers(ns, 'api-1') === 0, {
    what: 'streams closed after cancel',
    timeoutMs: 10_000,
  });
});
