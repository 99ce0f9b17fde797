/**
 * Per-pod rate limit (pure token bucket): `ratePerSecond` lines per second with a burst of
 * one second's worth. Lines over the limit are discarded and counted as `rate_limited` by the
 * caller. Time is passed in (ms), so tests drive it.
 *
 * Concurrency: one bucket per pod, shared by that pod's files; single-threaded.
 */
export class TokenBucket {
  private rate: number;
  private tokens: number;
  private lastMs: number;

  constructor(ratePerSecond: number, nowMs: number) {
    this.rate = ratePerSecond;
    this.tokens = ratePerSecond;
    this.lastMs = nowMs;
  }

  get lastUsedMs(): number {
    return this.lastMs;
  }

  /** Changes the rate (config update) without resetting the bucket's history. */
  setRate(ratePerSecond: number): void {
    this.rate = ratePerSecond;
    if (this.tokens > ratePerSecond) this.tokens = ratePerSecond;
  }

  /** Takes one token; false when the pod is over its limit. */
  take(nowMs: number): boolean {
    const elapsed = nowMs - this.lastMs;
    if (elapsed > 0) {
      this.tokens = Math.min(this.rate, this.tokens + (elapsed * this.rate) / 1000);
      this.lastMs = nowMs;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

/** Buckets by pod key, created on demand, dropped when idle. */
export class PodRateLimits {
  private readonly buckets = new Map<string, TokenBucket>();

  bucket(podKey: string, ratePerSecond: number, nowMs: number): TokenBucket {
    let b = this.buckets.get(podKey);
    if (b === undefined) {
      b = new TokenBucket(ratePerSecond, nowMs);
      this.buckets.set(podKey, b);
    } else {
      b.setRate(ratePerSecond);
    }
    return b;
  }

  /**
   * Forget buckets unused since before `deadlineMs`. A pipeline still holding a swept bucket
   * keeps using it; the next decision recompute gets a fresh shared one.
   */
  sweep(deadlineMs: number): void {
    for (const [k, b] of this.buckets) if (b.lastUsedMs < deadlineMs) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
