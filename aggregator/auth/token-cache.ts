/**
 * Verification cache of presented tokens (pure; time is passed in), keyed by token hash.
 *
 * Two bounded LRUs, so what an attacker controls cannot push out what it does not:
 * - positives (known, valid tokens → principal) for `positiveTtlMs`;
 * - negatives (unknown, revoked, expired) for the shorter `negativeTtlMs`.
 * A flood of bogus tokens only ever evicts other negatives: valid tokens stay cached and
 * keep being served without a store lookup. A bogus token repeated costs one lookup per
 * negative TTL; distinct bogus tokens necessarily cost one lookup each (they are unknown
 * until looked up). Memory: at most `maxEntries` of each kind.
 *
 * Concurrency: single-threaded use only; no I/O.
 */
import type { Principal } from './scopes.ts';

export interface TokenCacheOptions {
  /** How long a valid token is trusted without a lookup, ms. */
  positiveTtlMs: number;
  /** How long an unknown/revoked/expired token is refused without a lookup, ms. */
  negativeTtlMs: number;
  /** Bound of each of the two LRUs, entries. */
  maxEntries: number;
}

/** `undefined`: not cached (look it up); `null`: cached refusal; else the cached principal. */
export type CachedVerdict = Principal | null | undefined;

export class TokenCache {
  readonly #opts: TokenCacheOptions;
  readonly #positive = new Map<string, { principal: Principal; until: number }>();
  readonly #negative = new Map<string, number>();

  constructor(opts: TokenCacheOptions) {
    this.#opts = opts;
  }

  get(hash: string, now: number): CachedVerdict {
    const p = this.#positive.get(hash);
    if (p !== undefined) {
      if (p.until > now) {
        // Map order is the LRU order: a hit moves the entry to the young end.
        this.#positive.delete(hash);
        this.#positive.set(hash, p);
        return p.principal;
      }
      this.#positive.delete(hash);
    }
    const n = this.#negative.get(hash);
    if (n !== undefined) {
      if (n > now) return null;
      this.#negative.delete(hash);
    }
    return undefined;
  }

  set(hash: string, principal: Principal | null, now: number): void {
    this.delete(hash);
    if (principal !== null) {
      this.#positive.set(hash, { principal, until: now + this.#opts.positiveTtlMs });
      evictOldest(this.#positive, this.#opts.maxEntries);
    } else {
      this.#negative.set(hash, now + this.#opts.negativeTtlMs);
      evictOldest(this.#negative, this.#opts.maxEntries);
    }
  }

  delete(hash: string): void {
    this.#positive.delete(hash);
    this.#negative.delete(hash);
  }

  clear(): void {
    this.#positive.clear();
    this.#negative.clear();
  }

  get size(): { positive: number; negative: number } {
    return { positive: this.#positive.size, negative: this.#negative.size };
  }
}

function evictOldest(map: Map<string, unknown>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done === true) return;
    map.delete(oldest.value);
  }
}
