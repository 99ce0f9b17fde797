/**
 * `patterns` (Grafana Logs Drilldown's Patterns tab): the lines of a log query grouped by
 * their shape, each with its count per step. Pure; the caller feeds the lines.
 *
 * Loki computes patterns with Drain in a pattern ingester, over its last hours only. Here a
 * line's pattern is the line with its variable parts (timestamps, UUIDs, IPs, long hex ids,
 * words of hex digits with a digit, numbers with an optional unit) replaced by `<_>`, adjacent ones merged.
 * Every pattern is a valid `|>` line filter that matches the lines counted under it (the
 * group is checked with the engine's own matcher), so Drilldown's "include / exclude" on a
 * pattern selects exactly those lines. A line whose derived pattern would not match it (a
 * literal occurs again inside a variable part) is counted under its own text instead.
 */
import { parseLineFilterPattern, patternTest } from '../../logql/pattern.ts';

export interface PatternInput {
  tsNs: bigint;
  line: string;
  /** `detected_level` of the line ('' when unknown). */
  level: string;
}

export interface PatternSeries {
  pattern: string;
  level: string;
  /** [unix seconds of the step start, lines] for each step with lines, in time order. */
  samples: [number, number][];
}

const MARK = '\uE000'; // private use: not in real log lines (replaced if it is)
// Order matters: longer shapes before the numbers they contain.
const VARIABLE: RegExp[] = [
  /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g,
  /\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g,
  /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi,
  /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g,
  // Numbers (with a unit, with a decimal part) before hex words, which would cut `1.1` at its dot.
  /\b\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|b|kb|mb|gb|kib|mib|gib|%)?\b/gi,
  /\b(?:0x)?[0-9a-f]*\d[0-9a-f]*\b/gi,
  // `<word>` would be a named capture in a pattern, which `|>` refuses: it becomes `<_>`.
  /<[A-Za-z_][A-Za-z0-9_]*>/g,
];

/** The pattern of one line (a `|>`-valid pattern that matches it). */
export function patternOf(line: string): string {
  if (line === '') return '';
  let marked = line.replaceAll(MARK, ' ');
  for (const re of VARIABLE) marked = marked.replace(re, MARK);
  // Nothing variable: the line is its own pattern (all literal).
  if (!marked.includes(MARK)) return line;
  const pattern = marked.replace(/\uE000+/g, '<_>');
  try {
    if (patternTest(parseLineFilterPattern(pattern), line)) return pattern;
  } catch {
    // not a valid line-filter pattern: fall through to the line itself
  }
  return literalPattern(line);
}

/** The line as a pattern of itself: only `<word>` sequences (captures to `|>`) become `<_>`. */
function literalPattern(line: string): string {
  const p = line.replace(/<[A-Za-z_][A-Za-z0-9_]*>/g, MARK).replace(/\uE000+/g, '<_>');
  try {
    if (patternTest(parseLineFilterPattern(p), line)) return p;
  } catch {
    // fall through
  }
  return '<_>';
}

/**
 * Groups lines by (pattern, level) and counts them per step from `startNs`. Largest groups
 * first (ties by pattern), at most `maxPatterns`.
 */
export function groupPatterns(
  lines: Iterable<PatternInput>,
  opts: { startNs: bigint; stepNs: bigint; maxPatterns: number },
): PatternSeries[] {
  const groups = new Map<string, { pattern: string; level: string; total: number; steps: Map<number, number> }>();
  const cache = new Map<string, string>();
  for (const { tsNs, line, level } of lines) {
    let pattern = cache.get(line);
    if (pattern === undefined) {
      pattern = patternOf(line);
      if (cache.size < 100_000) cache.set(line, pattern);
    }
    const key = `${level}\u0000${pattern}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { pattern, level, total: 0, steps: new Map() }));
    g.total++;
    const offset = tsNs < opts.startNs ? 0n : ((tsNs - opts.startNs) / opts.stepNs) * opts.stepNs;
    const second = Number((opts.startNs + offset) / 1_000_000_000n);
    g.steps.set(second, (g.steps.get(second) ?? 0) + 1);
  }
  return [...groups.values()]
    .sort((a, b) => b.total - a.total || (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0))
    .slice(0, opts.maxPatterns)
    .map((g) => ({
      pattern: g.pattern,
      level: g.level,
      samples: [...g.steps].sort((a, b) => a[0] - b[0]),
    }));
}
