/**
 * Metric push-down on real OpenSearch: every pushed-down shape (count_over_time, rate,
 * bytes_over_time, bytes_rate under `sum` / `sum by (built-in labels)`; literal line
 * filters; exact matchers; range > step, range < step, range not a multiple of the step,
 * offset, instant queries) answers exactly what the in-process evaluation over the same
 * store answers, on data placed on, just before and just after every window edge, with
 * missing and empty nodes, multi-byte and empty lines. The stats show the push-down was
 * used; shapes that are not provably identical are evaluated in process. Also: pod-label
 * and regex matchers are pushed down as pre-filters (fewer lines read, same answers).
 */
import t from 'tap';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import type { LogRecord } from '../../../shared/record.ts';
import { formatNanos, parseRfc3339Nanos } from '../../../shared/time.ts';
import { Client } from '@opensearch-project/opensearch';
import { runQuery } from '../../../aggregator/logql/engine.ts';
import { OpenSearchLogStore } from '../../../aggregator/logql/opensearch-store.ts';
import type { LogStore } from '../../../aggregator/logql/store.ts';
import type { QueryResult } from '../../../aggregator/logql/evaluator.ts';

const agg = await startTestAggregator(t, { name: 'logqlpush' });
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
const shopOnly = await agg.createToken({ name: 'shop', scopes: ['logs:read'], namespaces: ['shop'] });

const T0 = parseRfc3339Nanos('2026-11-25T10:00:00Z')!;
const SEC = 1_000_000_000n;
let seed = 7;
const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rnd() * xs.length)]!;
const MESSAGES = [
  'GET /api status=200',
  'GET /api status=500 *glob?',
  'café crème – 日本語',
  'emoji 🚀 line',
  '',
  'multi\nline é',
  'plain ascii line with a tab\t.',
];
const all: LogRecord[] = [];
for (let i = 0; i < 900; i++) {
  // A third exactly on a 15 s grid point (every window edge below is on it), a sixth 1 ns
  // either side of one, the rest anywhere in the 22 minutes.
  const grid = T0 - 60n * SEC + BigInt(Math.floor(rnd() * 88)) * 15n * SEC;
  const r = rnd();
  const tsNs =
    r < 1 / 3
      ? grid
      : r < 1 / 2
        ? grid + (rnd() < 0.5 ? -1n : 1n)
        : T0 - 60n * SEC + BigInt(Math.floor(rnd() * 1320 * 1e6)) * 1000n + BigInt(Math.floor(rnd() * 1000));
  const node = pick(['node-a', 'node-b', undefined, '']);
  all.push(
    record({
      cluster: pick(['alpha', 'alpha', 'beta']),
      namespace: pick(['shop', 'shop', 'payments', 'other']),
      pod: pick(['api-1', 'api-2', 'worker-1']),
      container: pick(['main', 'main', 'sidecar']),
      stream: pick(['stdout', 'stderr'] as const),
      ...(node === undefined ? {} : { node }),
      timestamp: formatNanos(tsNs),
      message: pick(MESSAGES),
      labels: { app: pick(['api', 'worker']), 'app.kubernetes.io/name': pick(['shop-api', 'pay']) },
    }),
  );
}
for (const cluster of ['alpha', 'beta']) {
  const res = await ingest(agg.url, await agg.ingestToken(cluster), ndjson(all.filter((r) => r.cluster === cluster)));
  if (res.status !== 200)
    throw new Error(`seed ingest failed: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
}
await agg.refresh();

const client = new Client({ node: agg.opensearchUrl });
t.teardown(() => client.close());
const everything = { clusters: null, namespaces: null };
const pushing = new OpenSearchLogStore({ client, indexPrefix: agg.prefix, scope: everything });
/** Composite pages of 7 buckets: the aggregation is paged, over a point in time. */
const paging = new OpenSearchLogStore({ client, indexPrefix: agg.prefix, scope: everything, aggregationPageSize: 7 });
/** The same store without its aggregation: the engine must evaluate in process. */
const inProcess: LogStore = { select: (req) => pushing.select(req) };

const START = '2026-11-25T10:00:00Z';
const END = '2026-11-25T10:20:00Z';
const startNs = parseRfc3339Nanos(START)!;
const endNs = parseRfc3339Nanos(END)!;

function values(r: QueryResult): unknown {
  if (r.type === 'matrix')
    return r.series.map((s) => ({ labels: s.labels, points: s.points.map((p) => [String(p.tNs), p.value]) }));
  if (r.type === 'vector') return r.samples.map((s) => ({ labels: s.labelsMap, value: s.value }));
  throw new Error(`unexpected ${r.type}`);
}

const pushed: Array<{ query: string; stepS: number; start?: bigint }> = [
  { query: 'sum by (pod) (count_over_time({namespace="shop"}[5m]))', stepS: 60 },
  { query: 'sum by (namespace, pod) (rate({cluster="alpha"}[1m]))', stepS: 30 },
  { query: 'sum(count_over_time({namespace=~"shop|pay.*"}[30s]))', stepS: 60 },
  { query: 'sum by (node) (count_over_time({namespace="shop"}[1m] offset 30s))', stepS: 60 },
  { query: 'sum by (node, cluster) (count_over_time({namespace="payments"}[45s]))', stepS: 60 },
  { query: 'sum by (container, stream) (bytes_over_time({cluster="alpha", namespace!="other"}[2m]))', stepS: 45 },
  { query: 'sum by (pod) (bytes_rate({namespace="shop"} |= "é" != "*glob" [1m]))', stepS: 15 },
  { query: 'sum by (pod) (count_over_time({namespace="shop"} |= "*glob?" [90s]))', stepS: 30 },
  { query: 'sum by (namespace) (count_over_time({cluster=~"alpha|beta", pod!~"worker-.*"}[10m]))', stepS: 120 },
  { query: 'topk(2, sum by (pod) (rate({namespace="shop"}[5m])))', stepS: 60 },
  { query: 'sum by (pod) (count_over_time({namespace="shop"}[5m])) / 2', stepS: 60 },
  { query: 'sum by (pod) (count_over_time({namespace="shop"}[1m] offset -15s))', stepS: 30 },
  // 1,201 steps: ~1,200 edges, more than one `terms` clause on the timestamp may hold.
  { query: 'sum by (pod) (count_over_time({namespace="shop"}[5s]))', stepS: 1 },
  // start 7.5 s past the grid: the windows are still whole milliseconds.
  { query: 'sum by (stream) (count_over_time({namespace="shop"}[1m]))', stepS: 60, start: startNs + 7_500_000_000n },
  // Instant queries (one window ending at `end`).
  { query: 'sum by (namespace) (count_over_time({cluster="alpha"}[10m]))', stepS: 0 },
  { query: 'sum(bytes_over_time({namespace="shop"}[15m]))', stepS: 0 },
];

let pagedCases = 0;
for (const c of pushed) {
  t.test(`pushed down, same answer as in process: ${c.query} (step ${c.stepS}s)`, async (t) => {
    const params = {
      startNs: c.start ?? startNs,
      endNs,
      stepNs: BigInt(c.stepS) * SEC,
      limit: 100,
      direction: 'forward' as const,
    };
    const down = await runQuery(c.query, params, pushing);
    const here = await runQuery(c.query, params, inProcess);
    t.equal(down.stats.pushedDown, 1, 'the store aggregated');
    t.equal(down.stats.entriesScanned, 0, 'no line was read');
    t.equal(here.stats.pushedDown, 0);
    t.ok(here.stats.entriesScanned > 0, 'in process read lines');
    t.strictSame(values(down), values(here), 'identical series, timestamps and values');
    const searchesBefore = paging.searches;
    const paged = await runQuery(c.query, params, paging);
    t.equal(paged.stats.pushedDown, 1);
    t.strictSame(values(paged), values(here), 'identical when paged');
    if (paging.searches - searchesBefore > 2) pagedCases++; // one search, then the pages over a point in time
    t.ok((values(here) as unknown[]).length > 0, 'not vacuous');
  });
}

t.test('the paged path was exercised', async (t) => {
  t.ok(pagedCases >= pushed.length - 2, `${pagedCases} of ${pushed.length} shapes paged`);
});

const notPushed = [
  'sum by (app) (count_over_time({namespace="shop"}[1m]))',
  'count_over_time({namespace="shop"}[1m])',
  'sum without (pod) (count_over_time({namespace="shop"}[1m]))',
  'sum by (pod) (count_over_time({namespace="shop"} | logfmt [1m]))',
  'sum by (pod) (count_over_time({namespace="shop"} |~ "status=5.." [1m]))',
  'sum by (pod) (count_over_time({namespace="shop", app="api"}[1m]))',
  'sum by (pod) (count_over_time({namespace="shop", node=""}[1m]))',
  'sum by (pod) (count_over_time({namespace=~"sh.p"}[1m]))',
  'max by (pod) (count_over_time({namespace="shop"}[1m]))',
];
for (const query of notPushed) {
  t.test(`not provably identical, evaluated in process: ${query}`, async (t) => {
    const params = { startNs, endNs, stepNs: 60n * SEC, limit: 100, direction: 'forward' as const };
    const r = await runQuery(query, params, pushing);
    t.equal(r.stats.pushedDown, 0);
    t.strictSame(values(r), values(await runQuery(query, params, inProcess)));
  });
}

t.test('window edges off the millisecond grid are evaluated in process', async (t) => {
  const params = { startNs: startNs + 500n, endNs, stepNs: 60n * SEC, limit: 100, direction: 'forward' as const };
  const r = await runQuery('sum by (pod) (count_over_time({namespace="shop"}[1m]))', params, pushing);
  t.equal(r.stats.pushedDown, 0);
  t.ok(r.stats.entriesScanned > 0);
});

t.test('more series than the limit: in process decides (and refuses)', async (t) => {
  const params = { startNs, endNs, stepNs: 60n * SEC, limit: 100, direction: 'forward' as const };
  await t.rejects(
    runQuery('sum by (pod, container) (count_over_time({cluster="alpha"}[5m]))', params, pushing, { maxSeries: 2 }),
    /maximum number of series/,
  );
});

async function logql(body: Record<string, unknown>, token = reader) {
  const r = await fetch(`${agg.url}/v1/k8s/logs/search/logql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ start: START, end: END, ...body }),
  });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
}

t.test('through POST /search/logql: stats say pushed_down, and the scope still applies', async (t) => {
  const q = 'sum by (namespace) (count_over_time({cluster="alpha"}[5m]))';
  const got = await logql({ query: q, step: 60 });
  t.equal(got.status, 200);
  t.equal(got.body.stats.pushed_down, 1);
  t.equal(got.body.stats.lines_scanned, 0);
  const names = (got.body.result as Array<{ metric: Record<string, string> }>).map((s) => s.metric.namespace);
  t.same(names, ['other', 'payments', 'shop']);
  const restricted = await logql({ query: q, step: 60 }, shopOnly);
  t.equal(restricted.body.stats.pushed_down, 1);
  t.same(
    (restricted.body.result as Array<{ metric: Record<string, string> }>).map((s) => s.metric.namespace),
    ['shop'],
  );
  const shopSeries = (got.body.result as Array<{ metric: Record<string, string>; values: unknown }>).find(
    (s) => s.metric.namespace === 'shop',
  );
  t.same((restricted.body.result as Array<{ values: unknown }>)[0]!.values, shopSeries!.values);
});

t.test('pod-label and regex matchers are pre-filters: fewer lines read, same answer', async (t) => {
  for (const query of [
    '{app_kubernetes_io_name="pay"}',
    '{app=~"work.*", namespace="shop"}',
    '{namespace="shop", app!="api"}',
    '{namespace=~"shop|other", pod!~"api-.*"}',
  ]) {
    const params = { startNs, endNs, stepNs: 0n, limit: 5000, direction: 'forward' as const };
    const before = pushing.hitsRead;
    const filtered = await runQuery(query, params, pushing);
    const filteredHits = pushing.hitsRead - before;
    // A selector the store cannot narrow: the same matchers, each rewritten to an RE2 pattern no clause is made of.
    const wide = query.replace(/(!?=~?)"([^"]*)"/g, (_m, op: string, v: string) => {
      const neg = op.startsWith('!');
      const re = op.endsWith('~') ? v : v.replace(/[.]/g, '\\.');
      return `${neg ? '!~' : '=~'}"(?:${re})"`;
    });
    const mid = pushing.hitsRead;
    const unfiltered = await runQuery(wide, params, pushing);
    const unfilteredHits = pushing.hitsRead - mid;
    const lines = (r: QueryResult) =>
      r.type === 'streams' ? r.streams.map((s) => [s.labels, s.entries.map((e) => `${e.tsNs} ${e.line}`)]) : [];
    t.same(lines(filtered), lines(unfiltered), `${query} ≡ ${wide}`);
    t.ok(lines(filtered).length > 0, 'not vacuous');
    t.ok(filteredHits < unfilteredHits, `${query}: ${filteredHits} < ${unfilteredHits} records read from the store`);
  }
});

t.test('select pages over a point in time: with the next page prefetched, every record once, in order', async (t) => {
  const req = (direction: 'forward' | 'backward') => ({
    matchers: [{ name: 'namespace', op: '=' as const, value: 'shop' }],
    startNs: T0 - 120n * SEC,
    endNs: T0 + 1500n * SEC,
    direction,
    hint: { lineContains: [], lineExcludes: [] },
  });
  const read = async (store: OpenSearchLogStore, direction: 'forward' | 'backward', stopAfter = Infinity) => {
    const out: string[] = [];
    for await (const e of store.select(req(direction))) {
      out.push(`${e.position!.tsNs}/${e.position!.id}`);
      if (out.length >= stopAfter) break;
    }
    return out;
  };
  const shop = all.filter((r) => r.namespace === 'shop').length;
  const onePage = new OpenSearchLogStore({ client, indexPrefix: agg.prefix, scope: everything, pageSize: 5000 });
  for (const direction of ['forward', 'backward'] as const) {
    const want = await read(onePage, direction);
    t.equal(want.length, shop, `${direction}: one page holds all ${shop}`);
    t.equal(new Set(want).size, want.length, 'no record twice');
    for (const prefetch of [true, false]) {
      const small = new OpenSearchLogStore({
        client,
        indexPrefix: agg.prefix,
        scope: everything,
        pageSize: 7,
        prefetch,
      });
      t.same(await read(small, direction), want, `${direction}, pages of 7, prefetch ${prefetch}: the same records`);
      t.equal(small.searches, Math.floor(shop / 7) + 1, 'a search per page (and one that comes back short)');
    }
  }
  // A consumer that stops early: the page asked for ahead settles before the point in time is closed.
  const early = new OpenSearchLogStore({ client, indexPrefix: agg.prefix, scope: everything, pageSize: 7 });
  t.equal((await read(early, 'forward', 20)).length, 20);
  t.equal(early.searches, 4, 'pages 1–3 read, page 4 asked for ahead');
});
