/**
 * Query latency on a large store: loads `--lines` realistic records spread over the last
 * 24 h (direct `_bulk` of exactly what the aggregator writes, to load fast; 10 namespaces ×
 * 20 pods by default), then measures, through the aggregator's HTTP API, p50/p99 of
 *
 *   get_one_pod_24h     GET /v1/k8s/logs/?namespace=…&pod=…&start=now-24h   (first page, 100 lines)
 *   search_substring    POST /v1/k8s/logs/search {contains:["connection reset by peer"],
 *                       aggregations:["level"], start:"now-24h"}            (whole store, ~1 % match)
 *   get_q_substring     GET /v1/k8s/logs/?q=connection reset by peer&start=now-24h
 *
 *   node bench/aggregator/query-latency.bench.ts [--lines 5000000] [--iterations 50] [--warmup 5] [--no-index-sort]
 *
 * `--no-index-sort` stores without index sorting (config `K8S_LOGS_INDEX_SORT=false`), to
 * weigh its cheaper indexing (bench/aggregator/mapping-variants.bench.ts) against queries.
 *
 * Latency is client-side (request sent → body read) on a keep-alive connection, one
 * request at a time; `took_ms` is OpenSearch's own time from the response, for comparison.
 */
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { benchAggregator, benchOpenSearch, dropPrefix, emitResult, freshPrefix, log, percentile, round } from './bench-services.ts';
import { bulkLoad } from './bulk-load.ts';
import { generateRecords, podsOf, RARE_PHRASE } from './realistic-records.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '5000000' },
    namespaces: { type: 'string', default: '10' },
    'pods-per-namespace': { type: 'string', default: '20' },
    iterations: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '5' },
    batch: { type: 'string', default: '5000' },
    loaders: { type: 'string', default: '2' },
    heap: { type: 'string', default: '2048' },
    'no-index-sort': { type: 'boolean', default: false },
  },
});
const LINES = Number(values.lines);
const ITER = Number(values.iterations);
const WARMUP = Number(values.warmup);
const BATCH = Number(values.batch);
const LOADERS = Number(values.loaders);
const CLUSTER = 'bench';
const pods = podsOf(Number(values.namespaces), Number(values['pods-per-namespace']));
const target = pods[0]!;

const os = await benchOpenSearch(Number(values.heap));
const prefix = freshPrefix('query');
const agg = await benchAggregator(os.url, prefix, values['no-index-sort'] ? { sortByTime: false } : undefined);

async function load(): Promise<{ seconds: number; targetLines: number; rareLines: number }> {
  const nowMs = Date.now();
  let targetLines = 0;
  let rareLines = 0;
  // Leave the last minute empty so `now-24h` windows see every line on every iteration.
  const records = generateRecords({ cluster: CLUSTER, pods, count: LINES, startMs: nowMs - 86_400_000 + 3_600_000, endMs: nowMs - 60_000, seed: 11 });
  function* counted() {
    for (const r of records) {
      if (r.pod === target.pod) targetLines++;
      if (r.message.includes(RARE_PHRASE)) rareLines++;
      yield r;
    }
  }
  const seconds = await bulkLoad({ opensearchUrl: os.url, prefix, cluster: CLUSTER, records: counted(), count: LINES, batch: BATCH, loaders: LOADERS });
  return { seconds, targetLines, rareLines };
}

interface Measured { p50_ms: number; p99_ms: number; mean_ms: number; took_p50_ms: number; took_p99_ms: number; iterations: number; result: Record<string, unknown> }

async function measure(name: string, run: () => Promise<{ status: number; body: Record<string, unknown> }>): Promise<Measured> {
  let last: Record<string, unknown> = {};
  const lat: number[] = [];
  const took: number[] = [];
  for (let i = 0; i < WARMUP + ITER; i++) {
    const t0 = performance.now();
    const res = await run();
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${name}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    if (i >= WARMUP) {
      lat.push(ms);
      took.push(Number(res.body['took_ms'] ?? NaN));
    }
    last = res.body;
  }
  lat.sort((a, b) => a - b);
  took.sort((a, b) => a - b);
  const summary = {
    logs: (last['logs'] as unknown[] | undefined)?.length,
    total: last['total'],
    total_relation: last['total_relation'],
    ...(last['aggregations'] ? { aggregations: last['aggregations'] } : {}),
  };
  const m = {
    p50_ms: round(percentile(lat, 50)), p99_ms: round(percentile(lat, 99)), mean_ms: round(lat.reduce((a, b) => a + b, 0) / lat.length),
    took_p50_ms: percentile(took, 50), took_p99_ms: percentile(took, 99), iterations: ITER, result: summary,
  };
  log(`${name}: p50 ${m.p50_ms} ms, p99 ${m.p99_ms} ms`);
  return m;
}

try {
  log(`loading ${LINES} lines into ${prefix} (${pods.length} pods; target ${target.namespace}/${target.pod})`);
  const loaded = await load();
  const count = ((await (await fetch(`${os.url}/${prefix}-*/_count`)).json()) as { count: number }).count;
  if (count !== LINES) throw new Error(`stored ${count} of ${LINES}`);
  log(`loaded in ${round(loaded.seconds)} s; ${loaded.targetLines} lines of the target pod, ${loaded.rareLines} with the phrase`);
  const reader = await agg.token({ name: 'bench reader', scopes: ['logs:read'] });
  const http = new Pool(agg.url, { connections: 1 });
  const call = async (path: string, body?: unknown) => {
    const res = await http.request({
      path, method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${reader}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
  const api = '/v1/k8s/logs';
  const onePod = await measure('get_one_pod_24h', () => call(`${api}/?namespace=${target.namespace}&pod=${target.pod}&start=now-24h&limit=100`));
  const search = await measure('search_substring', () => call(`${api}/search`, { contains: [RARE_PHRASE], aggregations: ['level'], start: 'now-24h', limit: 100 }));
  const getQ = await measure('get_q_substring', () => call(`${api}/?q=${encodeURIComponent(RARE_PHRASE)}&start=now-24h&limit=100`));
  await http.close();
  emitResult({
    bench: 'aggregator.query-latency',
    lines: LINES,
    pods: pods.length,
    target_pod_lines: loaded.targetLines,
    phrase_lines: loaded.rareLines,
    load_seconds: round(loaded.seconds),
    load_lines_per_s: Math.round(LINES / loaded.seconds),
    index_sort: !values['no-index-sort'],
    opensearch: os.embedded ? 'embedded single node (same machine)' : 'OPENSEARCH_URL',
    queries: { get_one_pod_24h: onePod, search_substring: search, get_q_substring: getQ },
  });
} finally {
  await agg.close();
  await dropPrefix(os.url, prefix);
  await os.stop();
}
