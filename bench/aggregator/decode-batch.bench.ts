/**
 * The ingest decoder's CPU cost per record, and the share of it spent proving that a
 * record's raw text may be stored as is (no duplicated key, decode-batch.ts
 * `hasDuplicateKeys`), measured in the same run on the same lines. No OpenSearch.
 *
 *   node bench/aggregator/decode-batch.bench.ts [--docs 200000] [--rounds 5]
 *
 * `decode_us_per_record` is the whole decodeBatch (split, JSON.parse, schema check,
 * timestamp, window, duplicate-key check); `dup_check_us_per_record` is the duplicate-key
 * check alone on the same texts and parsed values; medians over the rounds.
 */
import { parseArgs } from 'node:util';
import { acceptanceWindow, decodeBatch, hasDuplicateKeys } from '../../aggregator/routes/ingest/decode-batch.ts';
import { emitResult, log, round } from './bench-services.ts';
import { generateRecords, podsOf } from './realistic-records.ts';

const { values } = parseArgs({
  options: { docs: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
});
const DOCS = Number(values.docs);
const ROUNDS = Number(values.rounds);
const nowMs = Date.now();
const texts = [
  ...generateRecords({
    cluster: 'bench',
    pods: podsOf(10, 20),
    count: DOCS,
    startMs: nowMs - 3_600_000,
    endMs: nowMs,
    seed: 7,
  }),
].map((r) => JSON.stringify(r));
const parsed = texts.map((s) => JSON.parse(s) as unknown);
const bodies: Buffer[] = [];
for (let i = 0; i < texts.length; i += 2000) bodies.push(Buffer.from(texts.slice(i, i + 2000).join('\n') + '\n'));
const limits = { maxRecordBytes: 2 << 20, ...acceptanceWindow(nowMs, 7 * 86_400_000, 600_000) };
log(`${DOCS} records, ${round(bodies.reduce((n, b) => n + b.length, 0) / 1e6)} MB NDJSON`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const decode: number[] = [];
const dup: number[] = [];
let sink = 0;
for (let r = 0; r <= ROUNDS; r++) {
  let t0 = performance.now();
  for (const b of bodies) sink += decodeBatch(b, 'bench', limits).records.length;
  const d = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < texts.length; i++) if (hasDuplicateKeys(texts[i]!, parsed[i])) sink++;
  const k = performance.now() - t0;
  if (r === 0) continue; // warm-up
  decode.push((d * 1000) / DOCS);
  dup.push((k * 1000) / DOCS);
  log(
    `round ${r}: decode ${round(decode.at(-1)!, 2)} µs/record, duplicate-key check ${round(dup.at(-1)!, 3)} µs/record`,
  );
}
if (sink !== DOCS * (ROUNDS + 1)) throw new Error(`unexpected decode result ${sink}`);
emitResult({
  bench: 'aggregator.decode-batch',
  docs: DOCS,
  rounds: ROUNDS,
  decode_us_per_record: round(median(decode), 2),
  dup_check_us_per_record: round(median(dup), 3),
  dup_check_share: round(median(dup) / median(decode), 3),
});
