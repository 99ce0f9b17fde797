/**
 * The LogQL read path alone: how fast the OpenSearch store streams one namespace's records
 * to the engine (the in-process cost of every query that is not pushed down), per read
 * variant, in the same run against the same records:
 *
 *   baseline   pages of 1,000 documents, one request at a time (the store before prefetch)
 *   prefetch   pages of 1,000, the next page asked for while the current one is consumed
 *   page5000   pages of 5,000, prefetch
 *
 * Rounds alternate the variants; ratios are per round against the baseline, geometric mean.
 *
 *   npm run bench -- bench/aggregator/logql-read.bench.ts [--lines 300000] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { Client } from '@opensearch-project/opensearch';
import { OpenSearchLogStore } from '../../aggregator/logql/opensearch-store.ts';
import { UNLIMITED_SCOPE } from '../../aggregator/http/scope.ts';
import { benchAggregator, benchOpenSearch, dropPrefix, emitResult, freshPrefix, log, round } from './bench-services.ts';
import { bulkLoad } from './bulk-load.ts';
import { generateRecords, podsOf } from './realistic-records.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '3' },
    heap: { type: 'string', default: '1024' },
  },
});
const LINES = Number(values.lines);
const ROUNDS = Number(values.rounds);
const CLUSTER = 'bench';
const NS = 'shop';
const HOUR_MS = 3_600_000;
const pods = podsOf(10, 20);

const os = await benchOpenSearch(Number(values.heap));
const prefix = freshPrefix('logqlread');
// The aggregator writes the index template (the product's mapping and settings).
const agg = await benchAggregator(os.url, prefix);
const client = new Client({ node: os.url });
const nowMs = Date.now();

const variants = {
  baseline: { pageSize: 1000, prefetch: false },
  prefetch: { pageSize: 1000, prefetch: true },
  page5000: { pageSize: 5000, prefetch: true },
} as const;
type Variant = keyof typeof variants;

/** Lines/s of one full read of the namespace over the whole load window, forward. */
async function readAll(v: Variant): Promise<{ linesPerSecond: number; lines: number; searches: number }> {
  const store = new OpenSearchLogStore({ client, indexPrefix: prefix, scope: UNLIMITED_SCOPE, ...variants[v] });
  const t0 = performance.now();
  let lines = 0;
  for await (const _ of store.select({
    matchers: [{ name: 'namespace', op: '=', value: NS }],
    startNs: BigInt(nowMs - 13 * HOUR_MS) * 1_000_000n,
    endNs: BigInt(nowMs) * 1_000_000n,
    direction: 'forward',
    hint: { lineContains: [], lineExcludes: [] },
  }))
    lines++;
  return { linesPerSecond: lines / ((performance.now() - t0) / 1000), lines, searches: store.searches };
}

try {
  log(`loading ${LINES} lines into ${prefix}`);
  const loadSeconds = await bulkLoad({
    opensearchUrl: os.url,
    prefix,
    cluster: CLUSTER,
    records: generateRecords({ cluster: CLUSTER, pods, count: LINES, startMs: nowMs - 12 * HOUR_MS, endMs: nowMs - 60_000, seed: 7 }),
    count: LINES,
    batch: 5000,
    loaders: 2,
  });
  log(`loaded in ${round(loadSeconds)} s`);
  await readAll('baseline'); // warm-up: caches and JIT for every variant alike
  const perRound: Array<Record<Variant, number>> = [];
  let lines = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const row = {} as Record<Variant, number>;
    for (const v of Object.keys(variants) as Variant[]) {
      const out = await readAll(v);
      if (lines && out.lines !== lines) throw new Error(`${v} read ${out.lines} lines, another variant ${lines}`);
      lines = out.lines;
      row[v] = out.linesPerSecond;
      log(`round ${r + 1} ${v}: ${Math.round(out.linesPerSecond)} lines/s (${out.searches} searches)`);
    }
    perRound.push(row);
  }
  const geo = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
  const result: Record<string, unknown> = { bench: 'logql-read', lines_stored: LINES, lines_read: lines, rounds: ROUNDS };
  for (const v of Object.keys(variants) as Variant[]) {
    result[`${v}_lines_per_second`] = Math.round(geo(perRound.map((x) => x[v])));
    result[`${v}_ratio`] = round(geo(perRound.map((x) => x[v] / x.baseline)), 2);
  }
  emitResult(result);
} finally {
  await client.close();
  await agg.close();
  await dropPrefix(os.url, prefix);
  await os.stop();
}
