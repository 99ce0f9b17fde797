/**
 * Turns an inflated NDJSON ingest body into validated records and per-line rejections.
 * Pure; one pass over the buffer. A bad line never spoils its neighbours. A record outside
 * the acceptance window is rejected (`too_old` / `too_new`): it is well-formed but would
 * land in a day retention deletes, or create a day index far in the future.
 */
import { Compile } from 'typebox/compile';
import { LogRecordSchema, type LogRecord } from '../../../shared/record.ts';
import type { IngestRejection } from '../../../shared/schemas/ingest.ts';
import { canonicalTimestamp, formatNanos } from '../../../shared/time.ts';

const checkRecord = Compile(LogRecordSchema);

export interface DecodedBatch {
  /** Lines that held something (blank lines are not records). */
  received: number;
  records: LogRecord[];
  /** 1-based batch line of each record, parallel to `records`. */
  lines: number[];
  /**
   * The record's JSON text as received, parallel to `records`, when it can be stored as
   * is (its timestamp was already canonical); undefined when the record was changed. Lets
   * the bulk writer skip re-serialising (bench/aggregator/ingest-throughput.bench.ts).
   */
  raw: Array<string | undefined>;
  rejections: IngestRejection[];
}

export interface DecodeLimits {
  maxRecordBytes: number;
  /** Canonical timestamps bounding the acceptance window, inclusive (see {@link acceptanceWindow}). */
  oldest: string;
  newest: string;
}

/**
 * Pure: the acceptance window around `nowMs` as canonical timestamps, which compare as
 * strings in time order (shared/time.ts), so each record costs two string comparisons.
 */
export function acceptanceWindow(nowMs: number, maxAgeMs: number, maxAheadMs: number): { oldest: string; newest: string } {
  return {
    oldest: formatNanos(BigInt(nowMs - maxAgeMs) * 1_000_000n),
    newest: formatNanos(BigInt(nowMs + maxAheadMs) * 1_000_000n + 999_999n),
  };
}

export function decodeBatch(body: Buffer, cluster: string, limits: DecodeLimits): DecodedBatch {
  const { maxRecordBytes } = limits;
  const out: DecodedBatch = { received: 0, records: [], lines: [], raw: [], rejections: [] };
  let start = 0;
  let line = 0;
  while (start < body.length) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    line++;
    const length = end - start;
    if (length > 0 && !(length === 1 && body[start] === 0x0d)) {
      out.received++;
      if (length > maxRecordBytes) {
        out.rejections.push({ line, reason: 'record_too_large', message: `record is ${length} bytes, the limit is ${maxRecordBytes}` });
      } else {
        decodeLine(body.toString('utf8', start, end), line, cluster, limits, out);
      }
    }
    start = end + 1;
  }
  return out;
}

function decodeLine(text: string, line: number, cluster: string, limits: DecodeLimits, out: DecodedBatch): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    out.rejections.push({ line, reason: 'invalid_json', message: 'line is not valid JSON' });
    return;
  }
  if (!checkRecord.Check(value)) {
    const first = checkRecord.Errors(value)[0];
    const where = first ? `${first.instancePath || '/'} ${first.message}` : 'does not match the record schema';
    const id = typeof (value as { id?: unknown })?.id === 'string' ? (value as { id: string }).id : undefined;
    out.rejections.push({ line, ...(id ? { id } : {}), reason: 'invalid_record', message: `invalid record: ${where}` });
    return;
  }
  const record = value as LogRecord;
  if (record.cluster !== cluster) {
    out.rejections.push({ line, id: record.id, reason: 'cluster_mismatch', message: `record cluster "${record.cluster}" is not the token's cluster "${cluster}"` });
    return;
  }
  const ts = canonicalTimestamp(record.timestamp);
  if (ts === undefined) {
    out.rejections.push({ line, id: record.id, reason: 'invalid_record', message: 'timestamp is not RFC 3339' });
    return;
  }
  if (ts < limits.oldest) {
    out.rejections.push({ line, id: record.id, reason: 'too_old', message: `timestamp ${ts} is before the accepted window (from ${limits.oldest})` });
    return;
  }
  if (ts > limits.newest) {
    out.rejections.push({ line, id: record.id, reason: 'too_new', message: `timestamp ${ts} is after the accepted window (to ${limits.newest})` });
    return;
  }
  // The raw text is stored only if OpenSearch reads it as the object validated here. With
  // a duplicated key JSON.parse keeps the last value while another reader may keep the
  // first or fail, so such a record is re-serialised from the validated object instead of
  // being refused: what is stored is exactly what was checked, and the line is not lost.
  const unchanged = ts === record.timestamp && !hasDuplicateKeys(text, value);
  record.timestamp = ts;
  out.records.push(record);
  out.lines.push(line);
  out.raw.push(unchanged ? text : undefined);
}

/**
 * Pure: whether the JSON `text`, which parsed to `value`, repeats a key in any object.
 * A key is a string followed by `:`; JSON.parse keeps one property per distinct key, so
 * the text has more keys than the parsed value exactly when some object repeats one.
 * Strings are skipped with native indexOf, so the cost is a few steps per string, not per
 * character (bench/aggregator/ingest-throughput.bench.ts).
 */
export function hasDuplicateKeys(text: string, value: unknown): boolean {
  return textKeyCount(text) !== valueKeyCount(value);
}

function textKeyCount(text: string): number {
  let keys = 0;
  let at = 0;
  for (;;) {
    const open = text.indexOf('"', at);
    if (open === -1) return keys;
    let close = text.indexOf('"', open + 1);
    while (close !== -1 && isEscaped(text, close)) close = text.indexOf('"', close + 1);
    if (close === -1) return keys;
    let next = close + 1;
    let c = text.charCodeAt(next);
    while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) c = text.charCodeAt(++next);
    if (c === 0x3a) keys++;
    at = next;
  }
}

/** The quote at `at` is escaped when an odd run of backslashes precedes it. */
function isEscaped(text: string, at: number): boolean {
  let k = at - 1;
  while (text.charCodeAt(k) === 0x5c) k--;
  return ((at - 1 - k) & 1) === 1;
}

function valueKeyCount(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const v of value) n += valueKeyCount(v);
    return n;
  }
  for (const k in value) n += 1 + valueKeyCount((value as Record<string, unknown>)[k]);
  return n;
}
