/**
 * The in-flight ingest byte budget: bytes of requests between gunzip and their answer.
 * Bounds the aggregator's memory under a burst (every agent of a fleet reconnecting after
 * an outage) by answering 429 instead of inflating and decoding everything at once.
 * Not concurrency-sensitive (one event loop); every successful acquire must be released.
 */
export class InFlightBytes {
  readonly #limit: number;
  #used = 0;

  constructor(limitBytes: number) {
    this.#limit = limitBytes;
  }

  get used(): number {
    return this.#used;
  }

  /**
   * Takes `bytes` if they fit. `heldByCaller` (what this request already holds) does not
   * count against it: a request is always admitted when nothing else is in flight, so one
   * request larger than the budget is slow, not starved.
   */
  tryAcquire(bytes: number, heldByCaller = 0): boolean {
    if (this.#used > heldByCaller && this.#used + bytes > this.#limit) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used -= bytes;
  }
}
