/**
 * Completion of LogQL stream selectors: where the cursor stands (a label name, or the value
 * of `name op "…"`), what has been typed of it, and the text after a suggestion is taken.
 * Pure: no DOM, no fetch. The caller fetches names (`GET /loki/api/v1/labels`) or values
 * (`/label/{name}/values`) and scopes them with `selector`, the selector's other complete
 * matchers.
 *
 * The scan is forgiving: a half-typed query is the normal case. Strings outside selectors
 * (`|= "{x"`) are skipped so their braces are not taken for a selector.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export type CompletionContext =
  | {
      kind: 'label-name';
      /** What is typed of the name before the cursor. */
      prefix: string;
      /** The text range [from, to) a taken name replaces. */
      from: number;
      to: number;
      /** The matcher already has an operator: taking a name does not add `=`. */
      hasOperator: boolean;
      selector: string | undefined;
    }
  | {
      kind: 'label-value';
      label: string;
      op: MatchOp;
      /** The value's opening quote; undefined when the cursor is right after the operator. */
      quote: '"' | '`' | undefined;
      /** What is typed of the value (of the last `|` alternative for regex operators), unescaped. */
      prefix: string;
      from: number;
      to: number;
      /** The value's closing quote is present. */
      closed: boolean;
      selector: string | undefined;
    };

interface Matcher {
  name: string;
  nameStart: number;
  nameEnd: number;
  op?: MatchOp;
  opEnd?: number;
  quote?: '"' | '`';
  /** First character inside the quotes. */
  valueStart?: number;
  /** Index of the closing quote, or the text's length when it is missing. */
  valueEnd?: number;
  closed: boolean;
}

interface Selector {
  open: number;
  /** Index of `}`; undefined while the selector is still open. */
  close: number | undefined;
  matchers: Matcher[];
}

const NAME_CHAR = /[A-Za-z0-9_]/;
const OPS: readonly MatchOp[] = ['=~', '!~', '!=', '='];

/** Index of a string's closing quote (or the text's length); `"` strings honour backslash escapes. */
function stringEnd(text: string, open: number): number {
  const quote = text[open];
  let i = open + 1;
  while (i < text.length && text[i] !== quote) i += quote === '"' && text[i] === '\\' ? 2 : 1;
  return Math.min(i, text.length);
}

function skipSpaces(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i;
}

/** Every `{…}` selector of the text with its matchers' positions. */
function scanSelectors(text: string): Selector[] {
  const out: Selector[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === '`') {
      i = stringEnd(text, i) + 1;
      continue;
    }
    if (c !== '{') {
      i++;
      continue;
    }
    const sel: Selector = { open: i, close: undefined, matchers: [] };
    out.push(sel);
    i++;
    while (i < text.length) {
      i = skipSpaces(text, i);
      const ch = text[i];
      if (ch === undefined) break;
      if (ch === '}') {
        sel.close = i++;
        break;
      }
      if (!NAME_CHAR.test(ch)) {
        i++; // a comma, or something the parser would refuse: go on to the next matcher
        continue;
      }
      const nameStart = i;
      while (i < text.length && NAME_CHAR.test(text[i]!)) i++;
      const m: Matcher = { name: text.slice(nameStart, i), nameStart, nameEnd: i, closed: false };
      sel.matchers.push(m);
      i = skipSpaces(text, i);
      const op = OPS.find((o) => text.startsWith(o, i));
      if (!op) continue;
      m.op = op;
      i += op.length;
      m.opEnd = i;
      i = skipSpaces(text, i);
      const q = text[i];
      if (q !== '"' && q !== '`') continue;
      m.quote = q;
      m.valueStart = i + 1;
      m.valueEnd = stringEnd(text, i);
      m.closed = m.valueEnd < text.length;
      i = m.valueEnd + 1;
    }
  }
  return out;
}

/** The selector's complete matchers but `except`, as a selector the API accepts; undefined if none. */
function scopeOf(text: string, sel: Selector, except: Matcher | undefined): string | undefined {
  const kept = sel.matchers.filter((m) => m !== except && m.closed && m.op);
  // Loki refuses a selector whose matchers all match the empty value: only send one that has a positive matcher.
  const positive = kept.some((m) => {
    const v = unquote(text.slice(m.valueStart, m.valueEnd), m.quote!);
    if (m.op === '=') return v !== '';
    if (m.op !== '=~') return false;
    try {
      return !new RegExp(`^(?:${v})$`).test('');
    } catch {
      return false;
    }
  });
  if (!positive) return undefined;
  return `{${kept.map((m) => text.slice(m.nameStart, m.valueEnd! + 1)).join(', ')}}`;
}

function unquote(raw: string, quote: '"' | '`'): string {
  return quote === '"' ? raw.replace(/\\(.)/g, '$1') : raw;
}

/** What can be completed at `cursor` in `text`; undefined outside a selector's names and values. */
export function completionAt(text: string, cursor: number): CompletionContext | undefined {
  const sel = scanSelectors(text).find((s) => s.open < cursor && (s.close === undefined || cursor <= s.close));
  if (!sel) return undefined;
  for (const m of sel.matchers) {
    if (cursor >= m.nameStart && cursor <= m.nameEnd) {
      return {
        kind: 'label-name',
        prefix: text.slice(m.nameStart, cursor),
        from: m.nameStart,
        to: m.nameEnd,
        hasOperator: m.op !== undefined,
        selector: scopeOf(text, sel, m),
      };
    }
    if (!m.op) continue;
    const base = { kind: 'label-value' as const, label: m.name, op: m.op, selector: scopeOf(text, sel, m) };
    if (m.quote === undefined) {
      if (cursor >= m.opEnd! && text.slice(m.opEnd, cursor).trim() === '')
        return { ...base, quote: undefined, prefix: '', from: cursor, to: cursor, closed: false };
      continue;
    }
    if (cursor < m.valueStart! || cursor > m.valueEnd!) continue;
    let from = m.valueStart!;
    let to = m.valueEnd!;
    if (m.op === '=~' || m.op === '!~') {
      // Complete one alternative of a regex: `web|ap` completes `ap`.
      const bar = text.lastIndexOf('|', cursor - 1);
      if (bar >= from) from = bar + 1;
      const next = text.indexOf('|', cursor);
      if (next !== -1 && next < to) to = next;
    }
    let prefix = unquote(text.slice(from, cursor), m.quote);
    if (m.op === '=~' || m.op === '!~') prefix = prefix.replace(/\\([^A-Za-z0-9])/g, '$1');
    return { ...base, quote: m.quote, prefix, from, to, closed: m.closed };
  }
  // Between matchers: right after `{` or `,`.
  const before = text.slice(sel.open + 1, cursor).trimEnd();
  if (before === '' || before.endsWith(','))
    return {
      kind: 'label-name',
      prefix: '',
      from: cursor,
      to: cursor,
      hasOperator: false,
      selector: scopeOf(text, sel, undefined),
    };
  return undefined;
}

/** `value` as it must be written between the quotes for `op`. */
export function escapeValue(value: string, op: MatchOp, quote: '"' | '`'): string {
  const v = op === '=~' || op === '!~' ? value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : value;
  return quote === '"' ? v.replace(/[\\"]/g, '\\$&') : v;
}

/** The text and caret after taking `value` in context `ctx`. */
export function applyCompletion(text: string, ctx: CompletionContext, value: string): { text: string; cursor: number } {
  const splice = (insert: string, caret: number) => ({
    text: text.slice(0, ctx.from) + insert + text.slice(ctx.to),
    cursor: ctx.from + caret,
  });
  if (ctx.kind === 'label-name') {
    // Grafana's way: a name brings `=`, and the value list opens right after it.
    const insert = ctx.hasOperator ? value : `${value}=`;
    return splice(insert, insert.length);
  }
  if (ctx.quote === undefined) {
    const insert = `"${escapeValue(value, ctx.op, '"')}"`;
    return splice(insert, insert.length);
  }
  const escaped = escapeValue(value, ctx.op, ctx.quote);
  if (!ctx.closed) return splice(escaped + ctx.quote, escaped.length + 1);
  // Past the closing quote when the value is done; inside it when alternatives follow (`a|b`).
  const endsValue = text[ctx.to] === ctx.quote;
  return splice(escaped, escaped.length + (endsValue ? 1 : 0));
}

/** Candidates for `prefix`, case-insensitive: those starting with it first, then those containing it. */
export function rankCompletions(candidates: readonly string[], prefix: string, limit = 50): string[] {
  const p = prefix.toLowerCase();
  const starts: string[] = [];
  const contains: string[] = [];
  for (const c of candidates) {
    const l = c.toLowerCase();
    if (l.startsWith(p)) starts.push(c);
    else if (l.includes(p)) contains.push(c);
  }
  return [...starts, ...contains].slice(0, limit);
}
