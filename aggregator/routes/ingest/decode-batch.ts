/**
 * Turns an inflated NDJSON ingest body into validated records and per-line rejections.
 * Pure; one pass over the buffer. A bad line never spoils its neighbours.
 */
import { Compile } from 'typebox/compile';
import { LogRecordSchema, type LogRecord } from '../../../shared/record.ts';
import type { IngestRejection } from '../../../shared/schemas/ingest.ts';
import { canonicalTimestamp } from '../../../shared/time.ts';

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

export function decodeBatch(body: Buffer, cluster: string, maxRecordBytes: number): DecodedBatch {
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
        decodeLine(body.toString('utf8', start, end), line, cluster, out);
      }
    }
    start = end + 1;
  }
  return out;
}

function decodeLine(text: string, line: number, cluster: string, out: DecodedBatch): void {
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
  const unchanged = ts === record.timestamp;
  record.timestamp = ts;
  out.records.push(record);
  out.lines.push(line);
  out.raw.push(unchanged ? text : undefined);
}
