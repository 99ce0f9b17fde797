/**
 * "Compare with the previous period", pure: the current result against the same query over
 * the window of the same length just before it. Totals and levels are the API's exact counts
 * of each window; patterns are from the lines loaded of each (say so where they are shown).
 */
import { groupPatterns } from './patterns.ts';

export interface WindowFigures {
  total: number;
  levels: ReadonlyArray<{ key: string; count: number }>;
  /** Messages of the lines loaded from this window. */
  lines: readonly string[];
}

export interface CompareRow {
  key: string;
  current: number;
  previous: number;
  /** Change in percent of the previous count; null when the previous count is 0. */
  changePct: number | null;
}

export interface Comparison {
  total: CompareRow;
  levels: CompareRow[];
  /** Largest patterns of either window, by the larger count. */
  patterns: CompareRow[];
}

const row = (key: string, current: number, previous: number): CompareRow => ({
  key,
  current,
  previous,
  changePct: previous === 0 ? null : Math.round(((current - previous) / previous) * 1000) / 10,
});

/** The window of the same length ending where `startMs` begins. */
export function previousWindow(startMs: number, endMs: number): { startMs: number; endMs: number } {
  return { startMs: startMs - (endMs - startMs), endMs: startMs };
}

export function compareWindows(current: WindowFigures, previous: WindowFigures, maxPatterns = 10): Comparison {
  const levelKeys = [...new Set([...current.levels, ...previous.levels].map((l) => l.key))].sort();
  const count = (w: WindowFigures, k: string) => w.levels.find((l) => l.key === k)?.count ?? 0;
  const pc = new Map(groupPatterns(current.lines, 10_000).map((p) => [p.pattern, p.count]));
  const pp = new Map(groupPatterns(previous.lines, 10_000).map((p) => [p.pattern, p.count]));
  const patterns = [...new Set([...pc.keys(), ...pp.keys()])]
    .map((k) => row(k, pc.get(k) ?? 0, pp.get(k) ?? 0))
    .sort((a, b) => Math.max(b.current, b.previous) - Math.max(a.current, a.previous) || (a.key < b.key ? -1 : 1))
    .slice(0, maxPatterns);
  return {
    total: row('total', current.total, previous.total),
    levels: levelKeys.map((k) => row(k, count(current, k), count(previous, k))),
    patterns,
  };
}
