/**
 * Opaque pagination cursors over `search_after` (DESIGN.md §5). Pure.
 *
 * A cursor pins the position (last record's canonical timestamp and id), the resolved time
 * window (so `now-1h` means the same on every page) and a digest of the filters (so a
 * cursor cannot be replayed against a different query).
 */
import { createHash } from 'node:crypto';
import { MAX_TIME_NS } from '../../shared/time.ts';

/** Canonical timestamp (shared/time.ts): what `search_after` compares against. */
const CANONICAL_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

export interface CursorState {
  /** Canonical timestamp of the last record returned. */
  ts: string;
  /** Id of the last record returned (tiebreaker). */
  id: string;
  /** Resolved window, nanoseconds as decimal strings. */
  start: string;
  end: string;
  /** Digest of the filters the cursor belongs to. */
  q: string;
}

export class CursorError extends Error {
  override readonly name = 'CursorError';
}

export function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify([1, state.ts, state.id, state.start, state.end, state.q])).toString('base64url');
}

export function decodeCursor(cursor: string): CursorState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('malformed cursor');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 6 ||
    parsed[0] !== 1 ||
    !parsed.slice(1).every((v) => typeof v === 'string') ||
    !CANONICAL_TS.test(parsed[1] as string) ||
    (parsed[2] as string).length > 256 ||
    !/^\d{1,19}$/.test(parsed[3] as string) ||
    !/^\d{1,19}$/.test(parsed[4] as string)
  ) {
    throw new CursorError('malformed cursor');
  }
  const [, ts, id, start, end, q] = parsed as [number, string, string, string, string, string];
  // A window the request could not have asked for: forged or corrupted.
  if (BigInt(end) > MAX_TIME_NS || BigInt(start) > BigInt(end)) throw new CursorError('malformed cursor');
  return { ts, id, start, end, q };
}

/** Stable digest of a filter object (key order does not matter). */
export function filterDigest(filters: Record<string, unknown>): string {
  const canonical = JSON.stringify(filters, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)))
      : typeof v === 'bigint' ? v.toString() : v,
  );
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}
