/**
 * The bounded queue, by bytes: everything held in memory between reading and
 * acknowledgement (open batch uncompressed, sealed batches compressed). Readers call
 * {@link ByteBudget.room} before each read and check {@link ByteBudget.isFull} again before
 * handing what they read on (another file's read may have filled the budget meanwhile), so
 * the budget is exceeded by at most the records of one read, however many files are read at
 * once. When the budget is exhausted `room` returns a promise
 * that resolves once acknowledgements have freed a quarter of the budget (hysteresis, so
 * tailing does not flap per batch).
 *
 * Concurrency: shared by all tailers and the sender; single-threaded JS, no locks.
 */
export class ByteBudget {
  readonly limit: number;
  private used = 0;
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
