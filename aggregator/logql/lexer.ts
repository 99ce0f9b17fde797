/**
 * LogQL lexer, token for token what Loki's (`pkg/logql/syntax/lex.go` over Go's
 * `text/scanner`) produces, so the parser accepts and refuses the same inputs:
 * - keywords are case-insensitive; function names (`rate`, `sum`, `bytes`, …) are keywords
 *   only when a `(` (or `by`/`without` and a `(`) follows, so `{sum="x"}` stays a label;
 * - a number glued to duration units is a DURATION (`5m`, `1.5s`), to byte units a BYTES
 *   (`20MB`, `1KiB`); `[…]` is a RANGE in Prometheus duration syntax;
 * - `--strict` / `--keep-empty` are FUNCTION_FLAGs; `#` starts a comment to end of line;
 * - strings are Go string literals, `"…"` with escapes or `` `raw` ``.
 * Token `type`s are the names Loki's yacc grammar prints in `syntax error: unexpected X`.
 * Pure; positions are 1-based line and column (characters).
 */
import { LogqlParseError } from './errors.ts';
import { parseBytes, parseLogqlDuration, parsePromDuration } from './go-format.ts';

export interface Token {
  /** Grammar name: `IDENTIFIER`, `STRING`, `NUMBER`, `DURATION`, `BYTES`, `RANGE`, `FUNCTION_FLAG`, `$end`, or the operator/keyword text (`{`, `|=`, `by`, `RATE` …). */
  type: string;
  /** Source text (identifier spelling, number text, string's unquoted value). */
  text: string;
  /** DURATION / RANGE: nanoseconds; BYTES: bytes. */
  num: number;
  line: number;
  col: number;
}

/** Keywords and operators whose grammar name is their own text. */
const TOKENS = new Set([
  ',',
  '.',
  '{',
  '}',
  '=',
  '!=',
  '=~',
  '!~',
  '!>',
  '|=',
  '|~',
  '|>',
  '|',
  'unwrap',
  '(',
  ')',
  'by',
  'without',
  'bool',
  '[',
  ']',
  'label_replace',
  'offset',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'or',
  'and',
  'unless',
  '+',
  '-',
  '*',
  '/',
  '%',
  '^',
  '==',
  '>',
  '>=',
  '<',
  '<=',
  'json',
  'regexp',
  'logfmt',
  'unpack',
  'pattern',
  'label_format',
  'line_format',
  'ip',
  'decolorize',
  'drop',
  'keep',
]);

/** Function names → grammar token, recognised only before `(` (see isFunction). */
const FUNCTION_TOKENS: Record<string, string> = {
  rate: 'RATE',
  rate_counter: 'RATE_COUNTER',
  count_over_time: 'COUNT_OVER_TIME',
  bytes_rate: 'BYTES_RATE',
  bytes_over_time: 'BYTES_OVER_TIME',
  avg_over_time: 'AVG_OVER_TIME',
  sum_over_time: 'SUM_OVER_TIME',
  min_over_time: 'MIN_OVER_TIME',
  max_over_time: 'MAX_OVER_TIME',
  stdvar_over_time: 'STDVAR_OVER_TIME',
  stddev_over_time: 'STDDEV_OVER_TIME',
  quantile_over_time: 'QUANTILE_OVER_TIME',
  first_over_time: 'FIRST_OVER_TIME',
  last_over_time: 'LAST_OVER_TIME',
  absent_over_time: 'ABSENT_OVER_TIME',
  vector: 'VECTOR',
  sum: 'SUM',
  avg: 'AVG',
  max: 'MAX',
  min: 'MIN',
  count: 'COUNT',
  stddev: 'STDDEV',
  stdvar: 'STDVAR',
  bottomk: 'BOTTOMK',
  topk: 'TOPK',
  sort: 'SORT',
  sort_desc: 'SORT_DESC',
  label_replace: 'label_replace',
  approx_topk: 'APPROX_TOPK',
  bytes: 'BYTES_CONV',
  duration: 'DURATION_CONV',
  duration_seconds: 'DURATION_SECONDS_CONV',
  ip: 'ip',
};

const FLAGS = new Set(['--strict', '--keep-empty']);
const TWO_CHAR = new Set(['!=', '=~', '!~', '!>', '|=', '|~', '|>', '==', '>=', '<=']);

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isIdentStart = (c: string | undefined) => c !== undefined && (c === '_' || /\p{L}/u.test(c));
const isIdentPart = (c: string | undefined) => c !== undefined && (c === '_' || /[\p{L}\p{Nd}]/u.test(c));
const DURATION_RUNES = new Set(['n', 'u', 'µ', 'm', 's', 'h', 'd', 'w', 'y']);
const BYTES_RUNES = new Set(['B', 'i', 'k', 'K', 'M', 'G', 'T', 'P']);

export function tokenize(input: string): Token[] {
  const cps = Array.from(input);
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  const advance = (): string => {
    const c = cps[i++]!;
    if (c === '\n') {
      line++;
      col = 1;
    } else col++;
    return c;
  };
  const push = (type: string, text: string, l: number, c: number, num = 0) =>
    tokens.push({ type, text, num, line: l, col: c });
  // Go's text/scanner zeroes the line (not the column) when the lexer reads on with Next()
  // after Scan: Loki's errors at such tokens (ranges, durations, sizes, flags, two-character
  // operators) say `line 0`. Kept, so positions match Loki's character for character.
  const pushExtended = (type: string, text: string, c: number, num = 0) =>
    tokens.push({ type, text, num, line: 0, col: c });

  /** What follows position j, skipping spaces: is it `(`, or `by`/`without` then `(`? */
  const isFunction = (j: number): boolean => {
    while (isSpace(cps[j])) j++;
    if (cps[j] === '(') return true;
    let word = '';
    while (isIdentPart(cps[j])) word += cps[j++];
    word = word.toLowerCase();
    if (word !== 'by' && word !== 'without') return false;
    while (isSpace(cps[j])) j++;
    return cps[j] === '(';
  };

  /** Runes from j that may extend a number into a unit, stopping at space/end or a foreign rune. */
  const unitRun = (j: number, allowed: Set<string>): string => {
    let s = '';
    while (j < cps.length && !isSpace(cps[j]) && (isDigit(cps[j]) || allowed.has(cps[j]!) || cps[j] === '.'))
      s += cps[j++];
    return s;
  };

  while (i < cps.length) {
    const c = cps[i]!;
    if (isSpace(c)) {
      advance();
      continue;
    }
    const l = line;
    const cl = col;
    if (c === '#') {
      while (i < cps.length && cps[i] !== '\n') advance();
      continue;
    }
    if (isDigit(c) || (c === '.' && isDigit(cps[i + 1]))) {
      let text = '';
      if (c === '0' && (cps[i + 1] === 'x' || cps[i + 1] === 'X')) {
        text += advance() + advance();
        while (/[0-9a-fA-F_]/.test(cps[i] ?? '')) text += advance();
      } else {
        while (isDigit(cps[i]) || cps[i] === '_') text += advance();
        if (cps[i] === '.') {
          text += advance();
          while (isDigit(cps[i])) text += advance();
        }
        if (
          (cps[i] === 'e' || cps[i] === 'E') &&
          (isDigit(cps[i + 1]) || ((cps[i + 1] === '+' || cps[i + 1] === '-') && isDigit(cps[i + 2])))
        ) {
          text += advance() + advance();
          while (isDigit(cps[i])) text += advance();
        }
      }
      const durRun = unitRun(i, DURATION_RUNES);
      if (durRun !== '') {
        const ns = tryDuration(text + durRun);
        if (ns !== undefined) {
          for (let k = 0; k < Array.from(durRun).length; k++) advance();
          pushExtended('DURATION', text + durRun, cl, ns);
          continue;
        }
      }
      const bytesRun = unitRun(i, BYTES_RUNES);
      if (bytesRun !== '') {
        const b = tryBytes(text + bytesRun);
        if (b !== undefined) {
          for (let k = 0; k < bytesRun.length; k++) advance();
          pushExtended('BYTES', text + bytesRun, cl, b);
          continue;
        }
      }
      push('NUMBER', text, l, cl);
      continue;
    }
    if (c === '"' || c === '`') {
      push('STRING', scanString(), l, cl);
      continue;
    }
    if (c === '[') {
      advance();
      let body = '';
      while (i < cps.length && cps[i] !== ']') body += advance();
      if (i >= cps.length) throw new LogqlParseError("missing closing ']' in duration", 0, cl);
      advance();
      let ns: number;
      try {
        ns = parsePromDuration(body);
      } catch (e) {
        throw new LogqlParseError((e as Error).message, 0, cl);
      }
      pushExtended('RANGE', body, cl, ns);
      continue;
    }
    if (c === '-') {
      if (cps[i + 1] === '-') {
        let j = i + 1;
        let flag = '-';
        while (j < cps.length && (/\p{L}/u.test(cps[j]!) || cps[j] === '-')) flag += cps[j++];
        if (FLAGS.has(flag)) {
          while (i < j) advance();
          pushExtended('FUNCTION_FLAG', flag, cl);
          continue;
        }
      }
      const durRun = unitRun(i + 1, DURATION_RUNES);
      if (durRun !== '') {
        const ns = tryDuration('-' + durRun);
        if (ns !== undefined) {
          advance();
          for (let k = 0; k < Array.from(durRun).length; k++) advance();
          pushExtended('DURATION', '-' + durRun, cl, ns);
          continue;
        }
      }
    }
    if (isIdentStart(c)) {
      let text = '';
      while (isIdentPart(cps[i])) text += advance();
      const lower = text.toLowerCase();
      const fn = FUNCTION_TOKENS[lower];
      if (fn !== undefined) {
        push(isFunction(i) ? fn : 'IDENTIFIER', text, l, cl);
        continue;
      }
      push(TOKENS.has(lower) ? lower : 'IDENTIFIER', text, l, cl);
      continue;
    }
    const two = c + (cps[i + 1] ?? '');
    if (TWO_CHAR.has(two)) {
      advance();
      advance();
      pushExtended(two, two, cl);
      continue;
    }
    advance();
    push(TOKENS.has(c) ? c : 'IDENTIFIER', c, l, cl);
  }
  tokens.push({ type: '$end', text: '', num: 0, line, col });
  return tokens;

  /** Scans a Go string literal at i and returns its value (Prometheus `strutil.Unquote`). */
  function scanString(): string {
    const l = line;
    const cl = col;
    const quote = advance();
    let out = '';
    if (quote === '`') {
      while (i < cps.length && cps[i] !== '`') out += advance();
      if (i >= cps.length) throw new LogqlParseError('literal not terminated', l, cl);
      advance();
      return out.replaceAll('\r', '');
    }
    for (;;) {
      if (i >= cps.length || cps[i] === '\n') throw new LogqlParseError('literal not terminated', l, cl);
      const ch = advance();
      if (ch === '"') return out;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const e = i < cps.length ? advance() : '';
      const simple: Record<string, string> = {
        a: '\x07',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
        v: '\v',
        '\\': '\\',
        '"': '"',
        "'": "'",
      };
      if (simple[e] !== undefined) {
        out += simple[e];
        continue;
      }
      const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      if (hexLen > 0) {
        let h = '';
        for (let k = 0; k < hexLen; k++) h += i < cps.length ? advance() : '';
        if (!/^[0-9a-fA-F]+$/.test(h) || h.length !== hexLen) throw new LogqlParseError('invalid char escape', l, cl);
        const v = parseInt(h, 16);
        if (e === 'x') out += String.fromCharCode(v);
        else if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) throw new LogqlParseError('invalid char escape', l, cl);
        else out += String.fromCodePoint(v);
        continue;
      }
      if (e >= '0' && e <= '7') {
        const o = e + (i < cps.length ? advance() : '') + (i < cps.length ? advance() : '');
        if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) throw new LogqlParseError('invalid char escape', l, cl);
        out += String.fromCharCode(parseInt(o, 8));
        continue;
      }
      throw new LogqlParseError('invalid char escape', l, cl);
    }
  }
}

function tryDuration(s: string): number | undefined {
  try {
    return parseLogqlDuration(s);
  } catch {
    return undefined;
  }
}

function tryBytes(s: string): number | undefined {
  try {
    return parseBytes(s);
  } catch {
    return undefined;
  }
}
