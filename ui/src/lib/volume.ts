/**
 * Log volume by level, pure. The API's histogram counts every match per time bucket; the
 * records loaded so far say how those split by level. Each bucket is stacked by level from
 * the loaded records, and what is not loaded yet is its own segment (`unloaded`), so the
 * bars are exact in height and honest about what the split is based on.
 */

export interface VolumeBucket {
  startMs: number;
  endMs: number;
  total: number;
  byLevel: Record<string, number>;
  /** Matches in this bucket that are not among the loaded records. */
  unloaded: number;
}

export const LEVEL_ORDER = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'unknown'] as const;

/**
 * `buckets`: the API's (start RFC 3339, count), ascending, of one interval; `records`: the
 * loaded ones (any order). `windowEndMs` closes the last bucket.
 */
export function volumeByLevel(
  buckets: ReadonlyArray<{ start: string; count: number }>,
  records: ReadonlyArray<{ timestamp: string; level: string }>,
  windowEndMs: number,
): VolumeBucket[] {
  const starts = buckets.map((b) => Date.parse(b.start));
  const out: VolumeBucket[] = buckets.map((b, i) => ({
    startMs: starts[i]!,
    endMs: starts[i + 1] ?? Math.max(windowEndMs, starts[i]! + 1),
    total: b.count,
    byLevel: {},
    unloaded: b.count,
  }));
  if (out.length === 0) return out;
  for (const r of records) {
    const t = Date.parse(r.timestamp.replace(/(\.\d{3})\d+/, '$1'));
    const i = findBucket(starts, t);
    if (i < 0) continue;
    const b = out[i]!;
    b.byLevel[r.level] = (b.byLevel[r.level] ?? 0) + 1;
  }
  for (const b of out) {
    const loaded = Object.values(b.byLevel).reduce((a, c) => a + c, 0);
    b.unloaded = Math.max(0, b.total - loaded);
  }
  return out;
}

/** Index of the bucket holding `t` (last start ≤ t), -1 before the first. Binary search. */
function findBucket(starts: readonly number[], t: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  if (hi < 0 || t < starts[0]!) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Buckets of fixed width over a window from records alone (live tail), by level. */
export function bucketRecords(
  records: ReadonlyArray<{ timestamp: string; level: string }>,
  startMs: number,
  endMs: number,
  count: number,
): VolumeBucket[] {
  const width = Math.max(1, (endMs - startMs) / count);
  const out: VolumeBucket[] = Array.from({ length: count }, (_, i) => ({
    startMs: startMs + i * width,
    endMs: startMs + (i + 1) * width,
    total: 0,
    byLevel: {},
    unloaded: 0,
  }));
  for (const r of records) {
    const t = Date.parse(r.timestamp.replace(/(\.\d{3})\d+/, '$1'));
    const i = Math.floor((t - startMs) / width);
    if (i < 0 || i >= count) continue;
    const b = out[i]!;
    b.total++;
    b.byLevel[r.level] = (b.byLevel[r.level] ?? 0) + 1;
  }
  return out;
}
