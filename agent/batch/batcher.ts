/**
 * Batching: encoded NDJSON records → sealed, gzip-compressed batches. Owns the open batch and
 * the decision when to seal it (bytes, records, age), and takes the checkpoint snapshot
 * (ack-tracker.ts) at the instant of sealing.
 *
 * Records are written straight into a preallocated Buffer with `buf.write` (no string
 * concatenation per batch, no rope flattening). A batch never exceeds `maxBatchBytes`
 * uncompressed unless a single record is larger, which then travels alone.
 *
 * When the next stage is busy: sealing never waits. Compression runs on libuv's thread pool,
 * at most {@link Batcher.MAX_COMPRESSING} at a time; when as many sealed batches wait for it,
 * the {@link ByteBudget} is held, which pauses the tailers (not this stage). Batch buffers
 * are reused.
 *
 * A failed compression (zlib does not fail on valid input, but memory can run out) is retried
 * with capped backoff, keeping the raw batch, its place in the ordered ack queue and its
 * bytes in the budget: the queue behind it never wedges on a lost entry, and nothing is read
 * that cannot be held. Consecutive failures are reported through `onError` (the agent's
 * /healthz turns unhealthy after a few, so a stuck process gets restarted and re-reads from
 * its checkpoint).
 * Adaptive size: `tick` seals a batch early, once it is `minBatchAgeMs` old, when the next
 * stages are idle (nothing compressing here and `pipeIdle()` — no request queued or in
 * flight) and less than half the byte budget is used. While a request is out, batches
 * grow until `maxBatchAgeMs` or the size bounds, so their size follows the aggregator's
 * latency (rate × round trip) instead of a fixed age: low latency at low rates, fewer and
 * larger requests under load (bench/aggregator/freshness.bench.ts).
 * Concurrency: single-threaded; `append` and `tick` are synchronous.
 */
import { gzip } from 'node:zlib';

/** The compression step (a seam for tests): gzip of `raw` at `level`, callback style. */
export type Compressor = (raw: Buffer, level: number, done: (err: Error | null, body: Buffer) => void) => void;

const gzipCompressor: Compressor = (raw, level, done) => gzip(raw, { level }, done);

/** Retry delays of a failed compression: 50 ms doubling up to 5 s. */
const COMPRESS_RETRY_BASE_MS = 50;
const COMPRESS_RETRY_MAX_MS = 5000;
import type { AckEntry, AckTracker } from './ack-tracker.ts';
import type { ByteBudget } from './byte-budget.ts';

export interface BatcherOptions {
  maxBatchBytes: number;
  maxBatchRecords: number;
  maxBatchAgeMs: number;
  /** 0 = never seal before maxBatchAgeMs. */
  minBatchAgeMs?: number;
  gzipLevel: number;
}

export interface SealedBatch {
  readonly entry: AckEntry;
  readonly records: number;
  readonly rawBytes: number;
  /** gzip of the NDJSON body. */
  readonly body: Buffer;
}

export class Batcher {
  private readonly opts: BatcherOptions;
  private readonly acks: AckTracker;
  private readonly budget: ByteBudget;
  private readonly onSealed: (batch: SealedBatch) => void;
  private readonly onError: (err: unknown, consecutiveFailures: number) => void;
  private readonly compress: Compressor;
  private readonly pipeIdle: () => boolean;
  /** Failed compressions in a row (0 after any success). */
  compressFailures = 0;
  /** Batches waiting for a compression retry. */
  private retrying = 0;
  private buf: Buffer;
  private used = 0;
  private count = 0;
  private openedAtMs = 0;
  /** Batches handed to gzip and not yet returned. */
  private compressing = 0;
  /** Sealed batches waiting for a compression slot (raw NDJSON, counted in the budget). */
  private readonly waiting: Array<{ entry: AckEntry; full: Buffer; used: number; records: number }> = [];
  /**
   * Spare batch buffers. Reused rather than allocated per batch: 1 MiB allocations per batch
   * made the agent's RSS grow by tens of MiB in bench/agent/throughput.bench.ts (their
   * backing stores are freed only at major GCs).
   */
  private readonly spare: Buffer[] = [];

  constructor(
    opts: BatcherOptions,
    acks: AckTracker,
    budget: ByteBudget,
    onSealed: (batch: SealedBatch) => void,
    onError: (err: unknown, consecutiveFailures: number) => void,
    compress: Compressor = gzipCompressor,
    pipeIdle: () => boolean = () => false,
  ) {
    this.pipeIdle = pipeIdle;
    this.opts = opts;
    this.acks = acks;
    this.budget = budget;
    this.onSealed = onSealed;
    this.onError = onError;
    this.compress = compress;
    this.buf = Buffer.allocUnsafe(opts.maxBatchBytes);
  }

  /** Compressions run at most this many at a time (more would only queue in libuv's pool). */
  static readonly MAX_COMPRESSING = 2;

  private takeBuffer(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafe(this.opts.maxBatchBytes);
  }

  private giveBuffer(buf: Buffer): void {
    if (buf.length === this.opts.maxBatchBytes && this.spare.length < 2 * Batcher.MAX_COMPRESSING + 1)
      this.spare.push(buf);
  }

  get openRecords(): number {
    return this.count;
  }

  get inCompression(): number {
    return this.compressing + this.waiting.length + this.retrying;
  }

  /** Appends one encoded record (ending in `\n`). `nowMs` stamps the batch's age on its first record. */
  append(record: string, nowMs: number): void {
    const room = this.buf.length - this.used;
    let bytes: number;
    if (record.length * 3 <= room) {
      bytes = this.buf.write(record, this.used);
    } else {
      bytes = Buffer.byteLength(record);
      if (bytes > room) {
        if (this.count > 0) this.seal();
        if (bytes > this.buf.length) {
          // A record larger than a batch travels alone in a buffer of its own.
          this.giveBuffer(this.buf);
          this.buf = Buffer.allocUnsafe(bytes);
        }
      }
      this.buf.write(record, this.used);
    }
    if (this.count === 0) this.openedAtMs = nowMs;
    this.used += bytes;
    this.count++;
    this.budget.add(bytes);
    if (this.count >= this.opts.maxBatchRecords || this.used >= this.opts.maxBatchBytes) this.seal();
  }

  /**
   * Periodic: seals an open batch older than `maxBatchAgeMs`; with an empty open batch,
   * queues a checkpoint-only entry so progress through filtered lines is committed too.
   */
  tick(nowMs: number): void {
    if (this.count > 0) {
      const age = nowMs - this.openedAtMs;
      const min = this.opts.minBatchAgeMs ?? 0;
      if (age >= this.opts.maxBatchAgeMs) this.seal();
      // Not when the budget is half used: small batches compress worse, so under memory
      // pressure (a backlog, an outage) fewer larger ones hold the same lines in fewer bytes.
      else if (min > 0 && age >= min && this.inCompression === 0 && this.budget.bytes < this.budget.limit / 2 && this.pipeIdle()) this.seal();
    } else if (this.acks.hasDirty) {
      this.acks.settle(this.acks.snapshot());
    }
  }

  /** Seals whatever is open (shutdown, tests). */
  flush(): void {
    if (this.count > 0) this.seal();
    else if (this.acks.hasDirty) this.acks.settle(this.acks.snapshot());
  }

  private seal(): void {
    const entry = this.acks.snapshot();
    const raw = this.buf;
    const records = this.count;
    this.buf = this.takeBuffer();
    const used = this.used;
    this.used = 0;
    this.count = 0;
    this.waiting.push({ entry, full: raw, used, records });
    this.pump();
    // Compression is the next stage: when it is behind, stop reading instead of piling up
    // raw batches (each a 1 MiB buffer) until the byte budget is exhausted.
    if (this.waiting.length >= Batcher.MAX_COMPRESSING) this.budget.hold(true);
  }

  private pump(): void {
    while (this.compressing < Batcher.MAX_COMPRESSING && this.waiting.length > 0) {
      const item = this.waiting.shift()!;
      const { entry, full, used, records } = item;
      this.compressing++;
      this.compress(full.subarray(0, used), this.opts.gzipLevel, (err, body) => {
        this.compressing--;
        if (err !== null) {
          // Keep the raw batch and retry: its entry must settle in order, or every commit
          // after it waits forever (and its raw bytes would never leave the budget).
          this.compressFailures++;
          this.onError(err, this.compressFailures);
          this.retrying++;
          const delay = Math.min(
            COMPRESS_RETRY_MAX_MS,
            COMPRESS_RETRY_BASE_MS * 2 ** Math.min(this.compressFailures - 1, 20),
          );
          setTimeout(() => {
            this.retrying--;
            this.waiting.unshift(item);
            this.pump();
          }, delay).unref();
        } else {
          this.compressFailures = 0;
          const rawBytes = used;
          this.giveBuffer(full);
          this.budget.add(body.length);
          this.budget.release(rawBytes);
          this.onSealed({ entry, records, rawBytes, body });
        }
        this.pump();
        if (this.waiting.length < Batcher.MAX_COMPRESSING) this.budget.hold(false);
      });
    }
  }
}
