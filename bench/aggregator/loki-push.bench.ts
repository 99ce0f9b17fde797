/**
 * Loki push throughput: the same records sent through `POST /loki/api/v1/push` (snappy
 * protobuf, as Promtail / Alloy send; `--json` adds JSON pushes) and through the agent
 * ingest route `POST /v1/ingest` (gzip NDJSON), in the same run, each side on a fresh
 * index prefix of one OpenSearch. The figure is `ratio` = push lines/s ÷ ingest lines/s
 * (geometric mean of per-round ratios; rounds alternate the order so drift falls on both).
 *
 *   OPENSEARCH_URL=… node bench/aggregator/loki-push.bench.ts [--docs 50000] [--batch 1000] [--senders 2] [--rounds 2] [--json]
 *
 * Bodies are built before the clock starts (the agents pay for encoding). Push batches
 * group each ingest batch's records by stream (labels = namespace, pod, container, node,
 * stream and the pod labels with Prometheus-safe names), as an agent's batch would. What
 * push costs on top of ingest: snappy + protobuf decoding, label parsing, one sha256 per
 * line for the deterministic id, level detection, and serialising records for `_bulk`
 * (ingest stores the agent's JSON text as is). Every run checks that it stored every line.
 * `cpu_ratio` isolates that cost: both sides' decoding to `_bulk` bodies in process, with
 * no HTTP and no store (on a machine where OpenSearch is the bottleneck, `ratio` hides it).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { compress, uncompress } from 'snappyjs';
import type { LogRecord } from '../../shared/record.ts';
import { parseRfc3339Nanos } from '../../shared/time.ts';
import { prometheusSafeName } from '../../aggregator/logql/stream-labels.ts';
import { acceptanceWindow, decodeBatch } from '../../aggregator/routes/ingest/decode-batch.ts';
import { decodePushProto } from '../../aggregator/routes/loki-push/push-proto.ts';
import { pushRecords } from '../../aggregator/routes/loki-push/push-records.ts';
import { buildBulkChunks } from '../../aggregator/store/bulk-writer.ts';
import {
  benchAggregator,
  benchOpenSearch,
  dropPrefix,
  emitResult,
  freshPrefix,
  log,
  round,
  runConcurrently,
} from './bench-services.ts';
import { generateRecords, podsOf } from './realistic-records.ts';

const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: '50000' },
    batch: { type: 'string', default: '1000' },
    senders: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    'warmup-rounds': { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    heap: { type: 'string', default: '2048' },
  },
});
const DOCS = Number(values.docs);
const BATCH = Number(values.batch);
const SENDERS = Number(values.senders);
const ROUNDS = Number(values.rounds);
const WARMUP_ROUNDS = Number(values['warmup-rounds']);
const CLUSTER = 'bench';

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

// --- bodies -------------------------------------------------------------------------------
const ingestBodies = batches.map((b) => gzipSync(Buffer.from(b.map((r) => JSON.stringify(r)).join('\n') + '\n')));

function streamLabels(r: LogRecord): Record<string, string> {
  const labels: Record<string, string> = {
    namespace: r.namespace,
    pod: r.pod,
    container: r.container,
    stream: r.stream,
  };
  if (r.node) labels['node'] = r.node;
  for (const [k, v] of Object.entries(r.labels ?? {})) if (v !== '') labels[prometheusSafeName(k)] = v;
  return labels;
}
function grouped(b: LogRecord[]): Array<{ labels: Record<string, string>; entries: Array<[bigint, string]> }> {
  const byKey = new Map<string, { labels: Record<string, string>; entries: Array<[bigint, string]> }>();
  for (const r of b) {
    const labels = streamLabels(r);
    const key = JSON.stringify(labels);
    let s = byKey.get(key);
    if (!s) byKey.set(key, (s = { labels, entries: [] }));
    s.entries.push([parseRfc3339Nanos(r.timestamp)!, r.message]);
  }
  return [...byKey.values()];
}

// A protobuf writer of push.proto's field numbers (as in the tests; the route's reader is not used).
function varint(n: bigint): Buffer {
  const out: number[] = [];
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return Buffer.from(out);
}
const field = (no: number, payload: Buffer) =>
  Buffer.concat([varint(BigInt((no << 3) | 2)), varint(BigInt(payload.length)), payload]);
const num = (no: number, n: bigint) => Buffer.concat([varint(BigInt(no << 3)), varint(n)]);
function protoBody(b: LogRecord[]): Buffer {
  const streams = grouped(b).map((s) =>
    field(
      1,
      Buffer.concat([
        field(
          1,
          Buffer.from(
            `{${Object.entries(s.labels)
              .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
              .join(', ')}}`,
          ),
        ),
        ...s.entries.map(([ts, line]) =>
          field(
            2,
            Buffer.concat([
              field(1, Buffer.concat([num(1, ts / 1_000_000_000n), num(2, ts % 1_000_000_000n)])),
              field(2, Buffer.from(line)),
            ]),
          ),
        ),
      ]),
    ),
  );
  return compress(Buffer.concat(streams));
}
function jsonBody(b: LogRecord[]): Buffer {
  return gzipSync(
    Buffer.from(
      JSON.stringify({
        streams: grouped(b).map((s) => ({
          stream: s.labels,
          values: s.entries.map(([ts, line]) => [String(ts), line]),
        })),
      }),
    ),
  );
}
const protoBodies = batches.map(protoBody);
const jsonBodies = values.json ? batches.map(jsonBody) : [];
const mb = (xs: Buffer[]) => round(xs.reduce((n, b) => n + b.length, 0) / 1e6, 2);
log(
  `${DOCS} lines in ${batches.length} batches; ingest gzip ${mb(ingestBodies)} MB, push snappy protobuf ${mb(protoBodies)} MB${values.json ? `, push gzip JSON ${mb(jsonBodies)} MB` : ''}`,
);

// --- in process: the aggregator's own CPU per line, no HTTP, no store ---------------------
// Each side from its request body to its `_bulk` bodies: ingest = gunzip + decodeBatch +
// bulk chunks from the agent's JSON text; push = snappy + protobuf + pushRecords + bulk chunks.
function cpuLinesPerS(work: () => void): number {
  for (let i = 0; i < 2; i++) work();
  const t0 = performance.now();
  const reps = 5;
  for (let i = 0; i < reps; i++) work();
  return Math.round((DOCS * reps) / ((performance.now() - t0) / 1000));
}
const cpuWindow = acceptanceWindow(Date.now(), 7 * 86_400_000, 600_000);
const cpu = { ingest: 0, push: 0 };
for (let r = 0; r < 2; r++) {
  // Alternate the order (JIT and GC drift fall on both); keep the better of two.
  const sides = r === 0 ? (['ingest', 'push'] as const) : (['push', 'ingest'] as const);
  for (const side of sides) {
    const v =
      side === 'ingest'
        ? cpuLinesPerS(() => {
            for (const b of ingestBodies) {
              const d = decodeBatch(gunzipSync(b), CLUSTER, { maxRecordBytes: 2 << 20, ...cpuWindow });
              buildBulkChunks('p', d.records, 'x', d.raw, 10 << 20);
            }
          })
        : cpuLinesPerS(() => {
            for (const b of protoBodies) {
              const d = pushRecords(decodePushProto(uncompress(b)), {
                cluster: CLUSTER,
                maxLineBytes: 2 << 20,
                ...cpuWindow,
              });
              buildBulkChunks('p', d.records, 'x', undefined, 10 << 20);
            }
          });
    cpu[side] = Math.max(cpu[side], v);
  }
}
log(`in process: ingest ${cpu.ingest} lines/s, push ${cpu.push} lines/s`);

// --- runs ---------------------------------------------------------------------------------
type Side = 'ingest' | 'push-protobuf' | 'push-json';
interface RunResult {
  side: Side;
  lines: number;
  seconds: number;
  lines_per_s: number;
  retries: number;
}

const os = await benchOpenSearch(Number(values.heap));

async function run(side: Side): Promise<RunResult> {
  const prefix = freshPrefix(`lokipush-${side}`);
  const agg = await benchAggregator(os.url, prefix);
  const token = await agg.token({ name: 'bench agent', scopes: ['ingest'], clusters: [CLUSTER] });
  const pool = new Pool(agg.url, { connections: SENDERS });
  const bodies = side === 'ingest' ? ingestBodies : side === 'push-json' ? jsonBodies : protoBodies;
  const request =
    side === 'ingest'
      ? { path: '/v1/ingest', headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' } }
      : side === 'push-json'
        ? { path: '/loki/api/v1/push', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }
        : { path: '/loki/api/v1/push', headers: { 'content-type': 'application/x-protobuf' } };
  let retries = 0;
  const t0 = performance.now();
  await runConcurrently(bodies.length, SENDERS, async (i) => {
    for (;;) {
      const res = await pool.request({
        method: 'POST',
        path: request.path,
        headers: { authorization: `Bearer ${token}`, ...request.headers },
        body: bodies[i],
      });
      const text = await res.body.text();
      if (res.statusCode === 200 || res.statusCode === 204) return;
      if (res.statusCode !== 429 && res.statusCode !== 503)
        throw new Error(`${side}: ${res.statusCode} ${text.slice(0, 300)}`);
      retries++;
      await sleep(200);
    }
  });
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  await fetch(`${os.url}/${prefix}-*/_refresh`, { method: 'POST' });
  const stored = ((await (await fetch(`${os.url}/${prefix}-*/_count`)).json()) as { count: number }).count;
  await agg.close();
  await dropPrefix(os.url, prefix);
  if (stored !== DOCS) throw new Error(`${side} stored ${stored} of ${DOCS}`);
  return { side, lines: stored, seconds: round(seconds, 2), lines_per_s: Math.round(DOCS / seconds), retries };
}

const geomean = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  const runs: RunResult[] = [];
  const protoRatios: number[] = [];
  const jsonRatios: number[] = [];
  for (let r = -WARMUP_ROUNDS; r < ROUNDS; r++) {
    const sides: Side[] = values.json ? ['ingest', 'push-protobuf', 'push-json'] : ['ingest', 'push-protobuf'];
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    const round_: RunResult[] = [];
    for (const side of order) {
      const res = await run(side);
      log(
        `${r < 0 ? 'warm-up' : `round ${r + 1}`}: ${side} ${res.lines_per_s} lines/s (${res.seconds} s, ${res.retries} retries)`,
      );
      round_.push(res);
    }
    if (r < 0) continue;
    runs.push(...round_);
    const of = (s: Side) => round_.find((x) => x.side === s)?.lines_per_s;
    protoRatios.push(of('push-protobuf')! / of('ingest')!);
    if (values.json) jsonRatios.push(of('push-json')! / of('ingest')!);
  }
  const med = (s: Side) => Math.round(median(runs.filter((x) => x.side === s).map((x) => x.lines_per_s)));
  emitResult({
    bench: 'aggregator.loki-push',
    docs: DOCS,
    batch: BATCH,
    senders: SENDERS,
    rounds: ROUNDS,
    opensearch: os.embedded ? 'embedded single node (same machine)' : 'OPENSEARCH_URL',
    ingest_lines_per_s: med('ingest'),
    push_protobuf_lines_per_s: med('push-protobuf'),
    ratio: round(geomean(protoRatios), 3),
    round_ratios: protoRatios.map((x) => round(x, 3)),
    ...(values.json
      ? {
          push_json_lines_per_s: med('push-json'),
          json_ratio: round(geomean(jsonRatios), 3),
          json_round_ratios: jsonRatios.map((x) => round(x, 3)),
        }
      : {}),
    cpu_ingest_lines_per_s: cpu.ingest,
    cpu_push_lines_per_s: cpu.push,
    cpu_ratio: round(cpu.push / cpu.ingest, 3),
    warmup_rounds: WARMUP_ROUNDS,
    runs,
  });
} finally {
  await os.stop();
}
