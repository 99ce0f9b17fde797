/**
 * Fixed-window request limits per token and class (standard / heavy). Pure apart from
 * the clock passed in. Per replica: N replicas admit up to N× the limit in total, which
 * the README states; a shared limiter would cost a store round trip per request.
 */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

const WINDOW_MS = 60_000;

export class RateLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();

  take(key: string, limitPerMinute: number, now: number): RateDecision {
    let w = this.#windows.get(key);
    if (!w || now - w.start >= WINDOW_MS) {
      if (this.#windows.size > 50_000) this.#sweep(now);
      w = { start: now - (now % WINDOW_MS), count: 0 };
      this.#windows.set(key, w);
    }
    const resetSeconds = Math.max(1, Math.ceil((w.start + WINDOW_MS - now) / 1000));
    if (w.count >= limitPerMinute) {
      return { allowed: false, limit: limitPerMinute, remaining: 0, resetSeconds };
    }
    w.count++;
    return { allowed: true, limit: limitPerMinute, remaining: limitPerMinute - w.count, resetSeconds };
  }

  #sweep(now: number) {
    for (const [k, w] of this.#windows) if (now - w.start >= WINDOW_MS) this.#windows.delete(k);
  }
}
