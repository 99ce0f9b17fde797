/**
 * The bounded queue, by bytes: everything held in memory between reading and
 * acknowledgement (open batch uncompressed, sealed batches compressed). Readers call
 * {@link ByteBudget.room} before each read and check {@link ByteBudget.isFull} again before
 * handing what they read on (another file's read may have filled the budget meanwhile), so
 * the budget is exceeded by at most the records of one read, however many files are read at
 * once. Records take more bytes than the lines they come from (metadata, JSON), so a read
 * is sized by {@link ByteBudget.reserveRead} to what is left at the expansion seen so far:
 * near the bound reads shrink, and one read's records cannot overshoot it by much more
 * than {@link MIN_READ_BYTES} worth. When the budget is exhausted `room` returns a promise
 * that resolves once acknowledgements have freed a quarter of the budget (hysteresis, so
 * tailing does not flap per batch).
 *
 * Concurrency: shared by all tailers and the sender; single-threaded JS, no locks.
 */
/** The smallest read near the bound (a read must still make progress through long lines). */
export const MIN_READ_BYTES = 16 * 1024;

/** What {@link ByteBudget.reserveRead} granted: read at most `bytes`. */
export interface ReadReservation {
  readonly bytes: number;
  readonly reserved: number;
}

export class ByteBudget {
  readonly limit: number;
  private used = 0;
  /** Queue bytes per byte read (EWMA); starts high so the first reads are cautious. */
  private expansion = 4;
  /** Queue bytes promised to reads in flight (their size at the expansion when sized). */
  private reserved = 0;

  private waiters: Array<() => void> = [];
  private paused = false;
  /** Paused by the batcher: compression is behind (see Batcher.pump). */
  private held = false;
  private readonly onPause: (paused: boolean, used: number) => void;
  private readonly onChange: (used: number) => void;

  constructor(limit: number, onPause: (paused: boolean, used: number) => void, onChange: (used: number) => void) {
    this.limit = limit;
    this.onPause = onPause;
    this.onChange = onChange;
  }

  get bytes(): number {
    return this.used;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** True while reading must wait (full, or held by the batcher): what {@link room} would wait on. */
  get isFull(): boolean {
    return this.paused || this.held;
  }

  add(n: number): void {
    this.used += n;
    if (!this.paused && this.used >= this.limit) {
      this.paused = true;
      this.onPause(true, this.used);
    }
  }

  release(n: number): void {
    this.used -= n;
    if (this.used < 0) this.used = 0;
    this.onChange(this.used);
    this.maybeResume();
  }

  /**
   * Hold reading regardless of bytes (the batcher's compression is behind; raw batches
   * would pile up at 1 MiB each). Released with `hold(false)`.
   */
  hold(on: boolean): void {
    this.held = on;
    if (!on) this.maybeResume();
  }

  private maybeResume(): void {
    if (this.paused && this.used <= this.limit * 0.75) {
      this.paused = false;
      this.onPause(false, this.used);
    }
    if (!this.paused && !this.held && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
  }

  /**
   * Sizes a read, up to `max` bytes: what is left of the budget in read bytes at the
   * expansion seen so far, never below {@link MIN_READ_BYTES}. Reads of several files are in
   * flight at once, so each reserves its share until {@link readDone}: reads sized together
   * cannot all land on the same room.
   */
  reserveRead(max: number): ReadReservation {
    const left = (this.limit - this.used - this.reserved) / this.expansion;
    const bytes = Math.max(Math.min(MIN_READ_BYTES, max), Math.min(max, Math.floor(left)));
    const reservation = { bytes, reserved: bytes * this.expansion };
    this.reserved += reservation.reserved;
    return reservation;
  }

  /**
   * The read is over: its reservation ends, and (when it was handed on) its records took
   * `queuedBytes` for `readBytes` read (0 when all were filtered or held back).
   */
  readDone(r: ReadReservation, readBytes: number, queuedBytes: number): void {
    this.reserved = Math.max(0, this.reserved - r.reserved);
    if (readBytes <= 0 || queuedBytes <= 0) return;
    this.expansion = 0.8 * this.expansion + 0.2 * (queuedBytes / readBytes);
  }

  /** null when reading may go on; otherwise a promise for when it may. */
  room(): Promise<void> | null {
    if (!this.paused && !this.held) return null;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Releases every waiter (shutdown). */
  wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}
