/**
 * Search failures as API errors, shared by the page search (log-search.ts) and the export
 * (log-export.ts) so neither imports the other.
 */
import { AppError, invalidRequest } from '../errors.ts';
import { toAppError } from '../store/opensearch.ts';
import type { LogQuery } from './log-query.ts';

/**
 * A store failure as an API error. A regex the parser let through can still be refused by
 * the store (too many automaton states); that is the caller's input, so it is a 400 that
 * says so rather than a 500.
 */
export function searchError(err: unknown, q: LogQuery): AppError {
  const e = toAppError(err, 'search');
  if (err instanceof AppError) return err;
  // The store's own backstop (`cancel_after_time_interval`) fired before our abort did.
  if (/task_cancelled_exception|TaskCancelledException/.test(JSON.stringify((err as { body?: unknown }).body ?? ''))) {
    return new AppError(
      'AGG_ERR_QUERY_TIMEOUT',
      'search: the query ran too long and was cancelled by the store; narrow the time window or the filters',
      { cause: err },
    );
  }
  if (
    q.regex &&
    (e.status === 400 || /determiniz|regexp|automaton/i.test(JSON.stringify((err as { body?: unknown }).body ?? '')))
  ) {
    return invalidRequest(
      'regex: the store refused the pattern (too complex to match efficiently, or unsupported); simplify it',
    );
  }
  return e;
}
