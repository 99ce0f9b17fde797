/**
 * Metric push-down: which range aggregations a store may answer with its own aggregations,
 * and the window arithmetic that makes bucket counts equal the engine's windows. Pure.
 *
 * Pushed down only where the answer is provably the in-process one:
 * - `count_over_time`, `rate`, `bytes_over_time`, `bytes_rate` without unwrap, under a
 *   `sum by (…)` (or plain `sum`) whose labels are all built-in stream labels — the series
 *   labels are then keyword fields. A bare range aggregation or `sum without` keeps the pod
 *   labels, a flat_object the store cannot bucket by, so those stay in process;
 * - no stage other than single-literal `|=` / `!=` line filters (no parser, no formatting:
 *   the value per line and the series labels are the stored ones), and the store must be
 *   able to apply the matchers and filters exactly (it says so by answering);
 * - every window edge (step end − offset, and that − range) on a whole millisecond: store
 *   histograms bucket date_nanos by milliseconds.
 *
 * Windows are the engine's: at step t, samples with t−offset−range < ts ≤ t−offset. Store
 * buckets are left-closed `[k, k+w)` on a grid of width w = gcd(step, range) through the
 * edges, so a window (L, E] is the buckets [L, E) minus the records exactly at L plus those
 * exactly at E; the store reports those edge records separately (`edges`).
 */
import type { Grouping, RangeAggregationExpr, Stage } from './ast.ts';
import type { Matcher } from './ast.ts';
import { BUILT_IN_FIELDS } from './matcher-push-down.ts';

const NS_PER_MS = 1_000_000n;
/** Most grid buckets between the first and last edge; beyond it the engine evaluates in process. */
export const MAX_GRID_BUCKETS = 200_000;

export const PUSHABLE_RANGE_OPS: ReadonlySet<string> = new Set([
  'count_over_time',
  'rate',
  'bytes_over_time',
  'bytes_rate',
]);

/** What the engine asks a store to aggregate; the store answers undefined when it cannot do it exactly. */
export interface WindowAggregateRequest {
  matchers: Matcher[];
  /** Literals every line contains / no line contains (the query's `|=` / `!=`). */
  lineContains: string[];
  lineExcludes: string[];
  /** Built-in stream labels to group by, sorted, unique; empty = one series. */
  groupBy: string[];
  /** Also sum UTF-8 line bytes (bytes_over_time, bytes_rate). */
  bytes: boolean;
  /** Window ends (step − offset), ascending, each a whole millisecond. */
  endsNs: bigint[];
  /** Window length, a whole millisecond. */
  rangeNs: bigint;
  /** Answer undefined beyond this many series (the engine then applies its own limit). */
  maxSeries: number;
  signal?: AbortSignal | undefined;
}

export interface WindowSeries {
  labels: [string, string][];
  /** Per window (index of `endsNs`): records in it, and their UTF-8 line bytes when asked. */
  counts: number[];
  bytes: number[];
}

export interface WindowAggregateResult {
  series: WindowSeries[];
}

/** The push-down request for `sum <grouping> (e)` at `steps`, or undefined to evaluate in process. */
export function planWindowAggregate(
  e: RangeAggregationExpr,
  grouping: Grouping,
  steps: readonly bigint[],
  maxSeries: number,
  signal?: AbortSignal,
): WindowAggregateRequest | undefined {
  if (!PUSHABLE_RANGE_OPS.has(e.op) || e.range.unwrap || e.grouping) return undefined;
  if (grouping.without || !grouping.labels.every((l) => BUILT_IN_FIELDS.has(l))) return undefined;
  const lineContains: string[] = [];
  const lineExcludes: string[] = [];
  if (!literalLineFilters(e.range.selector.stages, lineContains, lineExcludes)) return undefined;
  const rangeNs = BigInt(e.range.rangeNs);
  const offNs = BigInt(e.range.offsetNs);
  if (rangeNs <= 0n || rangeNs % NS_PER_MS !== 0n) return undefined;
  const endsNs = steps.map((t) => t - offNs);
  if (endsNs.some((t) => t % NS_PER_MS !== 0n)) return undefined;
  const grid = windowGrid(endsNs, rangeNs);
  if (!grid) return undefined;
  return {
    matchers: e.range.selector.matchers,
    lineContains,
    lineExcludes,
    groupBy: [...new Set(grouping.labels)].sort(),
    bytes: e.op === 'bytes_over_time' || e.op === 'bytes_rate',
    endsNs,
    rangeNs,
    maxSeries,
    signal,
  };
}

function literalLineFilters(stages: readonly Stage[], contains: string[], excludes: string[]): boolean {
  for (const s of stages) {
    if (s.kind !== 'lineFilter') return false;
    for (const f of s.filters) {
      if (f.terms.length !== 1 || f.terms[0]!.ip || f.terms[0]!.value === '') return false;
      if (f.op === '|=') contains.push(f.terms[0]!.value);
      else if (f.op === '!=') excludes.push(f.terms[0]!.value);
      else return false;
    }
  }
  return true;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** The bucket grid of a set of windows: width and anchor in ms, the edge instants, the span. */
export interface WindowGrid {
  intervalMs: bigint;
  /** Grid anchor: bucket starts are offsetMs + k·intervalMs, 0 ≤ offsetMs < intervalMs. */
  offsetMs: bigint;
  /** Every window edge (starts and ends), ns, sorted, unique. */
  edgesNs: bigint[];
  /** Records from fromNs to toNs, both inclusive, are read. */
  fromNs: bigint;
  toNs: bigint;
}

export function windowGrid(endsNs: readonly bigint[], rangeNs: bigint): WindowGrid | undefined {
  if (endsNs.length === 0) return undefined;
  const rangeMs = rangeNs / NS_PER_MS;
  let w = rangeMs;
  for (let i = 1; i < endsNs.length; i++) w = gcd(w, (endsNs[i]! - endsNs[i - 1]!) / NS_PER_MS);
  if (w <= 0n) return undefined;
  const fromNs = endsNs[0]! - rangeNs;
  const toNs = endsNs[endsNs.length - 1]!;
  if ((toNs - fromNs) / NS_PER_MS / w + 1n > BigInt(MAX_GRID_BUCKETS)) return undefined;
  let offsetMs = (endsNs[0]! / NS_PER_MS) % w;
  if (offsetMs < 0n) offsetMs += w;
  const edges = new Set<bigint>();
  for (const e of endsNs) {
    edges.add(e);
    edges.add(e - rangeNs);
  }
  return { intervalMs: w, offsetMs, edgesNs: [...edges].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), fromNs, toNs };
}

/** Bucket sums of one series: bucket start (ms) → records and bytes. */
export type Buckets = Map<bigint, { count: number; bytes: number }>;

/**
 * Per-window totals of one series from its grid buckets (`raw`: every record in [from, to]
 * by left-closed bucket) and its records exactly at an edge (`edges`, keyed by the edge in ms).
 */
export function windowTotals(
  raw: Buckets,
  edges: Buckets,
  endsNs: readonly bigint[],
  rangeNs: bigint,
): { counts: number[]; bytes: number[] } {
  const keys = [...raw.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const cum = [0];
  const cumBytes = [0];
  for (const k of keys) {
    const b = raw.get(k)!;
    cum.push(cum[cum.length - 1]! + b.count);
    cumBytes.push(cumBytes[cumBytes.length - 1]! + b.bytes);
  }
  /** Index of the first key ≥ ms. */
  const lowerBound = (ms: bigint): number => {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (keys[mid]! < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const counts: number[] = [];
  const bytes: number[] = [];
  const rangeMs = rangeNs / NS_PER_MS;
  for (const endNs of endsNs) {
    const e = endNs / NS_PER_MS;
    const l = e - rangeMs;
    const i = lowerBound(l);
    const j = lowerBound(e);
    const atL = edges.get(l);
    const atE = edges.get(e);
    counts.push(cum[j]! - cum[i]! - (atL?.count ?? 0) + (atE?.count ?? 0));
    bytes.push(cumBytes[j]! - cumBytes[i]! - (atL?.bytes ?? 0) + (atE?.bytes ?? 0));
  }
  return { counts, bytes };
}
