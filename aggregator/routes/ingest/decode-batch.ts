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
 * Outside strings a `:` only ever follows a key, and JSON.parse keeps one property per
 * distinct key, so the text has more keys than the parsed value exactly when some object
 * repeats one. Counting exactly needs a walk over every character (as costly as
 * JSON.parse itself, bench/aggregator/decode-batch.bench.ts), so {@link quickKeyCount}
 * counts from the few `":` occurrences instead and the exact walk runs only when it cannot
 * tell.
 */
export function hasDuplicateKeys(text: string, value: unknown): boolean {
  const quick = quickKeyCount(text);
  return (quick >= 0 ? quick : exactKeyCount(text)) !== valueKeyCount(value);
}

/** Whitespace right before a colon: a key would not end in `":`, so the quick count is off. */
const SPACE_BEFORE_COLON = /[ \t\r\n]:/;

/**
 * The keys of `text` counted as the `":` pairs whose quote is unescaped, or -1 when the
 * count could be wrong. Without whitespace before a colon every key ends in `":`. The only
 * other unescaped `":` is a string opening with a colon (`":-)"`), whose quote follows
 * `:` `,` `[` `{` or whitespace; a pair after one of those may be either, so -1.
 */
function quickKeyCount(text: string): number {
  if (SPACE_BEFORE_COLON.test(text)) return -1;
  let keys = 0;
  let at = 0;
  for (;;) {
    const q = text.indexOf('":', at);
    if (q === -1) return keys;
    at = q + 2;
    let k = q - 1;
    while (text.charCodeAt(k) === 0x5c) k--;
    if (((q - 1 - k) & 1) === 1) continue; // an escaped quote, inside a string
    const prev = text.charCodeAt(q - 1);
    if (prev === 0x3a || prev === 0x2c || prev === 0x5b || prev === 0x7b || prev === 0x20 || prev === 0x09 || prev === 0x0a || prev === 0x0d) return -1;
    keys++;
  }
}

/** The colons outside strings, one plain loop over the text. */
function exactKeyCount(text: string): number {
  let keys = 0;
  let inString = false;
  for (let i = 0, n = text.length; i < n; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // the escaped character cannot end the string
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x3a) keys++;
  }
  return keys;
}

function valueKeyCount(value: unknown): number {
  let n = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (v !== null && typeof v === 'object') n += valueKeyCount(v);
    }
    return n;
  }
  if (value === null || typeof value !== 'object') return 0;
  for (const k in value) {
    n++;
    const v = (value as Record<string, unknown>)[k];
    if (v !== null && typeof v === 'object') n += valueKeyCount(v);
  }
  return n;
}
