/**
 * The OpenSearch adapter: client construction and the one place that turns client and
 * HTTP failures into AppErrors. Callers never show OpenSearch internals to API users.
 */
import { Client, errors } from '@opensearch-project/opensearch';
import type { AggregatorConfig } from '../config.ts';
import { AppError } from '../errors.ts';

export type OpenSearch = Client;

export function createOpenSearchClient(config: AggregatorConfig['opensearch']): OpenSearch {
  return new Client({
    node: config.url,
    ...(config.username
      ? { auth: { username: config.username, password: config.password ?? '' } }
      : {}),
    requestTimeout: config.requestTimeoutMs,
    // One quick retry on a dropped connection; beyond that the caller decides (the agent
    // resends, the API user gets a 503) rather than a request hanging in client retries.
    maxRetries: 1,
    compression: undefined,
  });
}

/** HTTP status of an OpenSearch response error, if it is one. */
export function storeStatus(err: unknown): number | undefined {
  return err instanceof errors.ResponseError ? err.statusCode : undefined;
}

/** OpenSearch error type (`resource_already_exists_exception`, …), if the error has one. */
export function storeErrorType(err: unknown): string | undefined {
  if (!(err instanceof errors.ResponseError)) return undefined;
  const body = err.body as { error?: { type?: string } } | undefined;
  return body?.error?.type;
}

/** What a use case needs to judge a store failure, without the client's classes. */
export interface StoreErrorFacts {
  /** HTTP status of an OpenSearch answer; undefined when there was none. */
  status: number | undefined;
  /** OpenSearch error type (`cluster_block_exception`, …) of that answer. */
  type: string | undefined;
  /** No answer at all: connection refused or reset, timeout, no living node. */
  transport: boolean;
}

export function storeErrorFacts(err: unknown): StoreErrorFacts {
  return {
    status: storeStatus(err),
    type: storeErrorType(err),
    transport:
      err instanceof errors.ConnectionError ||
      err instanceof errors.NoLivingConnectionsError ||
      err instanceof errors.TimeoutError,
  };
}

/**
 * Maps an OpenSearch failure to the API's vocabulary: push-back becomes 429 with
 * Retry-After (the agent backs off and resends), unreachable becomes 503, a rejected query
 * becomes 400, anything else a 500 — none of them carry OpenSearch's own text.
 */
export function toAppError(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  const status = storeStatus(err);
  if (status === 429) {
    return new AppError('AGG_ERR_STORE_BUSY', `${what}: the store is busy, retry later`, {
      retryAfterSeconds: 2,
      cause: err,
    });
  }
  if (
    err instanceof errors.ConnectionError ||
    err instanceof errors.NoLivingConnectionsError ||
    err instanceof errors.TimeoutError ||
    status === 502 ||
    status === 503 ||
    status === 504
  ) {
    return new AppError('AGG_ERR_STORE_UNAVAILABLE', `${what}: the store is unavailable`, {
      retryAfterSeconds: 5,
      cause: err,
    });
  }
  if (status === 400) {
    const type = storeErrorType(err) ?? 'bad_request';
    return new AppError('AGG_ERR_INVALID_REQUEST', `${what}: the store rejected the query (${type})`, {
      cause: err,
    });
  }
  return new AppError('AGG_ERR_INTERNAL', `${what} failed`, { cause: err });
}
