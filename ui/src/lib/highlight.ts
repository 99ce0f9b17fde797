/**
 * Match highlighting, pure: splits a text into the parts that match any of the terms
 * (case-insensitive, exact substrings, as the API's `contains` matches) and those that do
 * not. Overlapping matches merge; the parts join back to the original text.
 */

export interface TextPart {
  text: string;
  match: boolean;
}

export function splitMatches(text: string, terms: readonly string[]): TextPart[] {
  const wanted = terms.map((t) => t.toLowerCase()).filter((t) => t.length > 0);
  if (wanted.length === 0 || text.length === 0) return [{ text, match: false }];
  const lower = text.toLowerCase();
  // Mark matched ranges, then cut the text at their edges.
  const ranges: Array<[number, number]> = [];
  for (const t of wanted) {
    for (let i = lower.indexOf(t); i !== -1; i = lower.indexOf(t, i + 1)) ranges.push([i, i + t.length]);
  }
  if (ranges.length === 0) return [{ text, match: false }];
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: Array<[number, number]> = [];
  for (const r of ranges) {
    const prev = merged[merged.length - 1];
    if (prev && r[0] <= prev[1]) prev[1] = Math.max(prev[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  const parts: TextPart[] = [];
  let pos = 0;
  for (const [s, e] of merged) {
    if (s > pos) parts.push({ text: text.slice(pos, s), match: false });
    parts.push({ text: text.slice(s, e), match: true });
    pos = e;
  }
  if (pos < text.length) parts.push({ text: text.slice(pos), match: false });
  return parts;
}

/** A JSON message pretty-printed, or undefined when the message is not a JSON object/array. */
export function prettyJson(message: string): string | undefined {
  const m = message.trim();
  if (!(m.startsWith('{') && m.endsWith('}')) && !(m.startsWith('[') && m.endsWith(']'))) return undefined;
  try {
    return JSON.stringify(JSON.parse(m), null, 2);
  } catch {
    return undefined;
  }
}
