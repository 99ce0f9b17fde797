import t from 'tap';
import { createKubeClient, type KubeClient } from '../../../agent/enrich/kube-client.ts';
import { resolveConnection, type KubeConnection } from '../../../agent/enrich/kube-connection.ts';
import {
  LineSplitter,
  ListWatch,
  relistDelta,
  requestQuery,
  type KubeObject,
  type RestartReason,
} from '../../../agent/enrich/list-watch.ts';
import { until } from '../helpers.ts';
import { waitFor, waitForValue } from '../../helpers/wait-for.ts';
import { testKube, type TestKube } from '../../helpers/kube.ts';
import { agentServiceAccount } from '../../helpers/chart-rbac.ts';
import { startTcpGate, type TcpGate } from '../../helpers/tcp-gate.ts';
import type { KubeApiAccess } from '../../../dev/kube/control-plane.ts';
import type { KubeDriver } from '../../../dev/kube/kube-driver.ts';
import { compactEtcd } from '../../helpers/etcd.ts';

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

// Everything below runs against the real kube-apiserver (test/helpers/kube.ts). The watch
// client reaches it as the chart's agent ServiceAccount, through a TCP gate the tests can
// cut or close (a network outage with the API server up). Tests that must stop the API
// server or compact its history get an API server of their own.

interface Recorder {
  lw: ListWatch<KubeObject>;
  names: Set<string>;
  deleted: string[];
  restarts: RestartReason[];
  /** Messages of the errors behind the 'error' restarts, for failure reports. */
  errors: string[];
  /** Every watch request the client made, as the server answered it, for failure reports. */
  watches: WatchTrace[];
}

interface WatchTrace {
  fromRv: string;
  timeoutSeconds: string;
  /** resourceVersions of the BOOKMARK events in the stream. */
  bookmarks: string[];
  /** Other events (ADDED, MODIFIED, ...) in the stream. */
  events: number;
  /** How long the stream stayed open; absent while it is. */
  openMs?: number;
}

/**
 * The client, with each watch's stream read through as it passes to ListWatch: what the
 * server sent is then on record, apart from what ListWatch made of it.
 */
function tracingClient(client: KubeClient, watches: WatchTrace[]): KubeClient {
  return {
    onSuccess: (fn) => client.onSuccess(fn),
    close: () => client.close(),
    async get(path, query, opts) {
      const body = await client.get(path, query, opts);
      if (query.get('watch') !== 'true') return body;
      const trace: WatchTrace = {
        fromRv: query.get('resourceVersion') ?? '',
        timeoutSeconds: query.get('timeoutSeconds') ?? '',
        bookmarks: [],
        events: 0,
      };
      watches.push(trace);
      const started = Date.now();
      const lines = new LineSplitter();
      async function* traced(): AsyncGenerator<Buffer> {
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            for (const line of lines.push(chunk)) {
              const ev = JSON.parse(line) as { type?: string; object?: KubeObject };
              if (ev.type === 'BOOKMARK') trace.bookmarks.push(ev.object?.metadata?.resourceVersion ?? '?');
              else trace.events++;
            }
            yield chunk;
          }
        } finally {
          trace.openMs = Date.now() - started;
        }
      }
      return traced() as unknown as typeof body;
    },
  };
}

/** The part of a tap test these helpers use. */
interface TestLike {
  teardown(fn: () => unknown): void;
  comment(msg: string): void;
}

function watchPods(
  t: TestLike,
  conn: KubeConnection,
  node: string,
  extra: { pageSize?: number; watchTimeoutSeconds?: number } = {},
): Recorder {
  const watches: WatchTrace[] = [];
  const client = tracingClient(createKubeClient(conn), watches);
  const names = new Set<string>();
  const deleted: string[] = [];
  const restarts: RestartReason[] = [];
  const errors: string[] = [];
  const lw = new ListWatch<KubeObject>(
    client,
    { path: '/api/v1/pods', fieldSelector: `spec.nodeName=${node}`, retryBaseMs: 20, retryMaxMs: 200, ...extra },
    {
      add: (o) => names.add(o.metadata?.name ?? ''),
      update: () => {},
      delete: (o) => {
        names.delete(o.metadata?.name ?? '');
        deleted.push(o.metadata?.name ?? '');
      },
      restart: (r, err) => {
        restarts.push(r);
        if (err !== undefined) errors.push(err instanceof Error ? err.message : String(err));
      },
    },
  );
  t.teardown(async () => {
    await lw.stop();
    await client.close();
  });
  return { lw, names, deleted, restarts, errors, watches };
}

interface Setup {
  kube: TestKube;
  driver: KubeDriver;
  ns: string;
  gate: TcpGate;
  /** The agent's connection (ServiceAccount token from the chart's RBAC) through the gate. */
  conn: KubeConnection;
  /** Same, but with another token. */
  connWithToken(token: string): Promise<KubeConnection>;
}

async function setup(t: TestLike, opts: { private?: boolean } = {}): Promise<Setup | undefined> {
  const kube = await testKube(t, opts);
  if (!kube) return undefined;
  const ns = await kube.namespace('lw');
  const agent = await agentServiceAccount(t, kube.driver.api, ns);
  const gate = await startTcpGate({ host: '127.0.0.1', port: Number(new URL(kube.access.url).port) });
  t.teardown(() => gate.close());
  const viaGate = (a: KubeApiAccess): KubeApiAccess => ({ ...a, url: `https://127.0.0.1:${gate.port}` });
  const connWithToken = async (token: string) => {
    const path = await kube.kubeconfigFile({ ...viaGate(agent.access), token });
    const conn = await resolveConnection(path);
    if (conn === null) throw new Error('no connection');
    return conn;
  };
  return { kube, driver: kube.driver, ns, gate, conn: await connWithToken(agent.access.token ?? ''), connWithToken };
}

/** Proves the watch is live: a pod created now is delivered (then deletes it again). */
async function watching(s: Setup, r: Recorder, label: string): Promise<void> {
  const probe = `probe-${label}`;
  await s.driver.addPod({ namespace: s.ns, name: probe, nodeName: s.kube.node });
  await until(() => r.names.has(probe), 15_000, `watch live (${label})`);
  await s.driver.deletePod(s.ns, probe);
  await until(() => !r.names.has(probe), 15_000, `probe deletion seen (${label})`);
}

t.test('lists in pages, then watches node-scoped changes (the chart agent ServiceAccount token)', async (t) => {
  const s = await setup(t);
  if (!s) return;
  for (let i = 0; i < 7; i++) await s.driver.addPod({ namespace: s.ns, name: `p${i}`, nodeName: s.kube.node });
  await s.driver.addNode(`${s.kube.node}-other`);
  await s.driver.addPod({ namespace: s.ns, name: 'elsewhere', nodeName: `${s.kube.node}-other` });
  const r = watchPods(t, s.conn, s.kube.node, { pageSize: 3 });
  await r.lw.start();
  t.equal(r.names.size, 7, 'all pages listed, other node excluded by spec.nodeName');
  await s.driver.addPod({ namespace: s.ns, name: 'late', nodeName: s.kube.node });
  await s.driver.deletePod(s.ns, 'p0');
  await until(() => r.names.has('late') && !r.names.has('p0'), 15_000, 'watch events applied');
  t.same(r.restarts, [], 'no restarts');
});

t.test('a wrong bearer token is an error, retried with backoff', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const r = watchPods(t, await s.connWithToken('not-a-token'), s.kube.node);
  await r.lw.start();
  await until(() => r.restarts.filter((x) => x === 'error').length >= 2, 15_000, 'retried');
  t.equal(r.names.size, 0);
});

t.test(
  '410 Expired (history compacted, API server restarted) relists and emits deletes for pods gone since',
  async (t) => {
    const s = await setup(t, { private: true });
    if (!s?.kube.apiServer || !s.kube.etcdUrl) return;
    await s.driver.addPod({ namespace: s.ns, name: 'stays', nodeName: s.kube.node });
    await s.driver.addPod({ namespace: s.ns, name: 'goes', nodeName: s.kube.node });
    const r = watchPods(t, s.conn, s.kube.node);
    await r.lw.start();
    await watching(s, r, 'before');
    // The deletion happens while the client cannot reach the API server; then the history
    // it would resume from is gone (etcd compacted, the watch cache rebuilt by a restart):
    // only a relist can tell it the pod is gone.
    await s.gate.refuse();
    await s.driver.deletePod(s.ns, 'goes');
    await s.driver.addPod({ namespace: s.ns, name: 'new', nodeName: s.kube.node });
    await compactEtcd(s.kube.etcdUrl);
    await s.kube.apiServer.stop();
    await s.kube.apiServer.start();
    await s.gate.open();
    await until(() => r.deleted.includes('goes') && r.names.has('new'), 30_000, 'relisted');
    t.ok(r.restarts.includes('relist'), `relisted (restarts: ${r.restarts.join(',')})`);
    t.same([...r.names].sort(), ['new', 'stays']);
  },
);

t.test(
  'a network outage then recovery: retried without giving up, resumes from the last resourceVersion',
  async (t) => {
    const s = await setup(t);
    if (!s) return;
    await s.driver.addPod({ namespace: s.ns, name: 'one', nodeName: s.kube.node });
    const r = watchPods(t, s.conn, s.kube.node);
    await r.lw.start();
    await watching(s, r, 'before');
    await s.gate.refuse();
    await until(() => r.restarts.filter((x) => x === 'error').length >= 3, 15_000, 'errors while refused');
    await s.driver.addPod({ namespace: s.ns, name: 'two', nodeName: s.kube.node });
    await s.gate.open();
    await until(() => r.names.has('two'), 30_000, 'caught up after the outage');
    t.ok(r.restarts.includes('resume'), 'watch resumed');
    t.notOk(r.restarts.includes('relist'), "the API server's watch cache still covered the gap: no relist needed");
  },
);

t.test('the API server stopped and started again: the watch comes back and catches up', async (t) => {
  const s = await setup(t, { private: true });
  if (!s?.kube.apiServer) return;
  await s.driver.addPod({ namespace: s.ns, name: 'one', nodeName: s.kube.node });
  const r = watchPods(t, s.conn, s.kube.node);
  await r.lw.start();
  await watching(s, r, 'before');
  await s.kube.apiServer.stop();
  await until(() => r.restarts.filter((x) => x === 'error').length >= 2, 15_000, 'errors while the API server is down');
  await s.kube.apiServer.start();
  await s.driver.addPod({ namespace: s.ns, name: 'two', nodeName: s.kube.node });
  await s.driver.deletePod(s.ns, 'one');
  await until(() => r.names.has('two') && !r.names.has('one'), 30_000, 'caught up after the restart');
  t.same([...r.names], ['two']);
});

t.test('bookmarks advance the resourceVersion without object changes', async (t) => {
  // An API server of its own, so that nothing but this test moves its pods' resourceVersion.
  const s = await setup(t, { private: true });
  if (!s) return;
  await s.driver.addPod({ namespace: s.ns, name: 'one', nodeName: s.kube.node });
  const other = `${s.kube.node}-other`;
  await s.driver.addNode(other);
  // The watch cache sends a bookmark 2 s before a watch's timeout, at the last resourceVersion
  // it has processed, and only if that is newer than what the watch has already passed. A
  // watch opened after a change it does not match passes that change while replaying its
  // history, so only a change made while a watch is open reaches it as a bookmark (checked
  // with curl against kube-apiserver 1.37: a pod on another node created before the watch
  // gives it no bookmark, one created during it does). Each round therefore waits for a new
  // watch to be open, moves the resourceVersion with a pod on another node, and waits for
  // that watch to end; a round whose change came too late for that watch's bookmark (under
  // load, less than 2 s before its timeout) is retried with the next watch.
  const r = watchPods(t, s.conn, s.kube.node, { watchTimeoutSeconds: 8 });
  await r.lw.start();
  let otherRv = 0n;
  let previous: WatchTrace | undefined;
  for (let round = 1; ; round++) {
    const watch = await waitFor(
      (): WatchTrace | undefined => {
        const w = r.watches.at(-1);
        return w !== previous && w?.openMs === undefined ? w : undefined;
      },
      { timeoutMs: 60_000, what: `a new watch open (round ${round})` },
    );
    previous = watch;
    const pod = await s.driver.addPod({ namespace: s.ns, name: `elsewhere-${round}`, nodeName: other });
    otherRv = BigInt(pod.metadata.resourceVersion);
    await waitFor(() => watch.openMs !== undefined, { timeoutMs: 60_000, what: `the watch ended (round ${round})` });
    t.comment(
      `round ${round}: pod at ${otherRv}; watch from ${watch.fromRv} bookmarked ${watch.bookmarks.join(',') || 'nothing'}`,
    );
    if (BigInt(r.lw.resourceVersion) >= otherRv || round === 5) break;
  }
  t.ok(
    BigInt(r.lw.resourceVersion) >= otherRv,
    `a bookmark reached resourceVersion ${otherRv}: ${JSON.stringify(r.watches)}`,
  );
  t.same([...r.names], ['one'], 'no object change delivered');
  // The next watch resumes from the bookmarked version, without a relist.
  await waitFor(() => r.watches.some((w) => BigInt(w.fromRv) >= otherRv), {
    timeoutMs: 60_000,
    what: `a watch resumed from resourceVersion >= ${otherRv}`,
  });
  await s.driver.addPod({ namespace: s.ns, name: 'two', nodeName: s.kube.node });
  await until(() => r.names.has('two'), 15_000, 'resumed');
  t.notOk(r.restarts.includes('relist'));
});

t.test('stop() ends an open watch promptly and delivers nothing afterwards', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const r = watchPods(t, s.conn, s.kube.node);
  await r.lw.start();
  await watching(s, r, 'before');
  const t0 = Date.now();
  await r.lw.stop();
  // Not prompt would mean waiting for the server to end the watch (timeoutSeconds ≥ 300 s);
  // the bound leaves a loaded machine room.
  t.ok(Date.now() - t0 < 10_000, 'stopped promptly');
  // Proof of absence: a second watch sees the pod, the stopped one must not have.
  const observer = watchPods(t, s.conn, s.kube.node);
  await observer.lw.start();
  await s.driver.addPod({ namespace: s.ns, name: 'after', nodeName: s.kube.node });
  await until(() => observer.names.has('after'), 15_000, 'observer saw the pod');
  t.notOk(r.names.has('after'));
});

t.test(
  'a watch waiting out a long backoff retries as soon as another watch on the same client gets an answer',
  async (t) => {
    const s = await setup(t);
    if (!s) return;
    const client = createKubeClient(s.conn);
    const seen = new Set<string>();
    const failures = new Map<string, number>();
    /** When the slow watch last failed (and began its long backoff wait). */
    let slowFailedAtMs = 0;
    const SLOW = '/api/v1/namespaces';
    const make = (path: string, retryBaseMs: number, fieldSelector?: string): ListWatch<KubeObject> =>
      new ListWatch<KubeObject>(
        client,
        { path, retryBaseMs, retryMaxMs: retryBaseMs, ...(fieldSelector ? { fieldSelector } : {}) },
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
    const fast = make('/api/v1/pods', 20, `spec.nodeName=${s.kube.node}`);
    // Waits at least 5 minutes after a failure: back within the test, it was woken.
    const slow = make(SLOW, 600_000);
    t.teardown(async () => {
      await Promise.all([fast.stop(), slow.stop()]);
      await client.close();
    });
    await Promise.all([fast.start(), slow.start()]);
    const probe = await s.kube.namespace('probe');
    await until(() => seen.has(probe), 15_000, 'both watching');
    await s.gate.refuse();
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
    const late = await s.kube.namespace('late');
    await s.gate.open();
    await until(() => seen.has(late), 30_000, 'slow watch woken by the fast one');
    t.equal(failures.get(SLOW), slowFailures, 'the woken retry succeeded');
  },
);
