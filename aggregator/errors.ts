/**
 * Typed errors with stable codes. Every error a route can raise is an AppError; the one
 * error handler (plugins/error-handler.ts) maps it to the envelope of DESIGN.md §6.
 * Anything else that escapes becomes a 500 whose body says nothing internal.
 */

export const ErrorCodes = {
  AGG_ERR_INVALID_REQUEST: { status: 400, code: 'invalid_request' },
  /** A cursor that is not one of ours, or belongs to another query. */
  AGG_ERR_INVALID_CURSOR: { status: 400, code: 'invalid_cursor' },
  /** The time window is longer than the request class allows (config `query.maxWindow*Ms`). */
  AGG_ERR_WINDOW_TOO_LARGE: { status: 400, code: 'window_too_large' },
  AGG_ERR_UNAUTHORIZED: { status: 401, code: 'unauthorized' },
  AGG_ERR_FORBIDDEN: { status: 403, code: 'forbidden' },
  AGG_ERR_NOT_FOUND: { status: 404, code: 'not_found' },
  /** The resource already exists (duplicate id or scope). */
  AGG_ERR_CONFLICT: { status: 409, code: 'conflict' },
  /** Cluster credentials were sent but no `K8S_LOGS_CREDENTIALS_KEY` is configured to encrypt them. */
  AGG_ERR_CREDENTIALS_KEY_MISSING: { status: 409, code: 'credentials_key_missing' },
  /** `If-Match` names a version that is no longer current: re-read and retry. */
  AGG_ERR_PRECONDITION_FAILED: { status: 412, code: 'precondition_failed' },
  /** A collect job names a cluster that has no Kubernetes API connection (or a broken one). */
  AGG_ERR_CLUSTER_NOT_CONNECTED: { status: 409, code: 'cluster_not_connected' },
  /** The maximum of running continuous collections (config `collect.maxContinuousJobs`) is reached. */
  AGG_ERR_TOO_MANY_CONTINUOUS: { status: 409, code: 'too_many_continuous_collections' },
  /**
   * The bootstrap admin token cannot be revoked through the API (it could leave no admin
   * token at all); it is rotated by the aggregator's `K8S_LOGS_ADMIN_TOKEN`.
   */
  AGG_ERR_BOOTSTRAP_TOKEN: { status: 409, code: 'bootstrap_token_protected' },
  AGG_ERR_PAYLOAD_TOO_LARGE: { status: 413, code: 'payload_too_large' },
  /**
   * A query reached one of the engine's memory bounds (series, entries or bytes scanned):
   * the request was well formed, but too large to answer; narrow it.
   */
  AGG_ERR_QUERY_LIMIT: { status: 422, code: 'query_limit_exceeded' },
  AGG_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  AGG_ERR_RATE_LIMITED: { status: 429, code: 'rate_limited' },
  AGG_ERR_STORE_BUSY: { status: 429, code: 'store_busy' },
  /** Collect streams per cluster or overall (config `collect.maxStreams*`) are all reserved by running jobs. */
  AGG_ERR_COLLECT_STREAMS_EXHAUSTED: { status: 429, code: 'collect_streams_exhausted' },
  /** Ingest already holds its in-flight byte budget (config ingest.maxInFlightBytes). */
  AGG_ERR_INGEST_OVERLOADED: { status: 429, code: 'ingest_overloaded' },
  /** This replica already holds `query.maxOpenPits` points in time (open exports). */
  AGG_ERR_TOO_MANY_EXPORTS: { status: 429, code: 'too_many_exports' },
  /** This replica already feeds `ingest.liveTailMaxSubscribers` live tails. */
  AGG_ERR_TOO_MANY_TAILS: { status: 429, code: 'too_many_tails' },
  /** The client went away; nobody reads this answer (it is only logged). */
  AGG_ERR_CLIENT_CLOSED: { status: 499, code: 'client_closed_request' },
  AGG_ERR_INTERNAL: { status: 500, code: 'internal' },
  /** A system-index document does not match its schema (written by another version, or by hand). */
  AGG_ERR_STORED_DOCUMENT_INVALID: { status: 500, code: 'stored_document_invalid' },
  AGG_ERR_STORE_UNAVAILABLE: { status: 503, code: 'store_unavailable' },
  /**
   * The store refused the request as a whole (day index creation refused, cluster block,
   * closed or missing index): never the caller's fault, so a retryable 503, not a 400.
   */
  AGG_ERR_STORE_REFUSED: { status: 503, code: 'store_refused' },
  /** The query ran past its class's timeout and was cancelled in the store. */
  AGG_ERR_QUERY_TIMEOUT: { status: 504, code: 'query_timeout' },
} as const;

export type ErrorName = keyof typeof ErrorCodes;

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly errorName: ErrorName;
  readonly status: number;
  readonly code: string;
  readonly details: unknown[] | undefined;
  /** Seconds, for 429 and 503: sent as `Retry-After`. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    errorName: ErrorName,
    message: string,
    opts: { details?: unknown[]; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.errorName = errorName;
    this.status = ErrorCodes[errorName].status;
    this.code = ErrorCodes[errorName].code;
    this.details = opts.details;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

export const invalidRequest = (message: string, details?: unknown[]) =>
  new AppError('AGG_ERR_INVALID_REQUEST', message, details ? { details } : {});

export const notFound = (message: string) => new AppError('AGG_ERR_NOT_FOUND', message);
