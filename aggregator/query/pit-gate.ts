/**
 * Bounds the points in time this replica holds open at once (one per running export).
 * A PIT pins index segments in OpenSearch until it is deleted or expires, so unbounded
 * concurrent exports would pin unbounded store memory. Per replica, like the rate limits.
 *
 * `tryAcquire()` returns a release function (idempotent) or undefined when the gate is
 * full; callers release in a `finally`, so an export that ends, fails or is abandoned
 * frees its slot. Not shared across threads (there are none).
 */
export class PitGate {
  readonly #max: number;
  #open = 0;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('PitGate: max must be a positive integer');
    this.#max = max;
  }

  get open(): number {
    return this.#open;
  }

  get max(): number {
    return this.#max;
  }

  tryAcquire(): (() => void) | undefined {
    if (this.#open >= this.#max) return undefined;
    this.#open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
    };
  }
}
