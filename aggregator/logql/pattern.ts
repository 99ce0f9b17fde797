/**
 * Loki's pattern language (`| pattern "<ip> - <_> [<ts>] <msg>"` and the `|>` / `!>` line
 * filters): literals and `<name>` captures (`<_>` captures without a name). Matching is a
 * left-to-right scan for each literal (first occurrence), so it is linear in the line.
 * Semantics, including the edge cases, are Loki's `pkg/logql/log/pattern`.
 */

export type PatternNode = { literal: string } | { capture: string };

const CAPTURE = /^<([A-Za-z_][A-Za-z0-9_]*)>/;

/** Splits a pattern into nodes; adjacent literal characters are one literal. */
function lex(p: string): PatternNode[] {
  const nodes: PatternNode[] = [];
  let lit = '';
  for (let i = 0; i < p.length;) {
    const m = p[i] === '<' ? CAPTURE.exec(p.slice(i)) : null;
    if (m) {
      if (lit !== '') nodes.push({ literal: lit });
      lit = '';
      nodes.push({ capture: m[1]! });
      i += m[0].length;
    } else lit += p[i++];
  }
  if (lit !== '') nodes.push({ literal: lit });
  return nodes;
}

const show = (n: PatternNode) => ('capture' in n ? `<${n.capture}>` : n.literal);

function checkNoConsecutive(nodes: PatternNode[]): void {
  for (let i = 0; i + 1 < nodes.length; i++) {
    if ('capture' in nodes[i]! && 'capture' in nodes[i + 1]!) {
      throw new Error(`found consecutive capture '${show(nodes[i]!) + show(nodes[i + 1]!)}': invalid expression`);
    }
  }
}

/** For `| pattern`: at least one capture, none consecutive, names unique. Throws Loki's messages. */
export function parsePattern(p: string): PatternNode[] {
  const nodes = lex(p);
  if (!nodes.some((n) => 'capture' in n)) throw new Error('at least one capture is required');
  checkNoConsecutive(nodes);
  const seen = new Set<string>();
  for (const n of nodes) {
    if ('capture' in n && n.capture !== '_') {
      if (seen.has(n.capture)) throw new Error(`duplicate capture name (${n.capture}): invalid expression`);
      seen.add(n.capture);
    }
  }
  return nodes;
}

/** For `|>` / `!>`: only `<_>` captures, none consecutive. */
export function parseLineFilterPattern(p: string): PatternNode[] {
  if (p === '') return [];
  const nodes = lex(p);
  checkNoConsecutive(nodes);
  for (const n of nodes)
    if ('capture' in n && n.capture !== '_') throw new Error(`named captures are not allowed: found '${show(n)}'`);
  return nodes;
}

/** Named capture values in order (Loki's `Matcher.Matches`); a match may capture fewer than all names. */
export function patternMatches(nodes: PatternNode[], line: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  if (line.length === 0 || nodes.length === 0) return out;
  let i = 0;
  let rest = line;
  const first = nodes[0]!;
  if ('literal' in first) {
    if (!rest.startsWith(first.literal)) return out;
    rest = rest.slice(first.literal.length);
    i = 1;
  }
  if (i >= nodes.length) return out;
  while (i < nodes.length) {
    const cap = nodes[i] as { capture: string };
    if (i + 1 >= nodes.length) {
      if (cap.capture !== '_') out.push({ name: cap.capture, value: rest });
      return out;
    }
    const lit = (nodes[i + 1] as { literal: string }).literal;
    i += 2;
    const j = rest.indexOf(lit);
    if (j < 0) {
      if (cap.capture !== '_') out.push({ name: cap.capture, value: rest });
      return out;
    }
    if (cap.capture !== '_') out.push({ name: cap.capture, value: rest.slice(0, j) });
    rest = rest.slice(j + lit.length);
  }
  return out;
}

/** Loki's `Matcher.Test`: does the whole line fit the pattern (no empty captures)? */
export function patternTest(nodes: PatternNode[], line: string): boolean {
  if (line.length === 0 || nodes.length === 0) return line.length === 0 && nodes.length === 0;
  let off = 0;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (!('literal' in n)) continue;
    const j = line.indexOf(n.literal, off);
    if (j < 0) return false;
    // An empty capture (or a repeated literal) between two literals does not match.
    if (i !== 0 && j === off) return false;
    off = j + n.literal.length;
  }
  const endsOnCapture = 'capture' in nodes[nodes.length - 1]!;
  return endsOnCapture === (off !== line.length);
}
