/**
 * Time-histogram intervals for `POST /search`. Pure, table-tested.
 *
 * The automatic interval is the smallest step of a fixed ladder that keeps the window at
 * or under MAX_AUTO_BUCKETS buckets, so a chart always gets a readable number of bars;
 * beyond the top of the ladder it grows in whole days. An explicit interval is accepted
 * when it is a whole number of s/m/h/d and yields at most MAX_EXPLICIT_BUCKETS buckets.
 */

const NS_PER_S = 1_000_000_000n;
const UNIT_NS: Record<string, bigint> = { s: NS_PER_S, m: 60n * NS_PER_S, h: 3600n * NS_PER_S, d: 86_400n * NS_PER_S };

/** Target upper bound of buckets for an automatic interval. */
export const MAX_AUTO_BUCKETS = 120;
/** Hard upper bound of buckets for an interval the caller chose. */
export const MAX_EXPLICIT_BUCKETS = 2000;

export const INTERVAL_LADDER = ['1s', '5s', '10s', '30s', '1m', '5m', '10m', '30m', '1h', '3h', '6h', '12h', '1d'] as const;

export class IntervalError extends Error {
  override readonly name = 'IntervalError';
}

/** `90s`, `5m`, `1d` → nanoseconds; undefined when not a whole number of s/m/h/d. */
export function intervalNanos(interval: string): bigint | undefined {
  const m = /^([1-9][0-9]{0,5})([smhd])$/.exec(interval);
  if (!m) return undefined;
  return BigInt(m[1]!) * UNIT_NS[m[2]!]!;
}

/**
 * Buckets a window [startNs, endNs] spans at an interval, counting the partial buckets at
 * both ends (buckets are aligned to multiples of the interval since the epoch, as
 * OpenSearch's fixed_interval is).
 */
export function bucketCount(startNs: bigint, endNs: bigint, stepNs: bigint): bigint {
  const first = floorDiv(startNs, stepNs);
  const last = floorDiv(endNs, stepNs);
  return last - first + 1n;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/**
 * The smallest ladder interval whose steps fit the window's span at most MAX_AUTO_BUCKETS
 * times — so `now-1h` gets 30s, not 1m. Alignment adds at most two partial buckets at the
 * ends (the window need not start on a step boundary), hence "about" 120.
 */
export function autoInterval(startNs: bigint, endNs: bigint): string {
  const span = endNs - startNs;
  const max = BigInt(MAX_AUTO_BUCKETS);
  for (const step of INTERVAL_LADDER) {
    if (span <= intervalNanos(step)! * max) return step;
  }
  const day = UNIT_NS['d']!;
  return `${(span + day * max - 1n) / (day * max)}d`;
}

/** Resolves the interval to use: the caller's (validated) or the automatic one. */
export function resolveInterval(startNs: bigint, endNs: bigint, requested?: string): string {
  if (requested === undefined) return autoInterval(startNs, endNs);
  const step = intervalNanos(requested);
  if (step === undefined) throw new IntervalError(`interval "${requested}" is not a whole number of s, m, h or d (e.g. 30s, 5m, 1h)`);
  const n = bucketCount(startNs, endNs, step);
  if (n > BigInt(MAX_EXPLICIT_BUCKETS)) {
    throw new IntervalError(`interval "${requested}" gives ${n} buckets over the window; at most ${MAX_EXPLICIT_BUCKETS} are allowed`);
  }
  return requested;
}
