/**
 * Where the write cost is: the same realistic records indexed with `_bulk` into the same
 * OpenSearch, in one run, once per variant of the log index mapping and settings; docs/s
 * and bytes on disk per variant, each as a ratio to today's layout (MAPPING_VERSION 1,
 * LEGACY_INDEX_SETTINGS) measured in the same round.
 *
 *   node bench/aggregator/mapping-variants.bench.ts [--docs 100000] [--batch 2000] [--senders 2] [--rounds 2] [--variants a,b]
 *
 * Variants (the mapping of every other field is today's):
 *   today            wildcard `message` + `message.text` (text), index sorting, best_compression, 1 s refresh
 *   no-wildcard      `message` as `text` only (no n-gram field: no exact substring/regex)
 *   no-message-text  `message` wildcard only (no full-text sub-field)
 *   no-sort          no index sorting
 *   match-only-text  `message.text` as match_only_text
 *   default-codec    LZ4 stored fields instead of best_compression
 *   refresh-5s       refresh every 5 s instead of 1 s
 *   chosen           what the aggregator installs now (aggregator/config.ts defaults)
 *   chosen-no-sort   the same without index sorting
 *   keyword-only     the floor: `message` kept in _source only, not indexed
 *
 * Each variant gets a fresh index prefix and one day index; the timed section is the bulk
 * load plus the final refresh (what makes the lines searchable). Bytes are the primary
 * store size after a flush (`flushed_bytes`) and after a force-merge to one segment
 * (`merged_bytes`, independent of when merges happened to run). Rounds rotate the order of
 * the variants so drift (other load on the machine) falls on all of them; `docs_per_s_ratio`
 * is the geometric mean over rounds of the variant's docs/s over today's in that round.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { LogRecord } from '../../shared/record.ts';
import { buildBulkBody } from '../../aggregator/store/bulk-writer.ts';
import {
  LEGACY_INDEX_SETTINGS,
  clusterAlias,
  dayIndexName,
  logIndexTemplate,
  type LogIndexSettings,
} from '../../aggregator/store/log-indices.ts';
import { configWith, indexSettingsOf } from '../../aggregator/config.ts';
import { benchOpenSearch, dropPrefix, emitResult, freshPrefix, log, round, runConcurrently } from './bench-services.ts';
import { generateRecords, podsOf } from './realistic-records.ts';

const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '2000' },
    senders: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    variants: { type: 'string' },
    heap: { type: 'string', default: '2048' },
  },
});
const DOCS = Number(values.docs);
const BATCH = Number(values.batch);
const SENDERS = Number(values.senders);
const ROUNDS = Number(values.rounds);
const CLUSTER = 'bench';

type Template = ReturnType<typeof logIndexTemplate>;
type Properties = Record<string, unknown>;
interface Variant {
  name: string;
  settings: LogIndexSettings;
  /** Mapping edit on top of the template built from `settings` (mutates its argument). */
  mapping?: (properties: Properties) => void;
}

const today = LEGACY_INDEX_SETTINGS;
const ALL: Variant[] = [
  { name: 'today', settings: today },
  { name: 'no-wildcard', settings: today, mapping: (p) => void (p['message'] = { type: 'text' }) },
  { name: 'no-message-text', settings: today, mapping: (p) => void (p['message'] = { type: 'wildcard' }) },
  { name: 'no-sort', settings: { ...today, sortByTime: false } },
  { name: 'match-only-text', settings: { ...today, messageText: 'match_only_text' } },
  { name: 'default-codec', settings: { ...today, codec: 'default' } },
  { name: 'refresh-5s', settings: { ...today, refreshIntervalMs: 5000 } },
  { name: 'chosen', settings: indexSettingsOf(configWith({}).opensearch) },
  { name: 'chosen-no-sort', settings: { ...indexSettingsOf(configWith({}).opensearch), sortByTime: false } },
  {
    name: 'keyword-only',
    settings: today,
    mapping: (p) => void (p['message'] = { type: 'keyword', index: false, doc_values: false }),
  },
];
const wanted = values.variants?.split(',');
const VARIANTS = wanted ? ALL.filter((v) => v.name === 'today' || wanted.includes(v.name)) : ALL;

// One set of records for every variant: the last hour, 10 namespaces × 20 pods.
const nowMs = Date.now();
const batches: LogRecord[][] = [];
{
  let current: LogRecord[] = [];
  for (const r of generateRecords({
    cluster: CLUSTER,
    pods: podsOf(10, 20),
    count: DOCS,
    startMs: nowMs - 3_600_000,
    endMs: nowMs,
    seed: 11,
  })) {
    current.push(r);
    if (current.length === BATCH) {
      batches.push(current);
      current = [];
    }
  }
  if (current.length) batches.push(current);
}
const ndjsonBytes = batches.reduce((n, b) => n + b.reduce((m, r) => m + JSON.stringify(r).length + 1, 0), 0);
log(
  `${DOCS} records in ${batches.length} batches (${round(ndjsonBytes / 1e6)} MB NDJSON), ${VARIANTS.length} variants × ${ROUNDS} rounds`,
);

const os = await benchOpenSearch(Number(values.heap));
const pool = new Pool(os.url, { connections: SENDERS + 2 });

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await pool.request({
    method: method as 'GET',
    path,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const parsed = (await res.body.json()) as unknown;
  if (res.statusCode >= 300)
    throw new Error(`${method} ${path}: ${res.statusCode} ${JSON.stringify(parsed).slice(0, 300)}`);
  return parsed;
}

interface Run {
  variant: string;
  round: number;
  seconds: number;
  docs_per_s: number;
  flushed_bytes: number;
  merged_bytes: number;
  retries: number;
}

async function runVariant(v: Variant, roundNo: number): Promise<Run> {
  const prefix = freshPrefix(`mapvar-${v.name}`);
  const template: Template = logIndexTemplate(prefix, v.settings);
  v.mapping?.(template.template.mappings.properties as Properties);
  try {
    await call('PUT', `/_index_template/${prefix}-logs`, template);
    const ingestedAt = new Date().toISOString();
    const bodies = batches.map((b) => buildBulkBody(prefix, b, ingestedAt));
    const days = new Set(
      batches.flatMap((b) => [
        dayIndexName(prefix, CLUSTER, b[0]!.timestamp),
        dayIndexName(prefix, CLUSTER, b[b.length - 1]!.timestamp),
      ]),
    );
    for (const index of days) await call('PUT', `/${index}`, { aliases: { [clusterAlias(prefix, CLUSTER)]: {} } });
    let retries = 0;
    const t0 = performance.now();
    await runConcurrently(bodies.length, SENDERS, async (i) => {
      for (;;) {
        const res = await pool.request({
          path: '/_bulk?filter_path=errors,items.*.status',
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body: bodies[i],
        });
        const body = (await res.body.json()) as { errors?: boolean; items?: Array<Record<string, { status: number }>> };
        if (res.statusCode === 200 && body.errors === false) return;
        const statuses = (body.items ?? []).map((it) => Object.values(it)[0]?.status ?? 0);
        if (res.statusCode === 200 && statuses.every((s) => s < 300 || s === 409)) return; // resend after push-back
        if (res.statusCode !== 429 && !statuses.includes(429))
          throw new Error(`_bulk: ${res.statusCode} ${JSON.stringify(body).slice(0, 300)}`);
        retries++;
        await sleep(200);
      }
    });
    await call('POST', `/${prefix}-*/_refresh`);
    const seconds = (performance.now() - t0) / 1000;
    const count = ((await call('GET', `/${prefix}-*/_count`)) as { count: number }).count;
    if (count !== DOCS) throw new Error(`${v.name}: stored ${count} of ${DOCS}`);
    const storeBytes = async () =>
      (
        (await call('GET', `/${prefix}-*/_stats/store`)) as {
          _all: { primaries: { store: { size_in_bytes: number } } };
        }
      )._all.primaries.store.size_in_bytes;
    await call('POST', `/${prefix}-*/_flush`);
    const flushed = await storeBytes();
    await call('POST', `/${prefix}-*/_forcemerge?max_num_segments=1`);
    const merged = await storeBytes();
    return {
      variant: v.name,
      round: roundNo,
      seconds: round(seconds, 2),
      docs_per_s: Math.round(DOCS / seconds),
      flushed_bytes: flushed,
      merged_bytes: merged,
      retries,
    };
  } finally {
    await dropPrefix(os.url, prefix);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const geomean = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

try {
  // Warm-up (JIT, JVM, page cache): one untimed load of today's layout.
  log('warm-up');
  await runVariant(VARIANTS[0]!, -1);
  const runs: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const shift = (r * 3) % VARIANTS.length;
    const order = [...VARIANTS.slice(shift), ...VARIANTS.slice(0, shift)];
    for (const v of order) {
      const res = await runVariant(v, r + 1);
      log(
        `round ${r + 1}: ${v.name.padEnd(16)} ${res.docs_per_s} docs/s, ${round(res.merged_bytes / 2 ** 20)} MiB merged (${res.retries} retries)`,
      );
      runs.push(res);
    }
  }
  const table = VARIANTS.map((v) => {
    const mine = runs.filter((x) => x.variant === v.name);
    const ratios = mine.map(
      (x) => x.docs_per_s / runs.find((y) => y.variant === 'today' && y.round === x.round)!.docs_per_s,
    );
    const bytesRatios = mine.map(
      (x) => x.merged_bytes / runs.find((y) => y.variant === 'today' && y.round === x.round)!.merged_bytes,
    );
    return {
      variant: v.name,
      docs_per_s: Math.round(median(mine.map((x) => x.docs_per_s))),
      docs_per_s_ratio: round(geomean(ratios), 2),
      merged_mib: round(median(mine.map((x) => x.merged_bytes)) / 2 ** 20, 1),
      flushed_mib: round(median(mine.map((x) => x.flushed_bytes)) / 2 ** 20, 1),
      bytes_per_doc: Math.round(median(mine.map((x) => x.merged_bytes)) / DOCS),
      bytes_ratio: round(geomean(bytesRatios), 2),
    };
  });
  for (const row of table)
    log(
      `${row.variant.padEnd(16)} ${String(row.docs_per_s).padStart(6)} docs/s ×${row.docs_per_s_ratio}  ${row.merged_mib} MiB (${row.bytes_per_doc} B/doc) ×${row.bytes_ratio}`,
    );
  emitResult({
    bench: 'aggregator.mapping-variants',
    docs: DOCS,
    batch: BATCH,
    senders: SENDERS,
    rounds: ROUNDS,
    ndjson_mb: round(ndjsonBytes / 1e6),
    opensearch: os.embedded ? 'embedded single node (same machine)' : 'OPENSEARCH_URL',
    table,
    runs,
  });
} finally {
  await pool.close();
  await os.stop();
}
