/**
 * The engine's typed errors. Pure code raises them; the HTTP layer (routes, later) maps each
 * `code` to a status: a parse error is a 400 with its line and column, a pipeline error
 * (an `__error__` left in a metric query) a 400 as in Loki, a limit a 422.
 * Messages are Loki's own wording, so a Grafana user sees what Loki would have said.
 */

export type LogqlErrorCode =
  'AGG_ERR_LOGQL_PARSE' | 'AGG_ERR_LOGQL_PIPELINE' | 'AGG_ERR_LOGQL_LIMIT' | 'AGG_ERR_LOGQL_EXEC';

export class LogqlError extends Error {
  override readonly name: string = 'LogqlError';
  readonly code: LogqlErrorCode;
  constructor(code: LogqlErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Loki's `ParseError`: `parse error at line L, col C: msg`, or `parse error : msg` for
 * errors found after parsing (validation), which Loki reports at line 0, column 0.
 */
export class LogqlParseError extends LogqlError {
  override readonly name = 'LogqlParseError';
  readonly detail: string;
  readonly line: number;
  readonly col: number;
  constructor(detail: string, line = 0, col = 0) {
    super(
      'AGG_ERR_LOGQL_PARSE',
      line === 0 && col === 0 ? `parse error : ${detail}` : `parse error at line ${line}, col ${col}: ${detail}`,
    );
    this.detail = detail;
    this.line = line;
    this.col = col;
  }
}

/** An `__error__` label reached a metric result: Loki refuses the query rather than count errors silently. */
export class LogqlPipelineError extends LogqlError {
  override readonly name = 'LogqlPipelineError';
  constructor(errorType: string, series: string) {
    super(
      'AGG_ERR_LOGQL_PIPELINE',
      `pipeline error: '${errorType}' for series: '${series}'.\n` +
        `Use a label filter to intentionally skip this error. (e.g | __error__!="${errorType}").\n` +
        `To skip all potential errors you can match empty errors.(e.g __error__="")\n` +
        `The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__="" )\n`,
    );
  }
}

/** A memory bound of the evaluation was reached (series, entries, bytes). */
export class LogqlLimitError extends LogqlError {
  override readonly name = 'LogqlLimitError';
  readonly limit: 'series' | 'entries' | 'bytes';
  constructor(limit: 'series' | 'entries' | 'bytes', message: string) {
    super('AGG_ERR_LOGQL_LIMIT', message);
    this.limit = limit;
  }
}
