/**
 * Sending: sealed batches → `POST {aggregatorUrl}/v1/ingest` over one undici Pool with
 * keep-alive. Owns the retry loop and the meaning of each response
 * (shared/schemas/ingest.ts): a batch settles (its ack entry may commit) only on 2xx, or when
 * its records have been refused for good.
 *
 * Policy per outcome (classifier: agent/errors.ts `classifyStatus`):
 * - 2xx: settled. The IngestResponse body's `rejected` entries are counted by reason.
 * - 429 / 5xx / network / timeout, and 401 / 403 / 404 / 405: the same bytes are sent again
 *   after capped exponential backoff with jitter (Retry-After honoured), forever. Auth and
 *   routing errors are retried rather than dropped because they are operator errors that will
 *   be fixed; meanwhile the queue fills, tailing pauses and the lines wait on disk.
 * - other 4xx (400, 413, 415, 422 …): the request as a whole was refused and an identical
 *   resend would be too. The batch is bisected (gunzip, split at record boundaries, resend
 *   halves) until the refused records are isolated; a single refused record is settled as
 *   discarded with reason `record_too_large` (413) or `invalid_record` (others), logged with
 *   the error envelope and counted. The rest of the batch is delivered normally. This keeps
 *   one bad record from wedging the node while losing nothing else.
 *
 * When the next stage (the aggregator) is busy: batches wait in a FIFO; at most
 * `maxInFlightRequests` requests are in flight. The FIFO is bounded by the ByteBudget.
 * Concurrency: single-threaded; `submit` may be called from any callback.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { Pool, request } from './undici-pool.ts';
import { INGEST_PATH } from '../../shared/schemas/ingest-paths.ts';
import { isDiscardReason, type DiscardReason } from '../../shared/reasons.ts';
import {
  classifyStatus,
  parseRetryAfterMs,
  retryReasonForError,
  retryReasonForStatus,
  type RetryReason,
} from '../errors.ts';
import type { SealedBatch } from '../batch/batcher.ts';
import type { AgentEvents } from '../telemetry/events.ts';
import { backoffDelayMs } from './backoff.ts';

export interface SenderOptions {
  aggregatorUrl: string;
  token: string;
  maxInFlightRequests: number;
  requestTimeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  gzipLevel: number;
}

export interface SenderDeps {
  events: AgentEvents;
  /** Called once a batch is settled (after counting). */
  onSettled: (batch: SealedBatch) => void;
  now?: () => number;
  random?: () => number;
}

type Attempt =
  | { kind: 'settled'; body: string }
  | { kind: 'retry'; reason: RetryReason; retryAfterMs: number | null; detail: Record<string, unknown> }
  | { kind: 'refused'; status: number; envelope: unknown };

export class Sender {
  private readonly opts: SenderOptions;
  private readonly deps: SenderDeps;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly fifo: SealedBatch[] = [];
  private inFlight = 0;
  private closed = false;
  private readonly abort = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private readonly now: () => number;
  private readonly random: () => number;
  /** Unix ms of the last 2xx, 0 = never. */
  lastAckAtMs = 0;

  constructor(opts: SenderOptions, deps: SenderDeps) {
    this.opts = opts;
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    const url = new URL(opts.aggregatorUrl);
    const base = url.pathname.replace(/\/+$/, '');
    this.path = base + INGEST_PATH;
    this.pool = new Pool(url.origin, {
      connections: opts.maxInFlightRequests,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.requestTimeoutMs,
      bodyTimeout: opts.requestTimeoutMs,
      connectTimeout: Math.min(opts.requestTimeoutMs, 10_000),
    });
    this.headers = {
      authorization: `Bearer ${opts.token}`,
      'content-type': 'application/x-ndjson',
      'content-encoding': 'gzip',
    };
  }

  /** Batches queued or in flight. */
  get pending(): number {
    return this.fifo.length + this.inFlight;
  }

  /**
   * Nothing queued or in flight: the aggregator is waiting for us. (Not merely a free slot:
   * a small batch sent next to a slow request would hold that slot for a whole round trip
   * with few lines, and at the edge of saturation the pipe would carry less.)
   */
  get idle(): boolean {
    return this.fifo.length === 0 && this.inFlight === 0 && !this.closed;
  }

  submit(batch: SealedBatch): void {
    this.fifo.push(batch);
    this.pump();
  }

  /** Resolves when nothing is queued or in flight, or at `deadlineMs` (returns false then). */
  async drain(deadlineMs: number): Promise<boolean> {
    while (this.pending > 0) {
      const left = deadlineMs - this.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  /** Aborts in-flight requests and backoff sleeps; unsent batches stay unacknowledged. */
  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    this.fifo.length = 0;
    await this.pool.destroy().catch(() => undefined);
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.opts.maxInFlightRequests && this.fifo.length > 0) {
      const batch = this.fifo.shift()!;
      this.inFlight++;
      this.deliver(batch).then(
        (settled) => {
          this.inFlight--;
          if (settled) this.deps.onSettled(batch);
          this.pump();
          if (this.pending === 0) this.wakeIdle();
        },
        (err: unknown) => {
          // deliver() handles its own errors; this is a bug guard.
          this.inFlight--;
          this.deps.events.log.error({ err: String(err) }, 'sender bug');
          this.pump();
        },
      );
    }
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Sends until settled; false if the sender was closed first. */
  private async deliver(batch: SealedBatch): Promise<boolean> {
    const ok = await this.deliverBody(batch.body, batch.records);
    if (ok) this.deps.events.batchSettled(batch.records, batch.body.length, this.now());
    return ok;
  }

  private async deliverBody(body: Buffer, records: number): Promise<boolean> {
    let attempt = 0;
    for (;;) {
      if (this.closed) return false;
      attempt++;
      const result = await this.attempt(body);
      if (result.kind === 'settled') {
        this.lastAckAtMs = this.now();
        this.countRejections(result.body);
        return true;
      }
      if (result.kind === 'refused') {
        return this.bisect(body, records, result.status, result.envelope);
      }
      if (this.closed) return false;
      const delay = backoffDelayMs(
        attempt,
        this.opts.retryBaseMs,
        this.opts.retryMaxMs,
        result.retryAfterMs,
        this.random,
      );
      this.deps.events.sendRetry(result.reason, attempt, delay, result.detail);
      await this.sleep(delay);
    }
  }

  private async bisect(body: Buffer, records: number, status: number, envelope: unknown): Promise<boolean> {
    if (records <= 1) {
      const reason: DiscardReason = status === 413 ? 'record_too_large' : 'invalid_record';
      this.deps.events.recordsRefused(reason, Math.max(records, 1), status, envelope);
      return true;
    }
    this.deps.events.batchRefused(status, records, envelope);
    const raw = gunzipSync(body);
    // NDJSON records never contain a raw newline (JSON escapes it), so '\n' splits records.
    const lines: Buffer[] = [];
    let start = 0;
    for (;;) {
      const nl = raw.indexOf(0x0a, start);
      if (nl < 0) break;
      lines.push(raw.subarray(start, nl + 1));
      start = nl + 1;
    }
    const half = Math.ceil(lines.length / 2);
    for (const part of [lines.slice(0, half), lines.slice(half)]) {
      if (part.length === 0) continue;
      const partBody = gzipSync(Buffer.concat(part), { level: this.opts.gzipLevel });
      if (!(await this.deliverBody(partBody, part.length))) return false;
    }
    return true;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.abort.signal.aborted) return resolve();
      const onAbort = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async attempt(body: Buffer): Promise<Attempt> {
    const started = performance.now();
    try {
      const res = await request(this.pool, {
        path: this.path,
        method: 'POST',
        headers: this.headers,
        body,
        signal: this.abort.signal,
      });
      const text = await res.body.text();
      this.deps.events.sendAttempt((performance.now() - started) / 1000);
      const verdict = classifyStatus(res.statusCode);
      if (verdict === 'settled') return { kind: 'settled', body: text };
      const envelope = parseEnvelope(text);
      if (verdict === 'refused') return { kind: 'refused', status: res.statusCode, envelope };
      return {
        kind: 'retry',
        reason: retryReasonForStatus(res.statusCode),
        retryAfterMs: parseRetryAfterMs(res.headers['retry-after'], Date.now()),
        detail: { status: res.statusCode, envelope },
      };
    } catch (err) {
      this.deps.events.sendAttempt((performance.now() - started) / 1000);
      return {
        kind: 'retry',
        reason: retryReasonForError(err),
        retryAfterMs: null,
        detail: { err: (err as Error).message, code: (err as { code?: unknown }).code },
      };
    }
  }

  private countRejections(text: string): void {
    if (text.length === 0 || !text.includes('"rejected"')) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    const rejected = (parsed as { rejected?: unknown } | null)?.rejected;
    if (!Array.isArray(rejected) || rejected.length === 0) return;
    const byReason = new Map<DiscardReason, { n: number; sample: string }>();
    for (const r of rejected as Array<{ reason?: unknown; message?: unknown }>) {
      const reason: DiscardReason =
        typeof r.reason === 'string' && isDiscardReason(r.reason) ? r.reason : 'invalid_record';
      const cur = byReason.get(reason);
      if (cur === undefined) byReason.set(reason, { n: 1, sample: String(r.message ?? '') });
      else cur.n++;
    }
    for (const [reason, { n, sample }] of byReason) this.deps.events.recordsRejected(reason, n, sample);
  }
}

function parseEnvelope(text: string): unknown {
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text.slice(0, 512);
  }
}
