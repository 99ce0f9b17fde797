/**
 * Named telemetry events: each function logs and counts together, so a log line and its
 * metric can never drift apart. Raw error text goes to logs only; labels come from bounded
 * vocabularies (shared/reasons.ts, RetryReason, rotation kinds).
 *
 * Hot-path events (`linesRead`, `anomalies`, `discarded`) take pre-aggregated counts and do
 * not log; callers aggregate per chunk, not per line.
 */
import type { DiscardReason } from '../../shared/reasons.ts';
import type { RetryReason } from '../errors.ts';
import type { Logger } from './logger.ts';
import type { AgentMetrics } from './metrics.ts';

export type RotationKind = 'rename' | 'truncate';

export class AgentEvents {
  readonly log: Logger;
  readonly metrics: AgentMetrics;
  /**
   * Discards and rejections by reason since this process started, as the heartbeat reports
   * them (the counters' own values are only readable asynchronously). Updated by the same
   * events that count them, so the two never drift apart.
   */
  readonly #discarded = new Map<DiscardReason, number>();
  readonly #rejected = new Map<DiscardReason, number>();

  constructor(log: Logger, metrics: AgentMetrics) {
    this.log = log;
    this.metrics = metrics;
  }

  started(info: Record<string, unknown>): void {
    this.log.info(info, 'agent started');
  }

  stopped(info: Record<string, unknown>): void {
    this.log.info(info, 'agent stopped');
  }

  fileOpened(path: string, key: string, offset: number, why: string): void {
    this.metrics.filesWatched.inc();
    this.log.info({ path, file_key: key, offset, why }, 'tailing file');
  }

  fileClosed(path: string, key: string, offset: number, why: string): void {
    this.metrics.filesWatched.dec();
    this.log.info({ path, file_key: key, offset, why }, 'file closed');
  }

  rotated(path: string, kind: RotationKind, oldOffset: number): void {
    this.metrics.rotations.inc({ kind });
    this.log.info({ path, kind, old_offset: oldOffset }, 'rotation detected');
  }

  fileError(path: string, reason: 'file_unreadable' | 'file_deleted', err?: unknown): void {
    this.metrics.fileErrors.inc({ reason });
    this.log.warn({ path, reason, err: err === undefined ? undefined : errText(err) }, 'file problem');
  }

  directoryMissing(dir: string, err: unknown): void {
    this.metrics.fileErrors.inc({ reason: 'file_unreadable' });
    this.log.warn({ dir, err: errText(err) }, 'log directory not readable; will rescan');
  }

  linesRead(bytes: number, lines: number, records: number): void {
    const m = this.metrics;
    if (bytes > 0) m.readBytes.inc(bytes);
    if (lines > 0) m.readLines.inc(lines);
    if (records > 0) m.readRecords.inc(records);
  }

  anomalies(reason: DiscardReason, n: number): void {
    if (n > 0) this.metrics.anomalies.inc({ reason }, n);
  }

  discarded(reason: DiscardReason, n: number): void {
    if (n <= 0) return;
    this.metrics.discarded.inc({ reason }, n);
    this.#discarded.set(reason, (this.#discarded.get(reason) ?? 0) + n);
  }

  /** Copies of the totals by reason since start (for the heartbeat). */
  reasonTotals(): { discarded: Record<string, number>; rejected: Record<string, number> } {
    return { discarded: Object.fromEntries(this.#discarded), rejected: Object.fromEntries(this.#rejected) };
  }

  batchSettled(records: number, bodyBytes: number, nowMs: number): void {
    const m = this.metrics;
    m.sentRecords.inc(records);
    m.sentBytes.inc(bodyBytes);
    m.sentBatches.inc({ outcome: 'accepted' });
    m.lastSendTimestamp.set(nowMs / 1000);
  }

  sendAttempt(seconds: number): void {
    this.metrics.sendDuration.observe(seconds);
  }

  sendRetry(reason: RetryReason, attempt: number, delayMs: number, detail: Record<string, unknown>): void {
    this.metrics.sendRetries.inc({ reason });
    const level = attempt <= 1 ? 'info' : 'warn';
    this.log[level]({ reason, attempt, delay_ms: delayMs, ...detail }, 'ingest attempt failed; will retry');
  }

  batchRefused(status: number, records: number, envelope: unknown): void {
    this.metrics.sentBatches.inc({ outcome: 'refused' });
    this.log.error(
      { status, records, envelope },
      'aggregator refused the request; bisecting to isolate refused records',
    );
  }

  recordsRefused(reason: DiscardReason, n: number, status: number, envelope: unknown): void {
    this.metrics.discarded.inc({ reason }, n);
    this.#discarded.set(reason, (this.#discarded.get(reason) ?? 0) + n);
    this.log.error({ reason, records: n, status, envelope }, 'records refused by the aggregator; settled as discarded');
  }

  recordsRejected(reason: DiscardReason, n: number, sample: string): void {
    this.metrics.rejected.inc({ reason }, n);
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + n);
    this.log.warn({ reason, records: n, sample }, 'aggregator rejected records for good');
  }

  backpressure(paused: boolean, queueBytes: number): void {
    this.metrics.tailPaused.set(paused ? 1 : 0);
    if (paused) {
      this.metrics.backpressurePauses.inc();
      this.log.debug({ queue_bytes: queueBytes }, 'queue full; tailing paused');
    } else {
      this.log.debug({ queue_bytes: queueBytes }, 'tailing resumed');
    }
  }

  checkpointWritten(files: number, nowMs: number): void {
    this.metrics.checkpointWrites.inc({ outcome: 'ok' });
    this.metrics.lastAckTimestamp.set(nowMs / 1000);
    this.log.trace({ files }, 'checkpoint written');
  }

  checkpointFailed(err: unknown): void {
    this.metrics.checkpointWrites.inc({ outcome: 'failed' });
    this.log.error({ err: errText(err) }, 'checkpoint write failed; will retry');
  }

  configPolled(outcome: 'changed' | 'unchanged' | 'failed', detail?: Record<string, unknown>): void {
    this.metrics.configUpdates.inc({ outcome });
    if (outcome === 'changed') this.log.info(detail ?? {}, 'collection config applied');
    else if (outcome === 'failed')
      this.log.warn(detail ?? {}, 'collection config poll failed; keeping the last config');
  }

  heartbeat(outcome: 'ok' | 'failed', detail?: Record<string, unknown>): void {
    this.metrics.heartbeats.inc({ outcome });
    if (outcome === 'failed') this.log.warn(detail ?? {}, 'heartbeat failed');
  }

  kubeWatchRestart(reason: 'relist' | 'resume' | 'error', err?: unknown): void {
    this.metrics.kubeWatchRestarts.inc({ reason });
    const lvl = reason === 'error' ? 'warn' : 'debug';
    this.log[lvl]({ reason, err: err === undefined ? undefined : errText(err) }, 'pod watch restarting');
  }
}

export function errText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
