/**
 * One LogQL query of an HTTP request, shared by `POST /search/logql` and the Loki API
 * (routes/loki/): the request's budget (store timeout, client-gone signal, longest window),
 * the OpenSearch store with the caller's access scope inside every store query, the
 * engine, and the mapping of the engine's typed errors to HTTP:
 *
 * - a parse error → 400 `invalid_request` with `details: [{ line, col }]` (message: Loki's);
 * - a memory bound reached (series, entries, bytes) → 422 `query_limit_exceeded`;
 * - any other engine error (pipeline error, log query as instant query, …) → 400;
 * - the client went away → the signal's own error (499, only logged).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, invalidRequest } from '../../errors.ts';
import type { OpenSearch } from '../../store/opensearch.ts';
import type { PitGate } from '../../query/pit-gate.ts';
import { budgetFor, checkWindow, type QueryLimits } from '../../query/query-budget.ts';
import { scopeOf } from '../../http/scope.ts';
import { runQuery } from '../../logql/engine.ts';
import { LogqlError, LogqlLimitError, LogqlParseError } from '../../logql/errors.ts';
import type { QueryParams, QueryResult } from '../../logql/evaluator.ts';
import { OpenSearchLogStore } from '../../logql/opensearch-store.ts';

export interface LogqlRunOptions {
  opensearch: OpenSearch;
  indexPrefix: string;
  pits: PitGate;
  limits: QueryLimits;
}

export interface LogqlRun {
  result: QueryResult;
  /** Store searches sent. */
  searches: number;
  /** Wall time of the evaluation, ms. */
  timeMs: number;
}

/** The engine's typed errors as AppErrors (see the header); anything else unchanged. */
export function logqlHttpError(err: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted && signal.reason instanceof AppError) return signal.reason;
  if (err instanceof LogqlParseError) {
    return new AppError('AGG_ERR_INVALID_REQUEST', err.message, { details: [{ line: err.line, col: err.col }] });
  }
  if (err instanceof LogqlLimitError) {
    return new AppError('AGG_ERR_QUERY_LIMIT', err.message, { details: [{ limit: err.limit }] });
  }
  if (err instanceof LogqlError) return invalidRequest(err.message);
  return err;
}

export async function runLogqlRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  opts: LogqlRunOptions,
  query: string,
  params: QueryParams,
): Promise<LogqlRun> {
  const budget = budgetFor(request, reply, opts.limits);
  checkWindow(budget, params.startNs, params.endNs);
  const store = new OpenSearchLogStore({
    client: opts.opensearch,
    indexPrefix: opts.indexPrefix,
    scope: scopeOf(request.principal),
    deadline: budget,
    pits: opts.pits,
    onCleanupError: (err) => request.log.warn({ err }, 'logql: point in time not deleted'),
  });
  const began = performance.now();
  try {
    const result = await runQuery(query, params, store, { signal: budget.signal });
    return { result, searches: store.searches, timeMs: performance.now() - began };
  } catch (err) {
    throw logqlHttpError(err, budget.signal);
  }
}
