import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeKubeApi, type FakeKubeApi } from '../../../dev/fake-cluster/fake-kube-api.ts';
import { createKubeClient } from '../../../agent/enrich/kube-client.ts';
import { resolveConnection, type KubeConnection } from '../../../agent/enrich/kube-connection.ts';
import {
  LineSplitter,
  ListWatch,
  relistDelta,
  requestQuery,
  type KubeObject,
  type RestartReason,
} from '../../../agent/enrich/list-watch.ts';
import { tempDir, until } from '../helpers.ts';
import { waitForValue } from '../../helpers/wait-for.ts';

t.test('LineSplitter: complete lines across chunk boundaries, multi-byte characters intact', async (t) => {
  const euro = Buffer.from('€'); // 3 bytes
  const cases: { name: string; chunks: Buffer[]; want: string[][]; pending: number }[] = [
    { name: 'one chunk, two lines', chunks: [Buffer.from('a\nb\n')], want: [['a', 'b']], pending: 0 },
    {
      name: 'line split over chunks',
      chunks: [Buffer.from('{"x":'), Buffer.from('1}\n{')],
      want: [[], ['{"x":1}']],
      pending: 1,
    },
    {
      name: 'character split over chunks',
      chunks: [
        Buffer.concat([Buffer.from('x'), euro.subarray(0, 1)]),
        Buffer.concat([euro.subarray(1), Buffer.from('\n')]),
      ],
      want: [[], ['x€']],
      pending: 0,
    },
    { name: 'empty lines skipped', chunks: [Buffer.from('\n\na\n\n')], want: [['a']], pending: 0 },
  ];
  for (const c of cases) {
    const s = new LineSplitter();
    t.same(
      c.chunks.map((ch) => s.push(ch)),
      c.want,
      c.name,
    );
    t.equal(s.pendingBytes, c.pending, `${c.name}: pending`);
  }
});

t.test('relistDelta: adds, updates by resourceVersion, deletes', async (t) => {
  const o = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: 'n', resourceVersion: rv } });
  const cache = new Map([
    ['n/keep', o('keep', '1')],
    ['n/changed', o('changed', '1')],
    ['n/gone', o('gone', '1')],
  ]);
  const listed = new Map([
    ['n/keep', o('keep', '1')],
    ['n/changed', o('changed', '5')],
    ['n/new', o('new', '6')],
  ]);
  const d = relistDelta(cache, listed);
  t.same(
    d.added.map((x) => x.metadata?.name),
    ['new'],
  );
  t.same(
    d.updated.map((x) => [x.obj.metadata?.resourceVersion, x.previous.metadata?.resourceVersion]),
    [['5', '1']],
  );
  t.same(
    d.deleted.map((x) => x.metadata?.name),
    ['gone'],
  );
});

t.test('requestQuery: list pages and watches', async (t) => {
  const cases = [
    {
      opts: { fieldSelector: 'spec.nodeName=n' },
      kind: { list: { limit: 500 } },
      want: 'fieldSelector=spec.nodeName%3Dn&limit=500',
    },
    { opts: {}, kind: { list: { limit: 2, continue: 'abc' } }, want: 'limit=2&continue=abc' },
    {
      opts: { labelSelector: 'a=b' },
      kind: { watch: { resourceVersion: '42', timeoutSeconds: 300 } },
      want: 'labelSelector=a%3Db&watch=true&allowWatchBookmarks=true&resourceVersion=42&timeoutSeconds=300',
    },
  ];
  for (const c of cases) t.equal(requestQuery(c.opts, c.kind).toString(), c.want);
});

interface Recorder {
  lw: ListWatch<KubeObject>;
  names: Set<string>;
  deleted: string[];
  restarts: RestartReason[];
}

function watchPods(
  t: TestLike,
  conn: KubeConnection,
  extra: { pageSize?: number; watchTimeoutSeconds?: number } = {},
): Recorder {
  const client = createKubeClient(conn);
  const names = new Set<string>();
  const deleted: string[] = [];
  const restarts: RestartReason[] = [];
  const lw = new ListWatch<KubeObject>(
    client,
    { path: '/api/v1/pods', fieldSelector: 'spec.nodeName=test-node', retryBaseMs: 20, retryMaxMs: 200, ...extra },
    {
      add: (o) => names.add(o.metadata?.name ?? ''),
      update: () => {},
      delete: (o) => {
        names.delete(o.metadata?.name ?? '');
        deleted.push(o.metadata?.name ?? '');
      },
      restart: (r) => restarts.push(r),
    },
  );
  t.teardown(async () => {
    await lw.stop();
    await client.close();
  });
  return { lw, names, deleted, restarts };
}

/** The part of a tap test these helpers use. */
interface TestLike {
  teardown(fn: () => unknown): void;
}

async function fakeWithKubeconfig(
  t: TestLike,
  token?: string,
): Promise<{ kube: FakeKubeApi; conn: KubeConnection; path: string }> {
  const kube = await startFakeKubeApi({
    defaultNodeName: 'test-node',
    bookmarkIntervalMs: 100,
    ...(token === undefined ? {} : { token }),
  });
  t.teardown(() => kube.close());
  const dir = await tempDir(t);
  const path = join(dir, 'kubeconfig');
  const user = token === undefined ? '{}' : `\n    token: ${token}`;
  await writeFile(
    path,
    `apiVersion: v1\nkind: Config\ncurrent-context: fake\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: me\nclusters:\n- name: fake\n  cluster:\n    server: ${kube.url}\nusers:\n- name: me\n  user: ${user}\n`,
  );
  const conn = await resolveConnection(path);
  if (conn === null) throw new Error('no connection');
  return { kube, conn, path };
}

t.test('lists in pages, then watches node-scoped changes (kubeconfig with a bearer token)', async (t) => {
  const { kube, conn } = await fakeWithKubeconfig(t, 's3cret');
  for (let i = 0; i < 7; i++) kube.addPod({ namespace: 'a', name: `p${i}` });
  kube.addPod({ namespace: 'a', name: 'elsewhere', nodeName: 'other-node' });
  const r = watchPods(t, conn, { pageSize: 3 });
  await r.lw.start();
  t.equal(r.names.size, 7, 'all pages listed, other node excluded');
  kube.addPod({ namespace: 'b', name: 'late' });
  kube.deletePod('a', 'p0');
  await until(() => r.names.has('late') && !r.names.has('p0'), 5000, 'watch events applied');
  t.same(r.restarts, [], 'no restarts');
});

t.test('a wrong bearer token is an error, retried with backoff', async (t) => {
  const { kube, path } = await fakeWithKubeconfig(t, 'right');
  kube.addPod({ namespace: 'a', name: 'p' });
  const text = (await import('node:fs')).readFileSync(path, 'utf8').replace('token: right', 'token: wrong');
  await writeFile(path, text);
  const conn = await resolveConnection(path);
  if (conn === null) throw new Error('no connection');
  const r = watchPods(t, conn);
  await r.lw.start();
  await until(() => r.restarts.filter((x) => x === 'error').length >= 2, 5000, 'retried');
  t.equal(r.names.size, 0);
});

t.test('410 Expired relists and emits deletes for pods gone since', async (t) => {
  const { kube, conn } = await fakeWithKubeconfig(t);
  kube.addPod({ namespace: 'a', name: 'stays' });
  kube.addPod({ namespace: 'a', name: 'goes' });
  const r = watchPods(t, conn);
  await r.lw.start();
  await until(() => kube.openStreams('watch') === 1, 5000, 'watching');
  // The deletion happens while the client cannot watch, then the history is compacted:
  // only a relist can tell it the pod is gone.
  await kube.setOffline(true);
  kube.deletePod('a', 'goes');
  kube.addPod({ namespace: 'a', name: 'new' });
  kube.expireWatches();
  await kube.setOffline(false);
  await until(() => r.deleted.includes('goes') && r.names.has('new'), 10_000, 'relisted');
  t.ok(r.restarts.includes('relist'));
  t.same([...r.names].sort(), ['new', 'stays']);
});

t.test('an API outage then recovery: retried without giving up, resumes from the last resourceVersion', async (t) => {
  const { kube, conn } = await fakeWithKubeconfig(t);
  kube.addPod({ namespace: 'a', name: 'one' });
  const r = watchPods(t, conn);
  await r.lw.start();
  await until(() => kube.openStreams('watch') === 1, 5000, 'watching');
  await kube.setOffline(true, 'refuse');
  await until(() => r.restarts.filter((x) => x === 'error').length >= 3, 5000, 'errors while refused');
  kube.addPod({ namespace: 'a', name: 'two' });
  await kube.setOffline(false);
  await until(() => r.names.has('two'), 10_000, 'caught up after the outage');
  t.ok(r.restarts.includes('resume'), 'watch resumed');
  t.notOk(r.restarts.includes('relist'), 'history still covered the gap: no relist needed');
});

t.test('bookmarks advance the resourceVersion without object changes', async (t) => {
  const { kube, conn } = await fakeWithKubeconfig(t);
  kube.addPod({ namespace: 'a', name: 'one' });
  const r = watchPods(t, conn);
  await r.lw.start();
  const listedRv = Number(r.lw.resourceVersion);
  // Changes to other collections move the cluster's resourceVersion; only a bookmark tells the pod watch.
  kube.addNamespace('x');
  kube.addNamespace('y');
  await until(() => Number(r.lw.resourceVersion) >= listedRv + 2, 5000, 'bookmark seen');
  t.equal(r.names.size, 1);
  // Resuming from the bookmarked version after the stream ends needs no relist.
  kube.closeWatches();
  kube.addPod({ namespace: 'a', name: 'two' });
  await until(() => r.names.has('two'), 5000, 'resumed');
  t.notOk(r.restarts.includes('relist'));
});

t.test('stop() ends an open watch promptly and delivers nothing afterwards', async (t) => {
  const { kube, conn } = await fakeWithKubeconfig(t);
  const r = watchPods(t, conn);
  await r.lw.start();
  await until(() => kube.openStreams('watch') === 1, 5000, 'watching');
  const t0 = Date.now();
  await r.lw.stop();
  // Not prompt would mean waiting for the server to end the watch (timeoutSeconds ≥ 300 s);
  // the bound leaves a loaded machine room.
  t.ok(Date.now() - t0 < 10_000, 'stopped promptly');
  kube.addPod({ namespace: 'a', name: 'after' });
  await until(() => kube.openStreams('watch') === 0, 5000, 'stream closed');
  t.notOk(r.names.has('after'));
});

t.test(
  'a watch waiting out a long backoff retries as soon as another watch on the same client gets an answer',
  async (t) => {
    const kube = await startFakeKubeApi({ defaultNodeName: 'test-node', bookmarkIntervalMs: 100 });
    t.teardown(() => kube.close());
    const client = createKubeClient({ server: kube.url, insecureSkipTlsVerify: false, authorization: () => undefined });
    const seen = new Set<string>();
    const failures = new Map<string, number>();
    /** When the slow watch last failed (and began its long backoff wait). */
    let slowFailedAtMs = 0;
    const make = (path: string, retryBaseMs: number): ListWatch<KubeObject> =>
      new ListWatch<KubeObject>(
        client,
        { path, retryBaseMs, retryMaxMs: retryBaseMs },
        {
          add: (o) => seen.add(o.metadata?.name ?? ''),
          update: () => {},
          delete: () => {},
          // Reported just before the backoff wait starts.
          restart: (reason) => {
            if (reason !== 'error') return;
            failures.set(path, (failures.get(path) ?? 0) + 1);
            if (path === SLOW) slowFailedAtMs = Date.now();
          },
        },
      );
    const SLOW = '/api/v1/namespaces';
    const fast = make('/api/v1/pods', 20);
    // Waits at least 5 minutes after a failure: back within the test, it was woken.
    const slow = make(SLOW, 600_000);
    t.teardown(async () => {
      await Promise.all([fast.stop(), slow.stop()]);
      await client.close();
    });
    await Promise.all([fast.start(), slow.start()]);
    await until(() => kube.openStreams('watch') === 2, 5000, 'both watching');
    await kube.setOffline(true, 'refuse');
    // A watch is woken at most once a second (list-watch.ts WAKE_INTERVAL_MS), and a 2xx that
    // raced the outage may already have woken the slow one into another failure: the next
    // wake is due only a second after its last failure. That second is the contract's, not a
    // guess at the machine's speed.
    await waitForValue(
      () => ({
        fast: failures.get('/api/v1/pods') ?? 0,
        slow: failures.get(SLOW) ?? 0,
        sinceSlowFailedMs: Date.now() - slowFailedAtMs,
      }),
      (v) => v.fast >= 1 && v.slow >= 1 && v.sinceSlowFailedMs > 1100,
      { what: 'both watches failed while refused, the slow one due a wake' },
    );
    const slowFailures = failures.get(SLOW);
    kube.addNamespace('late-ns');
    await kube.setOffline(false);
    await until(() => seen.has('late-ns'), 20_000, 'slow watch woken by the fast one');
    t.equal(failures.get(SLOW), slowFailures, 'the woken retry succeeded');
  },
);
