/**
 * Request parameters → LogQuery for the retrieval endpoints. Pure. Every problem is a
 * 400 with a message that names the parameter; asking for a cluster or namespace outside
 * the token's limits is a 403 (and the limits are applied in the query regardless).
 */
import { parseTimeParam, InvalidTimeError, nowNanos } from '../../../shared/time.ts';
import { AppError, invalidRequest } from '../../errors.ts';
import type { Principal } from '../../auth/scopes.ts';
import { parseLabelSelector, LabelSelectorError } from '../../query/label-selector.ts';
import { decodeCursor, filterDigest, CursorError } from '../../query/cursor.ts';
import type { AccessScope, LogQuery } from '../../query/log-query.ts';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** Default look-back when no `start` is given. */
export const DEFAULT_WINDOW_NS = 3_600_000_000_000n;

export function scopeOf(principal: Principal | null): AccessScope {
  return { clusters: principal?.clusters ?? null, namespaces: principal?.namespaces ?? null };
}

/** 403 when the caller explicitly names a cluster or namespace outside its limits. */
export function checkWithinScope(scope: AccessScope, clusters?: readonly string[], namespaces?: readonly string[]) {
  const outside = (allowed: readonly string[] | null, asked?: readonly string[]) =>
    allowed && asked ? asked.filter((a) => !allowed.includes(a)) : [];
  const badClusters = outside(scope.clusters, clusters);
  if (badClusters.length) throw new AppError('AGG_ERR_FORBIDDEN', `token may not read cluster(s) ${badClusters.join(', ')}`);
  const badNs = outside(scope.namespaces, namespaces);
  if (badNs.length) throw new AppError('AGG_ERR_FORBIDDEN', `token may not read namespace(s) ${badNs.join(', ')}`);
}

export function resolveWindow(start: string | undefined, end: string | undefined, now = nowNanos()): { startNs: bigint; endNs: bigint } {
  let endNs: bigint;
  let startNs: bigint;
  try {
    endNs = end === undefined ? now : parseTimeParam(end, now);
    startNs = start === undefined ? endNs - DEFAULT_WINDOW_NS : parseTimeParam(start, now);
  } catch (err) {
    if (err instanceof InvalidTimeError) throw invalidRequest(err.message);
    throw err;
  }
  if (endNs < startNs) throw invalidRequest('`end` is before `start`');
  return { startNs, endNs };
}

export function parseLabels(selector: string | undefined) {
  if (selector === undefined || selector.trim() === '') return undefined;
  try {
    return parseLabelSelector(selector);
  } catch (err) {
    if (err instanceof LabelSelectorError) throw invalidRequest(`labels: ${err.message}`);
    throw err;
  }
}

/**
 * Applies a cursor: position and pinned window come from it; it must belong to the same
 * filters. Returns the query unchanged when there is no cursor.
 */
export function applyCursor(q: LogQuery, cursor: string | undefined, digest: string): LogQuery {
  if (cursor === undefined) return q;
  let state;
  try {
    state = decodeCursor(cursor);
  } catch (err) {
    if (err instanceof CursorError) throw new AppError('AGG_ERR_INVALID_CURSOR', 'cursor: malformed cursor');
    throw err;
  }
  if (state.q !== digest) throw new AppError('AGG_ERR_INVALID_CURSOR', 'cursor: belongs to a different query; repeat the same filters');
  return { ...q, startNs: BigInt(state.start), endNs: BigInt(state.end), after: { ts: state.ts, id: state.id } };
}

export function digestOf(filters: Record<string, unknown>): string {
  return filterDigest(filters);
}

export function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((v) => v.trim()).filter((v) => v !== '');
  return items.length ? items : undefined;
}
