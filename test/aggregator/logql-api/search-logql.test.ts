/**
 * POST /v1/k8s/logs/search/logql on real OpenSearch: the OpenSearch store gives the same
 * answers as the in-memory store on the same records (log and metric queries, matchers on
 * built-in and pod labels, pre-filtered line filters), a namespace-restricted token never
 * sees another namespace whatever the selector says, cursors page log queries without
 * loss, parse errors are 400 with line and column.
 */
import t from 'tap';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import type { LogRecord } from '../../../shared/record.ts';
import { parseRfc3339Nanos } from '../../../shared/time.ts';
import { InMemoryLogStore, lokiStreamOf, runQuery } from '../../../aggregator/logql/engine.ts';
import type { MemoryStream } from '../../../aggregator/logql/store.ts';

const agg = await startTestAggregator(t, { name: 'logqlapi' });
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
const shopOnly = await agg.createToken({ name: 'shop', scopes: ['logs:read'], namespaces: ['shop'] });

const base = Date.parse('2026-11-25T10:00:00Z');
const all: LogRecord[] = [];
let n = 0;
for (const ns of ['shop', 'payments']) {
  for (const pod of ['api-1', 'worker-1']) {
    for (let i = 0; i < 30; i++) {
      const ts = new Date(base + n * 1000).toISOString().replace('Z', `${String(n % 997).padStart(3, '0')}123Z`);
      const status = i % 5 === 0 ? 500 : 200;
      all.push(
        record({
          cluster: 'alpha',
          namespace: ns,
          pod,
          container: 'main',
          node: 'node-a',
          timestamp: ts,
          message:
            i % 2
              ? `level=info status=${status} path=/a\\b msg="req ${i}"`
              : `{"level":"warn","status":${status},"msg":"json ${i}"}`,
          level: i % 2 ? 'info' : 'warn',
          stream: i % 3 ? 'stdout' : 'stderr',
          labels: { app: pod.split('-')[0]!, 'app.kubernetes.io/name': `${ns}-${pod}` },
        }),
      );
      n++;
    }
  }
}
const res = await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(all));
if (res.status !== 200) throw new Error(`seed ingest failed: ${res.status}`);
await agg.refresh();

// The same records as in-memory streams (the reference).
const byStream = new Map<string, MemoryStream>();
for (const r of all) {
  const { labels, structuredMetadata } = lokiStreamOf(r);
  const key = JSON.stringify(labels);
  let s = byStream.get(key);
  if (!s) byStream.set(key, (s = { labels, entries: [] }));
  s.entries.push({ tsNs: parseRfc3339Nanos(r.timestamp)!, line: r.message, meta: structuredMetadata });
}
const memory = new InMemoryLogStore([...byStream.values()]);

const START = '2026-11-25T09:59:00Z';
const END = '2026-11-25T10:03:00Z';

async function logql(body: Record<string, unknown>, token = reader) {
  const r = await fetch(`${agg.url}/v1/k8s/logs/search/logql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ start: START, end: END, ...body }),
  });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
}

async function reference(
  query: string,
  step: number | undefined,
  limit = 1000,
  direction: 'forward' | 'backward' = 'backward',
) {
  const r = await runQuery(
    query,
    {
      startNs: parseRfc3339Nanos(START)!,
      endNs: parseRfc3339Nanos(END)!,
      stepNs: step ? BigInt(step) * 1_000_000_000n : 0n,
      limit,
      direction,
    },
    memory,
  );
  if (r.type === 'streams')
    return r.streams.map((s) => ({ stream: s.labels, values: s.entries.map((e) => [e.tsNs.toString(), e.line]) }));
  if (r.type === 'matrix')
    return r.series.map((s) => ({
      metric: s.labels,
      values: s.points.map((p) => [Number(p.tNs) / 1e9, String(p.value)]),
    }));
  if (r.type === 'vector')
    return r.samples.map((s) => ({ metric: s.labelsMap, value: [Number(r.tNs) / 1e9, String(s.value)] }));
  return [Number(r.tNs) / 1e9, String(r.value)];
}

const cases: Array<{ query: string; step?: number; type: string }> = [
  { query: '{namespace="shop"}', type: 'streams' },
  { query: '{namespace="shop", pod!="api-1"} |= "status=500"', type: 'streams' },
  { query: '{app="api"} != "json" |= "a\\\\b"', type: 'streams' },
  { query: '{app_kubernetes_io_name=~"pay.*"} | json | status >= 500', type: 'streams' },
  { query: '{namespace="shop", node=""}', type: 'streams' },
  { query: '{namespace=~".+", stream="stderr"} | logfmt | level="info"', type: 'streams' },
  { query: 'sum by (pod) (count_over_time({namespace="payments"}[1m]))', step: 30, type: 'matrix' },
  {
    query: 'sum by (level, detected_level) (count_over_time({namespace=~".+"} | drop __error__ [1m]))',
    step: 60,
    type: 'matrix',
  },
  { query: 'sum(rate({namespace="shop"} | json | __error__="" | status="500" [2m]))', type: 'vector' },
  { query: 'vector(1)+vector(1)', type: 'vector' },
];
for (const c of cases) {
  await t.test(c.query, async (t) => {
    const got = await logql({ query: c.query, limit: 1000, ...(c.step ? { step: c.step } : {}) });
    t.equal(got.status, 200, JSON.stringify(got.body).slice(0, 300));
    t.equal(got.body.result_type, c.type);
    const want = await reference(c.query, c.step);
    t.same(got.body.result, want, 'same result as the in-memory store');
    if (c.type === 'streams' && !c.query.includes('node=""'))
      t.ok((got.body.result as unknown[]).length > 0, 'not vacuous');
    t.type(got.body.stats.lines_scanned, 'number');
  });
}

t.test('the pre-filter reaches the store: fewer lines scanned than without it', async (t) => {
  const filtered = await logql({ query: '{namespace="shop"} |= "status=500"' });
  const unfiltered = await logql({ query: '{namespace="shop"} |~ "status=500"' });
  t.same(filtered.body.result, unfiltered.body.result);
  t.ok(
    filtered.body.stats.lines_scanned < unfiltered.body.stats.lines_scanned,
    `${filtered.body.stats.lines_scanned} < ${unfiltered.body.stats.lines_scanned}`,
  );
});

t.test('a namespace-restricted token sees only its namespace whatever the selector says', async (t) => {
  for (const query of ['{namespace="payments"}', '{namespace=~".+"}', '{namespace!="shop", pod=~".+"}']) {
    const got = await logql({ query, limit: 1000 }, shopOnly);
    t.equal(got.status, 200);
    const seen = new Set((got.body.result as Array<{ stream: Record<string, string> }>).map((s) => s.stream.namespace));
    t.ok(
      [...seen].every((ns) => ns === 'shop'),
      `${query}: ${[...seen].join(',')}`,
    );
  }
  const m = await logql({ query: 'sum by (namespace) (count_over_time({namespace=~".+"}[5m]))' }, shopOnly);
  t.same(
    (m.body.result as Array<{ metric: Record<string, string> }>).map((s) => s.metric.namespace),
    ['shop'],
  );
});

t.test('log queries page with a cursor, each line once', async (t) => {
  for (const direction of ['backward', 'forward'] as const) {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const got = await logql({ query: '{namespace="shop"}', limit: 7, direction, ...(cursor ? { cursor } : {}) });
      t.equal(got.status, 200);
      for (const s of got.body.result as Array<{ values: [string, string][] }>)
        for (const [ts] of s.values) seen.push(ts);
      cursor = got.body.next_cursor ?? undefined;
      t.equal(got.body.has_more, cursor !== undefined);
      if (++pages > 20) break;
    } while (cursor);
    t.equal(seen.length, 60, direction);
    t.equal(new Set(seen).size, 60, 'no duplicates');
  }
  const bad = await logql({
    query: '{namespace="payments"}',
    cursor: (await logql({ query: '{namespace="shop"}', limit: 1 })).body.next_cursor,
  });
  t.equal(bad.status, 400);
});

t.test('parse errors are 400 with line and column', async (t) => {
  const got = await logql({ query: '{namespace="shop"}\n| json |= ' });
  t.equal(got.status, 400);
  t.match(got.body.error?.message ?? JSON.stringify(got.body), /parse error at line 2, col/);
  t.match(JSON.stringify(got.body), /"line":2/);
  const all = await logql({ query: '{namespace=~".*"}' });
  t.equal(all.status, 400, 'a selector matching everything is refused');
});
