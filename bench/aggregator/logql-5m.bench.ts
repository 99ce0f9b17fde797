/**
 * LogQL on a large store (issue 13 §5): loads `--lines` realistic records (default
 * 5,000,000; bench/aggregator/realistic-records.ts, direct `_bulk` as query-latency does)
 * spread over the last 12 h, then measures p50/p99 through `POST /v1/k8s/logs/search/logql`,
 * each against a hand-written OpenSearch request doing the same work, in the same run:
 *
 *   log_line_filter   {namespace="shop"} |= "connection reset by peer", 6 h, limit 100, backward
 *                     vs a bool query (term + wildcard + range), sort timestamp desc, size 100
 *   sum_by_pod_pushed sum by (pod) (count_over_time({namespace="shop"}[5m])), 6 h, step 1m
 *                     (pushed down: stats.pushed_down = 1)
 *                     vs terms(pod) × date_histogram(1m) over the same range
 *   json_status_5xx   sum by (pod) (count_over_time({namespace="shop"} | json | status >= 500 [5m])),
 *                     `--json-window-hours` (default 1 h), step 1m, evaluated in process
 *                     vs wildcard `*"status":5*` (what 5xx looks like in these JSON lines)
 *                     × terms(pod) × date_histogram(1m)
 *
 * and the engine's in-process throughput for `| logfmt | level="error"`: end to end through
 * the route (lines scanned / latency, OpenSearch reads included) and the evaluator alone
 * over the same lines held in memory (lines / s of CPU work).
 *
 *   OPENSEARCH_URL=… node bench/aggregator/logql-5m.bench.ts [--lines 5000000] [--iterations 20]
 *     [--json-iterations 5] [--json-window-hours 1] [--warmup 2]
 *
 * The indices get a fresh prefix and are deleted at the end (also on failure).
 */
import { parseArgs } from 'node:util';
import type { LogRecord } from '../../shared/record.ts';
import { Pool } from 'undici';
import { formatNanos, parseRfc3339Nanos } from '../../shared/time.ts';
import { Evaluator } from '../../aggregator/logql/evaluator.ts';
import { parseExpr } from '../../aggregator/logql/parser.ts';
import { InMemoryLogStore, type MemoryStream } from '../../aggregator/logql/store.ts';
import { lokiStreamOf } from '../../aggregator/logql/stream-labels.ts';
import { benchAggregator, benchOpenSearch, dropPrefix, emitResult, freshPrefix, log, percentile, round } from './bench-services.ts';
import { generateRecords, podsOf, RARE_PHRASE } from './realistic-records.ts';
import { bulkLoad } from './bulk-load.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '5000000' },
    iterations: { type: 'string', default: '20' },
    'json-iterations': { type: 'string', default: '5' },
    'json-window-hours': { type: 'string', default: '1' },
    warmup: { type: 'string', default: '2' },
    batch: { type: 'string', default: '5000' },
    loaders: { type: 'string', default: '2' },
    heap: { type: 'string', default: '2048' },
  },
});
const LINES = Number(values.lines);
const ITER = Number(values.iterations);
const JSON_ITER = Number(values['json-iterations']);
const JSON_HOURS = Number(values['json-window-hours']);
const WARMUP = Number(values.warmup);
const BATCH = Number(values.batch);
const LOADERS = Number(values.loaders);
const CLUSTER = 'bench';
const NS = 'shop';
const pods = podsOf(10, 20);
const HOUR_MS = 3_600_000;

const os = await benchOpenSearch(Number(values.heap));
const prefix = freshPrefix('logql5m');
const agg = await benchAggregator(os.url, prefix);
// Queries end a minute before the last record so every window is full on every iteration.
const nowMs = Math.floor(Date.now() / 60_000) * 60_000;
const endMs = nowMs - 120_000;

const load = () =>
  bulkLoad({
    opensearchUrl: os.url,
    prefix,
    cluster: CLUSTER,
    records: generateRecords({ cluster: CLUSTER, pods, count: LINES, startMs: nowMs - 12 * HOUR_MS, endMs: nowMs - 60_000, seed: 13 }),
    count: LINES,
    batch: BATCH,
    loaders: LOADERS,
  });

interface Timed { p50_ms: number; p99_ms: number; iterations: number }

async function timed<R>(name: string, iterations: number, run: () => Promise<R>): Promise<{ t: Timed; last: R }> {
  const lat: number[] = [];
  let last!: R;
  for (let i = 0; i < WARMUP + iterations; i++) {
    const t0 = performance.now();
    last = await run();
    if (i >= WARMUP) lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  const t = { p50_ms: round(percentile(lat, 50)), p99_ms: round(percentile(lat, 99)), iterations };
  log(`${name}: p50 ${t.p50_ms} ms, p99 ${t.p99_ms} ms`);
  return { t, last };
}

const sumPoints = (result: Array<{ values: [number, string][] }>) =>
  result.reduce((n, s) => n + s.values.reduce((a, [, v]) => a + Number(v), 0), 0);

/** Sliding 5 m windows (t-5m, t] at each minute step from 1-minute histogram buckets [k, k+1m). */
function windowsFromMinutes(buckets: Array<{ key: number; doc_count: number }>, startMs: number, endMsQ: number): number {
  const byMin = new Map(buckets.map((b) => [b.key, b.doc_count]));
  let total = 0;
  for (let t = startMs; t <= endMsQ; t += 60_000) for (let k = t - 300_000; k < t; k += 60_000) total += byMin.get(k) ?? 0;
  return total;
}

try {
  log(`loading ${LINES} lines into ${prefix} over 12 h (${pods.length} pods in 10 namespaces)`);
  const loadSeconds = await load();
  const count = ((await (await fetch(`${os.url}/${prefix}-*/_count`)).json()) as { count: number }).count;
  if (count !== LINES) throw new Error(`stored ${count} of ${LINES}`);
  log(`loaded in ${round(loadSeconds)} s`);
  const reader = await agg.token({ name: 'bench reader', scopes: ['logs:read'] });
  const http = new Pool(agg.url, { connections: 1 });
  const osHttp = new Pool(os.url, { connections: 1 });
  const logql = async (body: Record<string, unknown>) => {
    const res = await http.request({ path: '/v1/k8s/logs/search/logql', method: 'POST', headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const out = (await res.body.json()) as Record<string, any>;
    if (res.statusCode !== 200) throw new Error(`logql ${res.statusCode}: ${JSON.stringify(out).slice(0, 300)}`);
    return out;
  };
  const search = async (body: Record<string, unknown>) => {
    const res = await osHttp.request({ path: `/${prefix}-*/_search`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const out = (await res.body.json()) as Record<string, any>;
    if (res.statusCode !== 200) throw new Error(`_search ${res.statusCode}: ${JSON.stringify(out).slice(0, 300)}`);
    return out;
  };
  const range = (fromMs: number, toMs: number) => ({ range: { timestamp: { gt: formatNanos(BigInt(fromMs) * 1_000_000n), lte: formatNanos(BigInt(toMs) * 1_000_000n) } } });
  const start6h = endMs - 6 * HOUR_MS;
  const iso = (ms: number) => new Date(ms).toISOString();

  // (a) log query with a line filter over one namespace.
  const aQuery = `{namespace="${NS}"} |= "${RARE_PHRASE}"`;
  const a = await timed('log_line_filter (engine)', ITER, () => logql({ query: aQuery, start: iso(start6h), end: iso(endMs), limit: 100, direction: 'backward' }));
  const aOs = await timed('log_line_filter (OpenSearch)', ITER, () =>
    search({ size: 100, track_total_hits: false, sort: [{ timestamp: 'desc' }, { id: 'desc' }], query: { bool: { filter: [{ term: { namespace: NS } }, { wildcard: { message: { value: `*${RARE_PHRASE}*` } } }, range(start6h, endMs)] } } }),
  );
  const aLines = (a.last.result as Array<{ values: unknown[] }>).reduce((n, s) => n + s.values.length, 0);

  // (b) sum by (pod) (count_over_time(...[5m])) over 6 h, pushed down.
  const bQuery = `sum by (pod) (count_over_time({namespace="${NS}"}[5m]))`;
  const b = await timed('sum_by_pod_pushed (engine)', ITER, () => logql({ query: bQuery, start: iso(start6h), end: iso(endMs), step: 60 }));
  const bAggs = { pod: { terms: { field: 'pod', size: 1000 }, aggs: { t: { date_histogram: { field: 'timestamp', fixed_interval: '1m' } } } } };
  const bOs = await timed('sum_by_pod_pushed (OpenSearch)', ITER, () =>
    search({ size: 0, track_total_hits: false, query: { bool: { filter: [{ term: { namespace: NS } }, range(start6h - 300_000, endMs)] } }, aggs: bAggs }),
  );
  const bHand = (bOs.last.aggregations.pod.buckets as Array<{ t: { buckets: Array<{ key: number; doc_count: number }> } }>).reduce((n, p) => n + windowsFromMinutes(p.t.buckets, start6h, endMs), 0);

  // (c) | json | status >= 500, in process.
  const cStart = endMs - JSON_HOURS * HOUR_MS;
  const cQuery = `sum by (pod) (count_over_time({namespace="${NS}"} | json | status >= 500 [5m]))`;
  const c = await timed('json_status_5xx (engine)', JSON_ITER, () => logql({ query: cQuery, start: iso(cStart), end: iso(endMs), step: 60 }));
  const cOs = await timed('json_status_5xx (OpenSearch)', JSON_ITER, () =>
    search({ size: 0, track_total_hits: false, query: { bool: { filter: [{ term: { namespace: NS } }, { wildcard: { message: { value: '*"status":5*' } } }, range(cStart - 300_000, endMs)] } }, aggs: bAggs }),
  );
  const cHand = (cOs.last.aggregations.pod.buckets as Array<{ t: { buckets: Array<{ key: number; doc_count: number }> } }>).reduce((n, p) => n + windowsFromMinutes(p.t.buckets, cStart, endMs), 0);

  // Engine throughput for | logfmt | label filter: through the route, and the evaluator alone over the same lines in memory.
  const lQuery = `sum by (pod) (count_over_time({namespace="${NS}"} | logfmt | level="error" [5m]))`;
  const l = await timed('logfmt_filter (route)', JSON_ITER, () => logql({ query: lQuery, start: iso(cStart), end: iso(endMs), step: 60 }));
  const linesRead = Number(l.last.stats.lines_scanned);
  const streams = new Map<string, MemoryStream>();
  let after: unknown[] | undefined;
  for (;;) {
    const page = await search({ size: 10_000, track_total_hits: false, sort: [{ timestamp: 'asc' }, { id: 'asc' }], query: { bool: { filter: [{ term: { namespace: NS } }, range(cStart - 300_000, endMs)] } }, ...(after ? { search_after: after } : {}) });
    const hits = page.hits.hits as Array<{ _source: LogRecord }>;
    for (const h of hits) {
      const { labels, structuredMetadata } = lokiStreamOf(h._source);
      const key = JSON.stringify(labels);
      let s = streams.get(key);
      if (!s) streams.set(key, (s = { labels, entries: [] }));
      s.entries.push({ tsNs: parseRfc3339Nanos(h._source.timestamp)!, line: h._source.message, meta: structuredMetadata });
    }
    if (hits.length < 10_000) break;
    after = [hits.at(-1)!._source.timestamp, hits.at(-1)!._source.id];
  }
  const memory = new InMemoryLogStore([...streams.values()]);
  const memExpr = parseExpr(lQuery);
  const memRates: number[] = [];
  let memScanned = 0;
  for (let i = 0; i < WARMUP + JSON_ITER; i++) {
    const ev = new Evaluator(memory);
    const t0 = performance.now();
    await ev.run(memExpr, { startNs: BigInt(cStart) * 1_000_000n, endNs: BigInt(endMs) * 1_000_000n, stepNs: 60_000_000_000n, limit: 0, direction: 'forward' });
    const s = (performance.now() - t0) / 1000;
    memScanned = ev.stats.entriesScanned;
    if (i >= WARMUP) memRates.push(memScanned / s);
  }
  memRates.sort((x, y) => x - y);
  await http.close();
  await osHttp.close();

  const ratio = (e: Timed, o: Timed) => ({ p50: round(e.p50_ms / o.p50_ms, 2), p99: round(e.p99_ms / o.p99_ms, 2) });
  emitResult({
    bench: 'aggregator.logql-5m',
    lines: LINES,
    span_hours: 12,
    namespace_share: 0.1,
    load_seconds: round(loadSeconds),
    opensearch: os.embedded ? 'embedded single node (same machine)' : 'OPENSEARCH_URL',
    queries: {
      log_line_filter: { query: aQuery, window_hours: 6, limit: 100, engine: a.t, opensearch: aOs.t, ratio: ratio(a.t, aOs.t), lines_returned: aLines, lines_scanned: a.last.stats.lines_scanned },
      sum_by_pod_pushed: { query: bQuery, window_hours: 6, step_s: 60, engine: b.t, opensearch: bOs.t, ratio: ratio(b.t, bOs.t), pushed_down: b.last.stats.pushed_down, store_searches: b.last.stats.store_searches, total_engine: sumPoints(b.last.result), total_hand_written: bHand },
      json_status_5xx: { query: cQuery, window_hours: JSON_HOURS, step_s: 60, engine: c.t, opensearch: cOs.t, ratio: ratio(c.t, cOs.t), pushed_down: c.last.stats.pushed_down, lines_scanned: c.last.stats.lines_scanned, total_engine: sumPoints(c.last.result), total_hand_written: cHand },
    },
    logfmt_label_filter: {
      query: lQuery,
      window_hours: JSON_HOURS,
      route_lines_per_s: Math.round(linesRead / (l.t.p50_ms / 1000)),
      route_p50_ms: l.t.p50_ms,
      lines_scanned: linesRead,
      in_memory_lines_per_s: Math.round(percentile(memRates, 50)),
      in_memory_lines: memScanned,
    },
  });
} finally {
  await agg.close();
  await dropPrefix(os.url, prefix);
  await os.stop();
}
