/**
 * Ingest throughput: the aggregator's POST /v1/ingest (gzip NDJSON batches, as agents send
 * them) versus a direct `_bulk` loader of the same documents into the same OpenSearch, in
 * the same run, each on a fresh index prefix. Goal: aggregator/direct ≥ 0.9.
 *
 *   node bench/aggregator/ingest-throughput.bench.ts [--docs 200000] [--batch 2000] [--senders 2] [--rounds 2]
 *
 * Both sides send pre-built bodies (gzip for the aggregator — the agent pays for it, not
 * the aggregator; plain NDJSON for `_bulk`) over keep-alive connections with `senders`
 * requests in flight, and both include creating the day index in the timed section. The
 * direct loader's documents are exactly what the aggregator writes (buildBulkBody).
 * Warm-up rounds (JIT, JVM, page cache) are run and discarded. Measured rounds alternate
 * the order (direct first, then aggregator first, …) so drift falls on both sides; `ratio`
 * is the geometric mean of the per-round ratios (each round pairs two adjacent runs), with
 * each side's median beside it.
 * On this project's 2-core machines the aggregator, OpenSearch and the senders share the
 * CPUs, so the ratio here is a pessimistic bound for a deployment where they do not.
 *
 * `--legacy` adds a third side to every round: the aggregator with the layout of
 * MAPPING_VERSION 1 (LEGACY_INDEX_SETTINGS: `message.text` as `text`), and reports
 * `vs_legacy` — today's aggregator over the legacy one, geometric mean of the rounds (the
 * capacity goal of issue 10 is measured this way).
 */
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { LogRecord } from '../../shared/record.ts';
import { buildBulkBody } from '../../aggregator/store/bulk-writer.ts';
import { bootstrapStore } from '../../aggregator/store/bootstrap.ts';
import { configWith, indexSettingsOf } from '../../aggregator/config.ts';
import { createOpenSearchClient } from '../../aggregator/store/opensearch.ts';
import { LEGACY_INDEX_SETTINGS, clusterAlias, dayIndexName, type LogIndexSettings } from '../../aggregator/store/log-indices.ts';
import { benchAggregator, benchOpenSearch, dropPrefix, emitResult, freshPrefix, log, round, runConcurrently } from './bench-services.ts';
import { generateRecords, podsOf } from './realistic-records.ts';

const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '2000' },
    senders: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    'warmup-rounds': { type: 'string', default: '1' },
    legacy: { type: 'boolean', default: false },
    heap: { type: 'string', default: '2048' },
  },
});
const DOCS = Number(values.docs);
const BATCH = Number(values.batch);
const SENDERS = Number(values.senders);
const ROUNDS = Number(values.rounds);
const WARMUP_ROUNDS = Number(values['warmup-rounds']);
const CLUSTER = 'bench';

// One set of records for every run: the last hour, 10 namespaces × 20 pods.
const nowMs = Date.now();
const batches: LogRecord[][] = [];
{
  let current: LogRecord[] = [];
  for (const r of generateRecords({ cluster: CLUSTER, pods: podsOf(10, 20), count: DOCS, startMs: nowMs - 3_600_000, endMs: nowMs, seed: 7 })) {
    current.push(r);
    if (current.length === BATCH) {
      batches.push(current);
      current = [];
    }
  }
  if (current.length) batches.push(current);
}
const gzBatches = batches.map((b) => gzipSync(Buffer.from(b.map((r) => JSON.stringify(r)).join('\n') + '\n')));
const rawBytes = batches.reduce((n, b) => n + b.reduce((m, r) => m + JSON.stringify(r).length + 1, 0), 0);
const gzBytes = gzBatches.reduce((n, b) => n + b.length, 0);
log(`${DOCS} records in ${batches.length} batches; ${round(rawBytes / 1e6)} MB NDJSON, ${round(gzBytes / 1e6)} MB gzip`);

const os = await benchOpenSearch(Number(values.heap));
const osPool = new Pool(os.url, { connections: SENDERS + 1 });

async function count(prefix: string): Promise<number> {
  await fetch(`${os.url}/${prefix}-*/_refresh`, { method: 'POST' });
  const res = await fetch(`${os.url}/${prefix}-*/_count`);
  return ((await res.json()) as { count: number }).count;
}

interface RunResult { side: 'aggregator' | 'direct' | 'aggregator-legacy'; docs: number; seconds: number; docs_per_s: number; retries: number }

const runLegacy = () => runAggregator(LEGACY_INDEX_SETTINGS);

async function runAggregator(index?: LogIndexSettings): Promise<RunResult> {
  const prefix = freshPrefix('ingest-agg');
  const agg = await benchAggregator(os.url, prefix, index);
  const token = await agg.token({ name: 'bench agent', scopes: ['ingest'], clusters: [CLUSTER] });
  const pool = new Pool(agg.url, { connections: SENDERS });
  let retries = 0;
  const t0 = performance.now();
  await runConcurrently(gzBatches.length, SENDERS, async (i) => {
    for (;;) {
      const res = await pool.request({
        path: '/v1/ingest',
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
        body: gzBatches[i],
      });
      const body = (await res.body.json()) as { accepted?: number };
      if (res.statusCode === 200 && body.accepted === batches[i]!.length) return;
      if (res.statusCode !== 429 && res.statusCode !== 503) throw new Error(`ingest: ${res.statusCode} ${JSON.stringify(body).slice(0, 300)}`);
      retries++;
      await sleep(200);
    }
  });
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  const stored = await count(prefix);
  await agg.close();
  await dropPrefix(os.url, prefix);
  if (stored !== DOCS) throw new Error(`aggregator run stored ${stored} of ${DOCS}`);
  return { side: index ? 'aggregator-legacy' : 'aggregator', docs: stored, seconds: round(seconds, 2), docs_per_s: Math.round(DOCS / seconds), retries };
}

async function runDirect(): Promise<RunResult> {
  const prefix = freshPrefix('ingest-direct');
  const client = createOpenSearchClient({ ...configWith({ opensearchUrl: os.url, indexPrefix: prefix }).opensearch, requestTimeoutMs: 60_000 });
  await bootstrapStore(client, { indexPrefix: prefix, index: indexSettingsOf(configWith({}).opensearch) });
  const ingestedAt = new Date().toISOString();
  const bodies = batches.map((b) => buildBulkBody(prefix, b, ingestedAt));
  const days = new Set(batches.flatMap((b) => [dayIndexName(prefix, CLUSTER, b[0]!.timestamp), dayIndexName(prefix, CLUSTER, b[b.length - 1]!.timestamp)]));
  let retries = 0;
  const t0 = performance.now();
  for (const index of days) await client.indices.create({ index, body: { aliases: { [clusterAlias(prefix, CLUSTER)]: {} } } });
  await runConcurrently(bodies.length, SENDERS, async (i) => {
    for (;;) {
      const res = await osPool.request({ path: '/_bulk', method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: bodies[i] });
      const body = (await res.body.json()) as { errors?: boolean; items?: Array<Record<string, { status: number }>> };
      if (res.statusCode === 200 && body.errors === false) return;
      const pushedBack = res.statusCode === 429 || (body.items ?? []).some((it) => Object.values(it)[0]?.status === 429);
      const onlyConflicts = res.statusCode === 200 && (body.items ?? []).every((it) => { const s = Object.values(it)[0]?.status ?? 0; return s < 300 || s === 409; });
      if (onlyConflicts) return; // a resend after push-back: already stored
      if (!pushedBack) throw new Error(`_bulk: ${res.statusCode} ${JSON.stringify(body).slice(0, 300)}`);
      retries++;
      await sleep(200);
    }
  });
  const seconds = (performance.now() - t0) / 1000;
  const stored = await count(prefix);
  await client.close();
  await dropPrefix(os.url, prefix);
  if (stored !== DOCS) throw new Error(`direct run stored ${stored} of ${DOCS}`);
  return { side: 'direct', docs: stored, seconds: round(seconds, 2), docs_per_s: Math.round(DOCS / seconds), retries };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  const runs: RunResult[] = [];
  const pairRatios: number[] = [];
  const legacyRatios: number[] = [];
  for (let r = -WARMUP_ROUNDS; r < ROUNDS; r++) {
    const sides = values.legacy ? [runDirect, () => runAggregator(), runLegacy] : [runDirect, () => runAggregator()];
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    const pair: RunResult[] = [];
    for (const run of order) {
      const res = await run();
      log(`${r < 0 ? 'warm-up' : `round ${r + 1}`}: ${res.side} ${res.docs_per_s} docs/s (${res.seconds} s, ${res.retries} retries)`);
      pair.push(res);
    }
    if (r < 0) continue;
    runs.push(...pair);
    const a = pair.find((x) => x.side === 'aggregator')!.docs_per_s;
    const d = pair.find((x) => x.side === 'direct')!.docs_per_s;
    pairRatios.push(a / d);
    const l = pair.find((x) => x.side === 'aggregator-legacy')?.docs_per_s;
    if (l) legacyRatios.push(a / l);
  }
  const agg = median(runs.filter((x) => x.side === 'aggregator').map((x) => x.docs_per_s));
  const direct = median(runs.filter((x) => x.side === 'direct').map((x) => x.docs_per_s));
  const geomean = Math.exp(pairRatios.reduce((s, x) => s + Math.log(x), 0) / pairRatios.length);
  emitResult({
    bench: 'aggregator.ingest-throughput',
    docs: DOCS, batch: BATCH, senders: SENDERS, rounds: ROUNDS,
    ndjson_mb: round(rawBytes / 1e6), gzip_mb: round(gzBytes / 1e6),
    opensearch: os.embedded ? 'embedded single node (same machine)' : 'OPENSEARCH_URL',
    aggregator_docs_per_s: Math.round(agg),
    direct_bulk_docs_per_s: Math.round(direct),
    ratio: round(geomean, 3),
    round_ratios: pairRatios.map((x) => round(x, 3)),
    ratio_of_medians: round(agg / direct, 3),
    goal_ratio: 0.9,
    pass: geomean >= 0.9,
    warmup_rounds: WARMUP_ROUNDS,
    ...(legacyRatios.length
      ? {
          aggregator_legacy_docs_per_s: Math.round(median(runs.filter((x) => x.side === 'aggregator-legacy').map((x) => x.docs_per_s))),
          vs_legacy: round(Math.exp(legacyRatios.reduce((s, x) => s + Math.log(x), 0) / legacyRatios.length), 2),
          vs_legacy_rounds: legacyRatios.map((x) => round(x, 2)),
        }
      : {}),
    runs,
  });
} finally {
  await osPool.close();
  await os.stop();
}
