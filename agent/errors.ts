/**
 * Typed agent errors with stable codes, and the one retry classifier for ingest outcomes.
 * Codes are stable API for logs and alerts; messages are for humans.
 */

export type AgentErrorCode =
  | 'AGENT_ERR_CONFIG'
  | 'AGENT_ERR_INGEST_STATUS'
  | 'AGENT_ERR_INGEST_NETWORK'
  | 'AGENT_ERR_INGEST_RESPONSE'
  | 'AGENT_ERR_CHECKPOINT'
  | 'AGENT_ERR_FILE'
  | 'AGENT_ERR_STOPPED';

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  readonly details: readonly string[];
  constructor(code: AgentErrorCode, message: string, details: readonly string[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
    this.details = details;
  }
}

/** All configuration problems at once (config.ts collects them before throwing). */
export class ConfigError extends AgentError {
  constructor(problems: readonly string[]) {
    super('AGENT_ERR_CONFIG', `invalid agent configuration:\n  - ${problems.join('\n  - ')}`, problems);
    this.name = 'ConfigError';
  }
}

/** The aggregator answered a send with a non-2xx status. */
export class IngestStatusError extends AgentError {
  readonly status: number;
  readonly retryAfterMs: number | null;
  /** The error envelope's `error.code`, when the body had one. */
  readonly envelopeCode: string | null;
  constructor(status: number, retryAfterMs: number | null, envelopeCode: string | null, message: string) {
    super('AGENT_ERR_INGEST_STATUS', message);
    this.name = 'IngestStatusError';
    this.status = status;
    this.retryAfterMs = retryAfterMs;
    this.envelopeCode = envelopeCode;
  }
}

/**
 * What to do with a batch after one attempt. `settled`: the aggregator answered 2xx, commit
 * past it. `retry`: send the same bytes again later. `refused`: the aggregator refused the
 * request as a whole and an identical resend will be refused again; the sender bisects the
 * batch to isolate the offending records and settles those with a discard reason.
 */
export type SendVerdict = 'settled' | 'retry' | 'refused';

/** Label value for `k8s_logs_agent_send_retries_total{reason}` (bounded set). */
export type RetryReason = 'status_429' | 'status_5xx' | 'status_4xx' | 'network' | 'timeout';

/**
 * The one retry classifier. Policy (see agent/send/sender.ts for the why):
 * - 2xx → settled.
 * - 429, 408, 425, 5xx → retry (honour Retry-After).
 * - 401, 403, 404, 405 → retry: a wrong token or URL is an operator error that will be
 *   fixed; refusing would silently throw away every line of the node meanwhile. The agent
 *   logs each occurrence with the envelope and backs off; tailing pauses when the queue fills,
 *   so the lines wait on disk.
 * - other 4xx (400, 413, 415, 422, …) → refused: bisect, settle single refused records
 *   with reason `record_too_large` (413) or `invalid_record` (others), counted.
 * - any thrown error (connection refused/reset, DNS, timeouts, body read failures) → retry.
 */
export function classifyStatus(status: number): SendVerdict {
  if (status >= 200 && status < 300) return 'settled';
  if (status === 429 || status === 408 || status === 425 || status >= 500) return 'retry';
  if (status === 401 || status === 403 || status === 404 || status === 405) return 'retry';
  if (status >= 400) return 'refused';
  // 1xx/3xx are not part of the contract; treat like a server problem.
  return 'retry';
}

export function retryReasonForStatus(status: number): RetryReason {
  if (status === 429) return 'status_429';
  if (status >= 500) return 'status_5xx';
  return 'status_4xx';
}

export function retryReasonForError(err: unknown): RetryReason {
  const code = (err as { code?: unknown } | null)?.code;
  if (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'ETIMEDOUT' ||
    (err as { name?: unknown } | null)?.name === 'TimeoutError'
  ) {
    return 'timeout';
  }
  return 'network';
}

/** Parses a Retry-After header (delta seconds or HTTP date) into ms; null when absent/bad. */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === '') return null;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}
