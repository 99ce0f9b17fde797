/**
 * The bound on `_bulk` requests this replica has at OpenSearch: at most `maxConcurrent`
 * in flight, at most `maxQueued` more waiting for a slot, FIFO.
 *
 * Why: OpenSearch queues bulk shard requests on its `write` thread pool and rejects them
 * (429 per item) once that queue is full — after the work of decoding, sending and
 * partially indexing the batch is done. Bounding requests here keeps OpenSearch's queue
 * short (replicas × maxConcurrent requests), and a batch that would wait behind more than
 * `maxQueued` others is refused up front ({@link BulkQueueFullError}, answered 429 with
 * Retry-After) before any of it is sent: the agent keeps it and sends it again later.
 *
 * Concurrency: one event loop; every acquired slot must be released exactly once (the
 * returned function is idempotent).
 */

/** The bulk queue is full: nothing of the batch was sent. */
export class BulkQueueFullError extends Error {
  override readonly name = 'BulkQueueFullError';
  constructor(queued: number, wanted: number) {
    super(`bulk queue full (${queued} waiting, ${wanted} more wanted)`);
  }
}

export class BulkGate {
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(maxConcurrent: number, maxQueued: number) {
    if (!(maxConcurrent >= 1)) throw new RangeError('maxConcurrent must be at least 1');
    this.#maxConcurrent = maxConcurrent;
    this.#maxQueued = Math.max(0, maxQueued);
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * Throws BulkQueueFullError when `requests` more would leave more than maxQueued waiting
   * (counting the free slots they would take at once). A single request is always
   * admitted when nothing waits, so a batch is slow, never starved.
   */
  admit(requests: number): void {
    const free = this.#maxConcurrent - this.#active;
    const wouldWait = this.#waiting.length + Math.max(0, requests - Math.max(0, free));
    if (wouldWait > this.#maxQueued && this.#waiting.length + this.#active > 0) {
      throw new BulkQueueFullError(this.#waiting.length, requests);
    }
  }

  /** Resolves with the slot's release function once a slot is free (FIFO). */
  acquire(): Promise<() => void> {
    if (this.#active < this.#maxConcurrent && this.#waiting.length === 0) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => {
      this.#waiting.push(() => {
        this.#active++;
        resolve(this.#releaser());
      });
    });
  }

  /** Runs `work` in a slot. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await work();
    } finally {
      release();
    }
  }

  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#active--;
      const next = this.#waiting.shift();
      if (next) next();
    };
  }
}
