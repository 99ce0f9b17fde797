/**
 * Time ranges of the UI, pure: a range is two expressions, each relative (`now`, `now-15m`,
 * `now-2d`) or absolute (RFC 3339). Relative ones are sent to the API as they are (it
 * resolves them once per request); the histogram and zoom need milliseconds, from
 * {@link resolveRange}. The range lives in the page's URL (shareable), see url-state.ts.
 */

export interface TimeRange {
  from: string;
  to: string;
}

export const DEFAULT_RANGE: TimeRange = { from: 'now-1h', to: 'now' };

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds since the epoch of one expression, or undefined when it is not one. */
export function resolveTime(expr: string, nowMs: number): number | undefined {
  const e = expr.trim();
  if (e === 'now') return nowMs;
  const rel = /^now-(\d+)([smhdw])$/.exec(e);
  if (rel) return nowMs - Number(rel[1]) * UNIT_MS[rel[2]!]!;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(e)) return undefined;
  const ms = Date.parse(e.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? undefined : ms;
}

/** Both ends in ms; an error message when an end is not valid or the range is reversed. */
export function resolveRange(r: TimeRange, nowMs: number): { startMs: number; endMs: number } | { error: string } {
  const startMs = resolveTime(r.from, nowMs);
  const endMs = resolveTime(r.to, nowMs);
  if (startMs === undefined) return { error: `"${r.from}" is not a time (use now-15m or 2026-12-01T10:00:00Z)` };
  if (endMs === undefined) return { error: `"${r.to}" is not a time (use now or 2026-12-01T10:00:00Z)` };
  if (endMs < startMs) return { error: 'the range ends before it starts' };
  return { startMs, endMs };
}

/** An absolute range for a zoom selection (ms), to the second when that loses nothing. */
export function absoluteRange(startMs: number, endMs: number): TimeRange {
  return { from: new Date(Math.floor(startMs)).toISOString(), to: new Date(Math.ceil(endMs)).toISOString() };
}

export const QUICK_RANGES: ReadonlyArray<{ label: string; from: string }> = [
  { label: 'Last 5 minutes', from: 'now-5m' },
  { label: 'Last 15 minutes', from: 'now-15m' },
  { label: 'Last 1 hour', from: 'now-1h' },
  { label: 'Last 6 hours', from: 'now-6h' },
  { label: 'Last 24 hours', from: 'now-24h' },
  { label: 'Last 7 days', from: 'now-7d' },
];

/** Short label of a range for buttons: "Last 1 hour" or "10:00:00 → 10:05:00". */
export function describeRange(r: TimeRange): string {
  if (r.to === 'now') {
    const quick = QUICK_RANGES.find((q) => q.from === r.from);
    if (quick) return quick.label;
    const rel = /^now-(\d+)([smhdw])$/.exec(r.from);
    if (rel) return `Last ${rel[1]}${rel[2]}`;
  }
  return `${r.from.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')} → ${r.to.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')}`;
}
