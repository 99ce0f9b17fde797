/**
 * The engine's entry point: a query string, its time parameters and a LogStore in; a
 * result, its statistics, or a typed LogqlError out. Parsing and evaluation are pure apart
 * from the store; the caller owns timeouts (pass an AbortSignal in limits.signal).
 */
import { Evaluator, type EvalLimits, type QueryParams, type QueryResult } from './evaluator.ts';
import { parseExpr } from './parser.ts';
import type { LogStore } from './store.ts';

export async function runQuery(
  query: string,
  params: QueryParams,
  store: LogStore,
  limits: Partial<EvalLimits> = {},
): Promise<QueryResult> {
  const expr = parseExpr(query);
  return new Evaluator(store, limits).run(expr, params);
}

export { parseExpr } from './parser.ts';
export { printExpr } from './printer.ts';
export { InMemoryLogStore, type LogStore, type SelectRequest, type StoreEntry, type PreFilterHint } from './store.ts';
export { lokiStreamOf, prometheusSafeName, type StreamSource, type LokiStream } from './stream-labels.ts';
export { Evaluator, preFilterHint, type EvalLimits, type QueryParams, type QueryResult } from './evaluator.ts';
export { LogqlError, LogqlParseError, LogqlPipelineError, LogqlLimitError } from './errors.ts';
