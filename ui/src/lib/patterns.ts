/**
 * "Patterns": groups similar lines of a result, pure. A line's pattern is the line with its
 * variable parts replaced by placeholders (numbers, hex ids, UUIDs, IPs, quoted strings,
 * durations, timestamps), so `GET /users/42 took 13ms` and `GET /users/7 took 2ms` are one
 * group. Groups come largest first, each with a count and one sample line.
 */

export interface Pattern {
  pattern: string;
  count: number;
  sample: string;
  /** Index of the first line of the group in the input. */
  first: number;
}

const RULES: Array<[RegExp, string]> = [
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?\b/g, '<ts>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '<ip>'],
  [/\b(0x)?[0-9a-f]{12,}\b/gi, '<hex>'],
  [/"(?:[^"\\]|\\.)*"/g, '"<str>"'],
  [/\b\d+(\.\d+)?(ns|us|µs|ms|s|m|h|b|kb|mb|gb|%)?\b/gi, '<n>'],
];

export function patternOf(line: string): string {
  let p = line;
  for (const [re, rep] of RULES) p = p.replace(re, rep);
  return p.replace(/\s+/g, ' ').trim();
}

export function groupPatterns(lines: readonly string[], maxGroups = 200): Pattern[] {
  const groups = new Map<string, Pattern>();
  lines.forEach((line, i) => {
    const key = patternOf(line);
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { pattern: key, count: 1, sample: line, first: i });
  });
  return [...groups.values()].sort((a, b) => b.count - a.count || a.first - b.first).slice(0, maxGroups);
}
