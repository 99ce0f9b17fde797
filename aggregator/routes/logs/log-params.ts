/**
 * Request parameters → LogQuery for the retrieval endpoints. Pure. Every problem is a
 * 400 with a message that names the parameter; asking for a cluster or namespace outside
 * the token's limits is a 403 (and the limits are applied in the query regardless).
 */
import { invalidRequest } from '../../errors.ts';
import { parseLabelSelector, LabelSelectorError } from '../../query/label-selector.ts';
import { decodeLogCursor, filterDigest } from '../../http/cursor.ts';
import type { LogQuery } from '../../query/log-query.ts';

// The shared request parameters live in aggregator/http/; re-exported for the log routes.
export { DEFAULT_LIMIT, MAX_LIMIT } from '../../http/paging.ts';
export { checkWithinScope, list, scopeOf } from '../../http/scope.ts';
export { DEFAULT_WINDOW_NS, resolveWindow } from '../../http/time-window.ts';

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
  const state = decodeLogCursor(cursor, digest);
  return { ...q, startNs: BigInt(state.start), endNs: BigInt(state.end), after: { ts: state.ts, id: state.id } };
}

export function digestOf(filters: Record<string, unknown>): string {
  return filterDigest(filters);
}
