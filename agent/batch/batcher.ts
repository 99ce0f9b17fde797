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
    onError: (err: unknown) => void,
  ) {
    this.opts = opts;
    this.acks = acks;
    this.budget = budget;
    this.onSealed = onSealed;
    this.onError = onError;
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
    return this.compressing + this.waiting.length;
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
      const { entry, full, used, records } = this.waiting.shift()!;
      this.compressing++;
      gzip(full.subarray(0, used), { level: this.opts.gzipLevel }, (err, body) => {
        this.compressing--;
        const rawBytes = used;
        this.giveBuffer(full);
        if (err !== null) {
          // zlib does not fail on valid input; if it does, the batch cannot be sent and its
          // entry must not settle (the offsets stay uncommitted and are re-read on restart).
          this.onError(err);
        } else {
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
