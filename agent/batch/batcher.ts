/**
 * Batching: encoded NDJSON records → sealed, gzip-compressed batches. Owns the open batch and
 * the decision when to seal it (bytes, records, age), and takes the checkpoint snapshot
 * (ack-tracker.ts) at the instant of sealing.
 *
 * Records are written straight into a preallocated Buffer with `buf.write` (no string
 * concatenation per batch, no rope flattening). A batch never exceeds `maxBatchBytes`
 * uncompressed unless a single record is larger, which then travels alone.
 *
 * When the next stage is busy: sealing never waits. Compression runs on libuv's thread pool;
 * memory is bounded by the {@link ByteBudget}, which pauses the tailers (not this stage).
 * Concurrency: single-threaded; `append` and `tick` are synchronous.
 */
import { gzip } from 'node:zlib';
import type { AckEntry, AckTracker } from './ack-tracker.ts';
import type { ByteBudget } from './byte-budget.ts';

export interface BatcherOptions {
  maxBatchBytes: number;
  maxBatchRecords: number;
  maxBatchAgeMs: number;
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
  private readonly onError: (err: unknown) => void;
  private buf: Buffer;
  private used = 0;
  private count = 0;
  private openedAtMs = 0;
  /** Batches handed to gzip and not yet returned. */
  private compressing = 0;

  constructor(
    opts: BatcherOptions,
    acks: AckTracker,
    budget: ByteBudget,
    onSealed: (batch: SealedBatch) => void,
    onError: (err: unknown) => void,
  ) {
    this.opts = opts;
    this.acks = acks;
    this.budget = budget;
    this.onSealed = onSealed;
    this.onError = onError;
    this.buf = Buffer.allocUnsafe(opts.maxBatchBytes);
  }

  get openRecords(): number {
    return this.count;
  }

  get inCompression(): number {
    return this.compressing;
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
      if (nowMs - this.openedAtMs >= this.opts.maxBatchAgeMs) this.seal();
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
    const raw = this.buf.subarray(0, this.used);
    const records = this.count;
    const rawBytes = this.used;
    this.buf = Buffer.allocUnsafe(this.opts.maxBatchBytes);
    this.used = 0;
    this.count = 0;
    this.compressing++;
    gzip(raw, { level: this.opts.gzipLevel }, (err, body) => {
      this.compressing--;
      if (err !== null) {
        // zlib does not fail on valid input; if it does, the batch cannot be sent and its
        // entry must not settle (the offsets stay uncommitted and are re-read on restart).
        this.onError(err);
        return;
      }
      this.budget.add(body.length);
      this.budget.release(rawBytes);
      this.onSealed({ entry, records, rawBytes, body });
    });
  }
}
