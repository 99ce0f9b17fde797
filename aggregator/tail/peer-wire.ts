/**
 * The peer tail stream's wire format (pure): NDJSON, one event per line, from the replica
 * that accepted records to a peer replica that serves live views.
 *
 *   {"records":[<LogRecord>, …]}   records the sender accepted, in the order it received them
 *   {"gap":{"count":n,"fromTimestamp":"…","toTimestamp":"…"}}
 *                                   the sender's subscription for this peer overflowed
 *   {}                              heartbeat (the receiver's idle timeout detects a dead link)
 *
 * The sender splits batches into lines of at most {@link PEER_LINE_MAX_RECORDS} records so
 * a line stays small; the receiver refuses a line over its byte bound (the link is then
 * dropped and re-established, and the views are told the span).
 */
import type { LogRecord } from '../../shared/record.ts';
import type { TailGap } from './tail-feed.ts';

export const PEER_LINE_MAX_RECORDS = 500;

export type PeerEvent =
  { kind: 'records'; records: LogRecord[] } | { kind: 'gap'; gap: TailGap } | { kind: 'heartbeat' };

/** Lines (each ending in `\n`) for records, in chunks of at most PEER_LINE_MAX_RECORDS. */
export function encodeRecords(records: readonly LogRecord[]): string {
  let out = '';
  for (let i = 0; i < records.length; i += PEER_LINE_MAX_RECORDS)
    out += `{"records":${JSON.stringify(records.slice(i, i + PEER_LINE_MAX_RECORDS))}}\n`;
  return out;
}

export const encodeGap = (gap: TailGap): string => `${JSON.stringify({ gap })}\n`;
export const HEARTBEAT_LINE = '{}\n';

export class PeerWireError extends Error {
  override readonly name = 'PeerWireError';
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** A record from a peer keeps only what the views' matchers read; the peer already validated it. */
function isRecord(v: unknown): v is LogRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    isString(r['id']) &&
    isString(r['timestamp']) &&
    isString(r['cluster']) &&
    isString(r['namespace']) &&
    isString(r['message'])
  );
}

/** One line (without its newline) → event. Throws PeerWireError on anything else. */
export function decodeLine(line: string): PeerEvent {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new PeerWireError('peer sent a line that is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new PeerWireError('peer sent a line that is not an object');
  const o = v as Record<string, unknown>;
  if (Array.isArray(o['records'])) {
    if (!o['records'].every(isRecord)) throw new PeerWireError('peer sent a malformed record');
    return { kind: 'records', records: o['records'] };
  }
  const gap = o['gap'] as Record<string, unknown> | undefined;
  if (gap !== undefined) {
    if (
      typeof gap !== 'object' ||
      gap === null ||
      typeof gap['count'] !== 'number' ||
      !isString(gap['fromTimestamp']) ||
      !isString(gap['toTimestamp'])
    )
      throw new PeerWireError('peer sent a malformed gap');
    return {
      kind: 'gap',
      gap: { count: gap['count'], fromTimestamp: gap['fromTimestamp'], toTimestamp: gap['toTimestamp'] },
    };
  }
  if (Object.keys(o).length === 0) return { kind: 'heartbeat' };
  throw new PeerWireError('peer sent an unknown event');
}

/**
 * Splits a byte stream into lines. Owns the partial last line; a line longer than
 * `maxLineBytes` throws (memory stays bounded whatever the peer sends).
 */
export class PeerLineSplitter {
  readonly #maxLineBytes: number;
  #carry: Buffer[] = [];
  #carryBytes = 0;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** The complete lines in `chunk` (after what earlier chunks left over), as strings. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      if (this.#carryBytes + piece.length > this.#maxLineBytes)
        throw new PeerWireError('peer line over the size bound');
      if (this.#carry.length > 0) {
        this.#carry.push(piece);
        lines.push(Buffer.concat(this.#carry).toString('utf8'));
        this.#carry = [];
        this.#carryBytes = 0;
      } else {
        lines.push(piece.toString('utf8'));
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#carryBytes += rest.length;
      if (this.#carryBytes > this.#maxLineBytes) throw new PeerWireError('peer line over the size bound');
      this.#carry.push(Buffer.from(rest));
    }
    return lines;
  }
}
