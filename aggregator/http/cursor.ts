/**
 * The one cursor codec of every list (DESIGN.md §5, §6). Pure.
 *
 * A cursor is opaque to callers: base64url of `[2, kind, digest, position]`.
 * - `kind` names the list (`logs`, `discovery:pods`, `configs`, …): a cursor of one list is
 *   refused by another.
 * - `digest` (`filterDigest`) pins the filters the cursor was made for: a cursor replayed
 *   against different filters is refused instead of silently paging another query.
 * - `position` is the list's own `search_after` state (plus anything the list pins, such as
 *   the resolved time window of a log query), checked by the list's guard on decode.
 *
 * Every refusal is an AppError `AGG_ERR_INVALID_CURSOR` (400): routes do not translate.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../errors.ts';
import { MAX_TIME_NS } from '../../shared/time.ts';

const VERSION = 2;
/** Longest cursor accepted, characters (also the `cursor` parameter's maxLength). */
export const MAX_CURSOR_LENGTH = 2048;

export class CursorError extends AppError {
  constructor(message: string) {
    super('AGG_ERR_INVALID_CURSOR', `cursor: ${message}`);
  }
}

export function encodeCursor(kind: string, digest: string, position: unknown): string {
  return Buffer.from(JSON.stringify([VERSION, kind, digest, position])).toString('base64url');
}

/**
 * The position of a cursor made by `encodeCursor(kind, digest, …)`. Throws CursorError when
 * it is malformed, of another list, of other filters, or its position fails `guard`.
 */
export function decodeCursor<P>(cursor: string, kind: string, digest: string, guard: (p: unknown) => p is P): P {
  if (cursor.length > MAX_CURSOR_LENGTH) throw new CursorError('malformed cursor');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('malformed cursor');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 4 ||
    parsed[0] !== VERSION ||
    typeof parsed[1] !== 'string' ||
    typeof parsed[2] !== 'string'
  ) {
    throw new CursorError('malformed cursor');
  }
  if (parsed[1] !== kind) throw new CursorError('belongs to a different list');
  if (parsed[2] !== digest) throw new CursorError('belongs to a different query; repeat the same filters');
  if (!guard(parsed[3])) throw new CursorError('malformed cursor');
  return parsed[3];
}

/** Stable digest of a filter object (key order and undefined values do not matter). */
export function filterDigest(filters: Record<string, unknown>): string {
  const canonical = JSON.stringify(filters, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : typeof v === 'bigint'
        ? v.toString()
        : v,
  );
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

/** Guard for a `search_after` of plain sort values (strings, numbers, null), at most `max` long. */
export function isSortValues(max: number) {
  return (p: unknown): p is Array<string | number | null> =>
    Array.isArray(p) &&
    p.length >= 1 &&
    p.length <= max &&
    p.every((v) => v === null || typeof v === 'number' || (typeof v === 'string' && v.length <= 512));
}

// ---- the log list's position -------------------------------------------------------------

/** Canonical timestamp (shared/time.ts): what `search_after` compares against. */
const CANONICAL_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

export interface LogCursorState {
  /** Canonical timestamp of the last record returned. */
  ts: string;
  /** Id of the last record returned (tiebreaker). */
  id: string;
  /** Resolved window, nanoseconds as decimal strings (so `now-1h` means the same on every page). */
  start: string;
  end: string;
}

export const LOG_CURSOR_KIND = 'logs';

function isLogPosition(p: unknown): p is [string, string, string, string] {
  if (!Array.isArray(p) || p.length !== 4 || !p.every((v) => typeof v === 'string')) return false;
  const [ts, id, start, end] = p as [string, string, string, string];
  if (!CANONICAL_TS.test(ts) || id.length > 256 || !/^\d{1,19}$/.test(start) || !/^\d{1,19}$/.test(end)) return false;
  // A window the request could not have asked for: forged or corrupted.
  return BigInt(end) <= MAX_TIME_NS && BigInt(start) <= BigInt(end);
}

export function encodeLogCursor(state: LogCursorState, digest: string): string {
  return encodeCursor(LOG_CURSOR_KIND, digest, [state.ts, state.id, state.start, state.end]);
}

export function decodeLogCursor(cursor: string, digest: string): LogCursorState {
  const [ts, id, start, end] = decodeCursor(cursor, LOG_CURSOR_KIND, digest, isLogPosition);
  return { ts, id, start, end };
}
