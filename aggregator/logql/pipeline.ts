/**
 * Log pipelines: a query's stages compiled once into closures over a per-entry label
 * builder, then run line by line (Loki's `pkg/logql/log`): line filters, parsers (json,
 * logfmt, regexp, pattern, unpack), label filters, line_format / label_format, drop / keep,
 * decolorize, and the sample extraction of metric queries (line count, bytes, unwrap).
 *
 * Semantics kept from Loki, because users rely on them:
 * - a parsed label that collides with a stream label or structured metadata is renamed
 *   `<name>_extracted`; a later parser overwrites an earlier one's label;
 * - a parser, conversion or template failure does not drop the line: it sets `__error__`
 *   (JSONParserErr, LogfmtParserErr, LabelFilterErr, SampleExtractionErr,
 *   TemplateFormatErr) and `__error_details__`; numeric/duration/bytes filters on a value
 *   that does not convert keep the line with LabelFilterErr;
 * - a missing label is "" for string matchers and fails numeric filters.
 * Concurrency: a compiled pipeline owns one reusable builder; run it from one evaluation.
 * Hot path (bench/aggregator/logql-pipeline.bench.ts): charCode loops, no per-line closures.
 */
import type { RE2JS } from 're2js';
import type { CmpOp, Extraction, LabelFilter, LineFilter, Matcher, Stage, Unwrap } from './ast.ts';
import { ERROR_DETAILS_LABEL, ERROR_LABEL } from './ast.ts';
import { LogqlParseError } from './errors.ts';
import { goQuote, parseBytes, parseGoDuration, parseGoFloat } from './go-format.ts';
import { compileIpPattern, lineHasIp, type IpMatcher } from './ip.ts';
import { parseLineFilterPattern, parsePattern, patternMatches, patternTest, type PatternNode } from './pattern.ts';
import { compileRegex, replaceAll } from './regex.ts';
import { executeTemplate, parseTemplate } from './template.ts';

export type Labels = Readonly<Record<string, string>>;

const DUPLICATE_SUFFIX = '_extracted';
const ERR_JSON = 'JSONParserErr';
const ERR_LOGFMT = 'LogfmtParserErr';
const ERR_LABEL_FILTER = 'LabelFilterErr';
const ERR_TEMPLATE = 'TemplateFormatErr';
const ERR_SAMPLE = 'SampleExtractionErr';

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The labels of one entry while it goes through the pipeline: the stream's labels, its
 * structured metadata, what stages added, what they deleted, and the error pair.
 */
export class LabelsBuilder {
  base: Labels = {};
  meta: Labels = {};
  // Added labels as parallel arrays: an entry has a handful, and a linear scan over interned
  // strings beats a Map that must be cleared per line (bench/aggregator/logql-pipeline.bench.ts).
  #keys: string[] = [];
  #values: string[] = [];
  #n = 0;
  readonly #deleted = new Set<string>();
  /**
   * Names set by a stage on this line, deleted or not (Loki's "extracted" hints): a parser
   * never takes a name over once a stage has set it (the first parser wins, and within a
   * line the first occurrence of a key).
   */
  #setNames: string[] = [];
  #setCount = 0;
  /**
   * Loki's parser hints: when set, parsers extract only these names (everything else would
   * be dropped by the query's grouping unread). Set by the evaluator only where that holds.
   */
  wanted: ReadonlySet<string> | undefined;
  err = '';
  errDetails = '';

  reset(base: Labels, meta: Labels): void {
    this.base = base;
    this.meta = meta;
    this.#n = 0;
    this.#setCount = 0;
    if (this.#deleted.size) this.#deleted.clear();
    this.err = '';
    this.errDetails = '';
  }

  #find(name: string): number {
    const keys = this.#keys;
    for (let i = 0; i < this.#n; i++) if (keys[i] === name) return i;
    return -1;
  }

  get(name: string): string | undefined {
    const i = this.#find(name);
    if (i >= 0) return this.#values[i];
    if (name === ERROR_LABEL) return this.err || undefined;
    if (name === ERROR_DETAILS_LABEL) return this.errDetails || undefined;
    if (this.#deleted.size && this.#deleted.has(name)) return undefined;
    if (hasOwn.call(this.meta, name)) return this.meta[name];
    return hasOwn.call(this.base, name) ? this.base[name] : undefined;
  }

  /** A name a parser may not take over: a stream label or structured metadata. */
  reserved(name: string): boolean {
    return hasOwn.call(this.base, name) || hasOwn.call(this.meta, name);
  }

  /** Sets a parsed label unless a stage already set this name on this line; false when skipped. */
  setIfNew(name: string, value: string): boolean {
    if (this.wanted !== undefined && !this.wanted.has(name)) return false;
    const names = this.#setNames;
    for (let i = 0; i < this.#setCount; i++) if (names[i] === name) return false;
    this.set(name, value);
    return true;
  }

  set(name: string, value: string): void {
    this.#setNames[this.#setCount++] = name;
    const i = this.#find(name);
    if (i >= 0) {
      this.#values[i] = value;
      return;
    }
    this.#keys[this.#n] = name;
    this.#values[this.#n++] = value;
  }

  del(name: string): void {
    const i = this.#find(name);
    if (i >= 0) {
      const last = --this.#n;
      this.#keys[i] = this.#keys[last]!;
      this.#values[i] = this.#values[last]!;
    }
    this.#deleted.add(name);
  }

  setErr(err: string, details?: string): void {
    this.err = err;
    if (details !== undefined) this.errDetails = details;
  }

  /** Every label, sorted by name, errors included: the entry's final label set. */
  entries(): [string, string][] {
    const out: [string, string][] = [];
    const deleted = this.#deleted;
    for (const k in this.base)
      if (this.#find(k) < 0 && !deleted.has(k) && !hasOwn.call(this.meta, k)) out.push([k, this.base[k]!]);
    for (const k in this.meta) if (this.#find(k) < 0 && !deleted.has(k)) out.push([k, this.meta[k]!]);
    for (let i = 0; i < this.#n; i++) out.push([this.#keys[i]!, this.#values[i]!]);
    if (this.err) out.push([ERROR_LABEL, this.err]);
    if (this.errDetails) out.push([ERROR_DETAILS_LABEL, this.errDetails]);
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out;
  }

  /** The listed labels that are set (errors always), sorted: a `by (…)` series without building all. */
  only(sortedNames: readonly string[]): [string, string][] {
    const out: [string, string][] = [];
    for (const n of sortedNames) {
      if (n === ERROR_LABEL || n === ERROR_DETAILS_LABEL) continue;
      const v = this.get(n);
      if (v !== undefined) out.push([n, v]);
    }
    if (this.err || this.errDetails) {
      if (this.err) out.push([ERROR_LABEL, this.err]);
      if (this.errDetails) out.push([ERROR_DETAILS_LABEL, this.errDetails]);
      out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    }
    return out;
  }

  /** Labels as a plain map (what templates see: `missingkey=zero`). */
  map(): Record<string, string> {
    const m: Record<string, string> = {};
    for (const [k, v] of this.entries()) m[k] = v;
    return m;
  }
}

/** Prometheus text form of a sorted label list: `{a="b", c="d"}`; the series identity everywhere. */
export function labelsKey(entries: readonly (readonly [string, string])[]): string {
  let s = '{';
  for (let i = 0; i < entries.length; i++) {
    if (i > 0) s += ', ';
    s += entries[i]![0] + '=' + goQuote(entries[i]![1]);
  }
  return s + '}';
}

// ---- label name sanitising (Loki's sanitizeLabelKey) -----------------------------

export function sanitizeLabelKey(key: string, isPrefix: boolean): string {
  key = key.trim();
  if (key === '') return key;
  let out = isPrefix && key.charCodeAt(0) >= 48 && key.charCodeAt(0) <= 57 ? '_' : '';
  for (const ch of key) {
    const c = ch.charCodeAt(0);
    out += (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57) ? ch : '_';
  }
  return out;
}

// ---- matchers ---------------------------------------------------------------------

export type ValueTest = (v: string) => boolean;

/** A Prometheus label matcher: regexes are fully anchored and `.` matches newlines. */
export function compileMatcher(m: Matcher): ValueTest {
  const value = m.value;
  switch (m.op) {
    case '=':
      return (v) => v === value;
    case '!=':
      return (v) => v !== value;
    case '=~': {
      const re = compileRegex(`^(?s:${value})$`);
      return (v) => re.testExact(v);
    }
    case '!~': {
      const re = compileRegex(`^(?s:${value})$`);
      return (v) => !re.testExact(v);
    }
  }
}

export function matchesAll(matchers: readonly { name: string; test: ValueTest }[], labels: Labels): boolean {
  for (const m of matchers) if (!m.test(labels[m.name] ?? '')) return false;
  return true;
}

// ---- line filters -----------------------------------------------------------------

type LineTest = (line: string) => boolean;

function compileTerm(op: LineFilter['op'], term: { ip: boolean; value: string }): LineTest {
  if (term.ip) {
    let ip: IpMatcher;
    try {
      ip = compileIpPattern(term.value);
    } catch (e) {
      throw new LogqlParseError((e as Error).message);
    }
    return (line) => lineHasIp(ip, line);
  }
  const v = term.value;
  switch (op) {
    case '|=':
    case '!=':
      return v === '' ? () => true : (line) => line.includes(v);
    case '|~':
    case '!~': {
      let re: RE2JS;
      try {
        re = compileRegex(v);
      } catch (e) {
        throw new LogqlParseError((e as Error).message);
      }
      return (line) => re.test(line);
    }
    case '|>':
    case '!>': {
      let nodes: PatternNode[];
      try {
        nodes = parseLineFilterPattern(v);
      } catch (e) {
        throw new LogqlParseError((e as Error).message);
      }
      return (line) => patternTest(nodes, line);
    }
  }
}

function compileLineFilter(f: LineFilter): LineTest {
  const tests = f.terms.map((t) => compileTerm(f.op, t));
  const negative = f.op === '!=' || f.op === '!~' || f.op === '!>';
  if (tests.length === 1) {
    const t = tests[0]!;
    return negative ? (line) => !t(line) : t;
  }
  const any = (line: string) => tests.some((t) => t(line));
  return negative ? (line) => !any(line) : any;
}

// ---- label filters ----------------------------------------------------------------

type LabelTest = (lbs: LabelsBuilder) => boolean;

function compare(op: CmpOp, a: number, b: number): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}

function convertingFilter(name: string, op: CmpOp, target: number, convert: (v: string) => number): LabelTest {
  return (lbs) => {
    const v = lbs.get(name);
    if (v === undefined) return false;
    let value: number;
    try {
      value = convert(v);
    } catch (e) {
      if (!lbs.err) lbs.setErr(ERR_LABEL_FILTER, (e as Error).message);
      return true;
    }
    return compare(op, value, target);
  };
}

function goParseFloat(v: string): number {
  const f = parseGoFloat(v);
  if (f === undefined) throw new Error(`strconv.ParseFloat: parsing ${goQuote(v)}: invalid syntax`);
  return f;
}

export function compileLabelFilter(f: LabelFilter): LabelTest {
  switch (f.kind) {
    case 'string': {
      const test = compileMatcher(f.matcher);
      const name = f.matcher.name;
      return (lbs) => test(lbs.get(name) ?? '');
    }
    case 'ip': {
      let ip: IpMatcher;
      try {
        ip = compileIpPattern(f.pattern);
      } catch (e) {
        throw new LogqlParseError((e as Error).message);
      }
      const negate = f.op === '!=';
      return (lbs) => {
        if (lbs.err) return true;
        const v = lbs.get(f.name);
        if (v === undefined) return false;
        return negate ? !ip.test(v) : ip.test(v);
      };
    }
    case 'number':
      return convertingFilter(f.name, f.op, f.value, goParseFloat);
    case 'duration':
      return convertingFilter(f.name, f.op, f.ns, parseGoDuration);
    case 'bytes':
      return convertingFilter(f.name, f.op, f.bytes, parseBytes);
    case 'and': {
      const l = compileLabelFilter(f.left);
      const r = compileLabelFilter(f.right);
      // Both sides run (a side may set __error__), as in Loki's BinaryLabelFilter.
      return (lbs) => {
        const a = l(lbs);
        const b = r(lbs);
        return a && b;
      };
    }
    case 'or': {
      const l = compileLabelFilter(f.left);
      const r = compileLabelFilter(f.right);
      return (lbs) => l(lbs) || r(lbs);
    }
  }
}

// ---- parsers ----------------------------------------------------------------------

function parsedKey(lbs: LabelsBuilder, key: string): string {
  return lbs.reserved(key) ? key + DUPLICATE_SUFFIX : key;
}

/**
 * Walks a JSON object's text (like Loki's jsonparser.ObjectEach): scalars become labels
 * (numbers keep their text: `1.10`, big integers), nested objects flatten with `_`, arrays
 * and nulls are skipped. Labels set before a syntax error stay, and the error is returned.
 */
/** jsonparser's errors, which Loki puts in `__error_details__`. */
const MALFORMED_OBJECT = "Value looks like object, but can't find closing '}' symbol";

class JsonWalker {
  s = '';
  i = 0;

  fail(msg: string): never {
    throw new Error(msg);
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }

  string(): string {
    const s = this.s;
    const start = this.i; // at '"'
    let esc = false;
    for (let p = start + 1; p < s.length; p++) {
      const c = s.charCodeAt(p);
      if (c === 92) {
        esc = true;
        p++;
      } else if (c === 34) {
        this.i = p + 1;
        if (!esc) return s.slice(start + 1, p);
        try {
          return JSON.parse(s.slice(start, p + 1)) as string;
        } catch {
          return '';
        }
      }
    }
    this.fail("Value is string, but can't find closing '\"' symbol");
  }

  /** Skips any value; returns its raw text for scalars. */
  skip(): void {
    const s = this.s;
    const c = s[this.i];
    if (c === '"') {
      this.string();
      return;
    }
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      this.i++;
      this.ws();
      if (s[this.i] === close) {
        this.i++;
        return;
      }
      for (;;) {
        this.ws();
        if (c === '{') {
          if (s[this.i] !== '"') this.fail('Malformed JSON error');
          this.string();
          this.ws();
          if (s[this.i] !== ':') this.fail('Malformed JSON error');
          this.i++;
          this.ws();
        }
        this.skip();
        this.ws();
        if (s[this.i] === ',') {
          this.i++;
          continue;
        }
        if (s[this.i] === close) {
          this.i++;
          return;
        }
        this.fail('Malformed JSON error');
      }
    }
    this.scalar();
  }

  scalar(): string {
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail('Unknown value type');
    this.i += m[0].length;
    return m[0];
  }

  object(prefix: string, lbs: LabelsBuilder): void {
    const s = this.s;
    if (s[this.i] !== '{') this.fail("Value looks like object, but can't find closing '}' symbol");
    this.i++;
    this.ws();
    if (s[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (s[this.i] !== '"') this.fail(MALFORMED_OBJECT);
      const rawKey = this.string();
      this.ws();
      if (s[this.i] !== ':') this.fail('Malformed JSON error');
      this.i++;
      this.ws();
      const part = sanitizeLabelKey(rawKey, prefix === '');
      const key = part === '' ? prefix : prefix === '' ? part : `${prefix}_${part}`;
      const c = s[this.i];
      if (c === '{') this.object(key, lbs);
      else if (c === '[') this.skip();
      else if (c === '"') {
        const v = this.string();
        if (key !== '') lbs.setIfNew(parsedKey(lbs, key), v);
      } else {
        const v = this.scalar();
        if (v !== 'null' && key !== '') lbs.setIfNew(parsedKey(lbs, key), v);
      }
      this.ws();
      if (s[this.i] === ',') {
        this.i++;
        continue;
      }
      if (s[this.i] === '}') {
        this.i++;
        return;
      }
      this.fail(MALFORMED_OBJECT);
    }
  }
}

const jsonWalker = new JsonWalker();

function jsonStage(line: string, lbs: LabelsBuilder): void {
  jsonWalker.s = line;
  jsonWalker.i = 0;
  try {
    jsonWalker.ws();
    jsonWalker.object('', lbs);
  } catch (e) {
    lbs.setErr(ERR_JSON, (e as Error).message);
  }
}

/** A path of `| json a="b.c[0]"`: field names and array indexes (Loki's jsonexpr grammar). */
function parseJsonPath(expr: string): (string | number)[] {
  const path: (string | number)[] = [];
  const re = /\s*(?:\.?([A-Za-z_][A-Za-z0-9_]*)|\[\s*(\d+)\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\.?"((?:[^"\\]|\\.)*)")/y;
  let i = 0;
  while (i < expr.length) {
    re.lastIndex = i;
    const m = re.exec(expr);
    if (!m || m[0] === '') throw new LogqlParseError(`syntax error: unexpected ${goQuote(expr.slice(i, i + 1))}`);
    if (m[1] !== undefined) path.push(m[1]);
    else if (m[2] !== undefined) path.push(Number(m[2]));
    else path.push(JSON.parse(`"${m[3] ?? m[4]}"`) as string);
    i = re.lastIndex;
  }
  if (path.length === 0) throw new LogqlParseError('syntax error: unexpected $end');
  return path;
}

function jsonExpressionStage(extractions: { name: string; path: (string | number)[] }[]) {
  return (line: string, lbs: LabelsBuilder): void => {
    if (line.length === 0) return;
    const c = line[0];
    if (c !== '{' && c !== '[' && c !== '"') {
      lbs.setErr(ERR_JSON);
      return;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      lbs.setErr(ERR_JSON, (e as Error).message);
      for (const x of extractions) if (lbs.get(x.name) === undefined) lbs.set(x.name, '');
      return;
    }
    for (const x of extractions) {
      let v: unknown = obj;
      for (const p of x.path) {
        if (v === null || typeof v !== 'object') {
          v = undefined;
          break;
        }
        v = (v as Record<string | number, unknown>)[p];
      }
      const key = parsedKey(lbs, x.name);
      if (v === undefined) {
        if (lbs.get(x.name) === undefined) lbs.set(x.name, '');
      } else if (v === null) lbs.set(key, '');
      else if (typeof v === 'object') lbs.set(key, JSON.stringify(v));
      else lbs.set(key, String(v));
    }
  };
}

/** Loki's logfmt decoder (pkg/logql/log/logfmt): one key/value per call; `err` set on a syntax error. */
class LogfmtDecoder {
  line = '';
  pos = 0;
  key = '';
  value = '';
  err = '';

  reset(line: string): void {
    this.line = line;
    this.pos = 0;
    this.err = '';
  }

  eol(): boolean {
    return this.pos >= this.line.length;
  }

  #fail(msg: string): void {
    this.err = `logfmt syntax error at pos ${this.pos + 1} : ${msg}`;
  }

  #skipValue(): false {
    const line = this.line;
    while (this.pos < line.length && line.charCodeAt(this.pos) > 32) this.pos++;
    return false;
  }

  scan(): boolean {
    // The position lives in a local while scanning (a field access per character costs;
    // bench/aggregator/logql-pipeline.bench.ts) and is written back at every exit.
    const line = this.line;
    const n = line.length;
    let p = this.pos;
    this.key = '';
    this.value = '';
    while (p < n && line.charCodeAt(p) <= 32) p++;
    if (p >= n) {
      this.pos = p;
      return false;
    }
    const start = p;
    for (;;) {
      if (p >= n) {
        this.key = line.slice(start, p);
        this.pos = p;
        return true;
      }
      const c = line.charCodeAt(p);
      if (c === 61 /* = */) {
        this.pos = p;
        if (p === start) {
          this.#fail("unexpected '='");
          return this.#skipValue();
        }
        this.key = line.slice(start, p);
        break;
      }
      if (c === 34 /* " */) {
        this.pos = p;
        this.#fail(`unexpected '"'`);
        return this.#skipValue();
      }
      if (c <= 32) {
        this.key = line.slice(start, p);
        this.pos = p;
        return true;
      }
      p++;
    }
    p++; // '='
    this.pos = p;
    if (p >= n) return true;
    const c0 = line.charCodeAt(p);
    if (c0 <= 32) return true;
    if (c0 === 34) return this.#quoted();
    const vstart = p;
    while (p < n) {
      const c = line.charCodeAt(p);
      if (c === 61 || c === 34) {
        this.pos = p;
        this.#fail(c === 61 ? "unexpected '='" : `unexpected '"'`);
        return this.#skipValue();
      }
      if (c <= 32) break;
      p++;
    }
    this.pos = p;
    this.value = line.slice(vstart, p);
    return true;
  }

  #quoted(): boolean {
    const line = this.line;
    const start = this.pos;
    let esc = false;
    let hasEsc = false;
    for (let p = this.pos + 1; p < line.length; p++) {
      const c = line.charCodeAt(p);
      if (esc) esc = false;
      else if (c === 92) {
        hasEsc = true;
        esc = true;
      } else if (c === 34) {
        this.pos = p + 1;
        if (!hasEsc) {
          this.value = line.slice(start + 1, p);
          return true;
        }
        try {
          this.value = JSON.parse(line.slice(start, p + 1)) as string;
        } catch {
          this.#fail('invalid quoted value');
          return false;
        }
        return true;
      }
    }
    this.pos = line.length;
    this.#fail('unterminated quoted value');
    return false;
  }
}

function logfmtStage(strict: boolean, keepEmpty: boolean) {
  const dec = new LogfmtDecoder();
  const keyCache = new Map<string, string>();
  return (line: string, lbs: LabelsBuilder): void => {
    dec.reset(line);
    while (!dec.eol()) {
      if (!dec.scan()) {
        if (strict) break;
        continue;
      }
      let key = keyCache.get(dec.key);
      if (key === undefined) {
        key = sanitizeLabelKey(dec.key, true);
        if (keyCache.size < 4096) keyCache.set(dec.key, key);
      }
      if (key === '') continue;
      if (!keepEmpty && dec.value === '') continue;
      lbs.setIfNew(parsedKey(lbs, key), dec.value);
    }
    if (strict && dec.err) lbs.setErr(ERR_LOGFMT, dec.err);
  };
}

function logfmtExpressionStage(extractions: Extraction[], strict: boolean, keepEmpty: boolean) {
  const dec = new LogfmtDecoder();
  const wanted = new Map<string, string[]>();
  for (const x of extractions) wanted.set(x.expr, [...(wanted.get(x.expr) ?? []), x.name]);
  return (line: string, lbs: LabelsBuilder): void => {
    dec.reset(line);
    const found = new Set<string>();
    while (!dec.eol()) {
      if (!dec.scan()) {
        if (strict) break;
        continue;
      }
      const names = wanted.get(dec.key);
      if (!names) continue;
      if (!keepEmpty && dec.value === '') continue;
      for (const name of names) {
        if (lbs.setIfNew(parsedKey(lbs, name), dec.value)) found.add(name);
      }
    }
    for (const x of extractions) if (!found.has(x.name) && lbs.get(x.name) === undefined) lbs.set(x.name, '');
    if (strict && dec.err) lbs.setErr(ERR_LOGFMT, dec.err);
  };
}

function regexpStage(pattern: string) {
  const re = compileRegex(pattern);
  const names = Object.entries(re.namedGroups()).map(([name, idx]) => ({ key: sanitizeLabelKey(name, true), idx }));
  return (line: string, lbs: LabelsBuilder): void => {
    const m = re.matcher(line);
    if (!m.find()) return;
    for (const { key, idx } of names) {
      const v = m.group(idx);
      if (key !== '') lbs.setIfNew(parsedKey(lbs, key), v ?? '');
    }
  };
}

function patternStage(pattern: string) {
  const nodes = parsePattern(pattern);
  return (line: string, lbs: LabelsBuilder): void => {
    for (const { name, value } of patternMatches(nodes, line)) lbs.setIfNew(parsedKey(lbs, name), value);
  };
}

/** `| unpack`: top-level string fields become labels, `_entry` replaces the line (Promtail's pack). */
function unpackStage(line: string, lbs: LabelsBuilder): string {
  if (line.length === 0) return line;
  if (line[0] !== '{') {
    lbs.setErr(ERR_JSON, 'expecting json object(6), but it is not');
    return line;
  }
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    lbs.setErr(ERR_JSON, (e as Error).message);
    return line;
  }
  let entry = line;
  let packed = false;
  const pending: [string, string][] = [];
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (typeof v !== 'string') continue;
    if (k === '_entry') {
      entry = v;
      packed = true;
      continue;
    }
    pending.push([sanitizeLabelKey(parsedKey(lbs, k), true), v]);
  }
  if (packed) for (const [k, v] of pending) lbs.setIfNew(k, v);
  return entry;
}

// ANSI escape sequences (the pattern Loki's decolorize uses, from acarl005/stripansi), on RE2:
// its nested repetitions could backtrack polynomially on JavaScript's engine.
const ANSI = compileRegex(
  '[\\x{1B}\\x{9B}][[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\\x{07})|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))',
);

// ---- compiled pipeline ------------------------------------------------------------

/** One compiled stage: returns the (possibly rewritten) line, or undefined to drop the entry. */
type CompiledStage = (line: string, lbs: LabelsBuilder, tsNs: bigint) => string | undefined;

function compileStage(s: Stage): CompiledStage {
  switch (s.kind) {
    case 'lineFilter': {
      const tests = s.filters.map(compileLineFilter);
      if (tests.length === 1) {
        const t = tests[0]!;
        return (line) => (t(line) ? line : undefined);
      }
      return (line) => {
        for (const t of tests) if (!t(line)) return undefined;
        return line;
      };
    }
    case 'json': {
      if (s.extractions.length === 0) {
        return (line, lbs) => {
          jsonStage(line, lbs);
          return line;
        };
      }
      const run = jsonExpressionStage(s.extractions.map((x) => ({ name: x.name, path: parseJsonPath(x.expr) })));
      return (line, lbs) => {
        run(line, lbs);
        return line;
      };
    }
    case 'logfmt': {
      const run =
        s.extractions.length === 0
          ? logfmtStage(s.strict, s.keepEmpty)
          : logfmtExpressionStage(s.extractions, s.strict, s.keepEmpty);
      return (line, lbs) => {
        run(line, lbs);
        return line;
      };
    }
    case 'regexp': {
      const run = regexpStage(s.pattern);
      return (line, lbs) => {
        run(line, lbs);
        return line;
      };
    }
    case 'pattern': {
      const run = patternStage(s.pattern);
      return (line, lbs) => {
        run(line, lbs);
        return line;
      };
    }
    case 'unpack':
      return (line, lbs) => unpackStage(line, lbs);
    case 'labelFilter': {
      const test = compileLabelFilter(s.filter);
      return (line, lbs) => (test(lbs) ? line : undefined);
    }
    case 'lineFormat': {
      let tmpl;
      try {
        tmpl = parseTemplate(s.template, 'line');
      } catch (e) {
        throw new LogqlParseError(`invalid line template: ${(e as Error).message}`);
      }
      return (line, lbs, tsNs) => {
        if (tmpl.simpleKey !== undefined) return lbs.get(tmpl.simpleKey) ?? '';
        try {
          return executeTemplate(tmpl, lbs.map(), { line, tsNs });
        } catch (e) {
          lbs.setErr(ERR_TEMPLATE, (e as Error).message);
          return line;
        }
      };
    }
    case 'labelFormat': {
      const formats = s.formats.map((f) => ({ ...f, tmpl: f.rename ? undefined : parseTemplate(f.value, 'label') }));
      return (line, lbs, tsNs) => {
        let snapshot: Record<string, string> | undefined;
        for (const f of formats) {
          if (f.tmpl === undefined) {
            const v = lbs.get(f.value);
            if (v !== undefined) {
              lbs.set(f.name, v);
              lbs.del(f.value);
            }
            continue;
          }
          snapshot ??= lbs.map();
          try {
            lbs.set(f.name, executeTemplate(f.tmpl, snapshot, { line, tsNs }));
          } catch (e) {
            lbs.setErr(ERR_TEMPLATE, (e as Error).message);
          }
        }
        return line;
      };
    }
    case 'decolorize':
      return (line) => (line.includes('\u001b') || line.includes('\u009b') ? replaceAll(ANSI, line, '', true) : line);
    case 'drop': {
      const items = s.items.map((i) =>
        i.matcher ? { name: i.matcher.name, test: compileMatcher(i.matcher) } : { name: i.name, test: undefined },
      );
      return (line, lbs) => {
        for (const it of items) {
          if (it.name === ERROR_LABEL) {
            if (!it.test || it.test(lbs.err)) lbs.err = '';
          } else if (it.name === ERROR_DETAILS_LABEL) {
            if (!it.test || it.test(lbs.errDetails)) lbs.errDetails = '';
          } else {
            const v = lbs.get(it.name);
            if (it.test ? it.test(v ?? '') : v !== undefined) lbs.del(it.name);
          }
        }
        return line;
      };
    }
    case 'keep': {
      const items = s.items.map((i) =>
        i.matcher ? { name: i.matcher.name, test: compileMatcher(i.matcher) } : { name: i.name, test: undefined },
      );
      return (line, lbs) => {
        for (const [name, value] of lbs.entries()) {
          if (name === ERROR_LABEL || name === ERROR_DETAILS_LABEL) continue;
          if (!items.some((it) => it.name === name && (!it.test || it.test(value)))) lbs.del(name);
        }
        return line;
      };
    }
  }
}

/** Result of running an entry through a pipeline. */
export interface Processed {
  line: string;
  labels: LabelsBuilder;
}

/** Label names a label filter reads. */
export function filterLabelNames(f: LabelFilter, out: Set<string>): Set<string> {
  switch (f.kind) {
    case 'and':
    case 'or':
      filterLabelNames(f.left, out);
      filterLabelNames(f.right, out);
      return out;
    case 'string':
      out.add(f.matcher.name);
      return out;
    default:
      out.add(f.name);
      return out;
  }
}

export class Pipeline {
  readonly #stages: CompiledStage[];
  readonly #lbs = new LabelsBuilder();
  /** True when no stage can change labels: the output labels are the input's. */
  readonly labelPreserving: boolean;

  /** `wanted`: see LabelsBuilder.wanted; only for pipelines whose output is grouped `by` those names. */
  constructor(stages: Stage[], wanted?: ReadonlySet<string>) {
    this.#stages = stages.map(compileStage);
    this.#lbs.wanted = wanted;
    this.labelPreserving = stages.every((s) => s.kind === 'lineFilter' || s.kind === 'decolorize');
  }

  /**
   * Runs one entry; undefined when a stage drops it. The returned builder is reused by the
   * next call: read it (entries(), get()) before processing another line.
   */
  process(tsNs: bigint, line: string, streamLabels: Labels, meta: Labels): Processed | undefined {
    const lbs = this.#lbs;
    lbs.reset(streamLabels, meta);
    let l: string | undefined = line;
    for (const stage of this.#stages) {
      l = stage(l, lbs, tsNs);
      if (l === undefined) return undefined;
    }
    return { line: l, labels: lbs };
  }
}

// ---- sample extraction ------------------------------------------------------------

export interface ExtractedSample {
  value: number;
  labels: LabelsBuilder;
}

/** Unwrap: the label's value converted; "" drops the sample; a failed conversion is SampleExtractionErr. */
export function compileUnwrap(u: Unwrap): (lbs: LabelsBuilder) => number | undefined {
  const convert =
    u.conv === '' ? goParseFloat : u.conv === 'bytes' ? parseBytes : (v: string) => parseGoDuration(v) / 1e9;
  const post = u.postFilters.map(compileLabelFilter);
  return (lbs) => {
    const s = lbs.get(u.label);
    if (s === undefined || s === '') return undefined;
    let v = 0;
    try {
      v = convert(s);
    } catch (e) {
      lbs.setErr(ERR_SAMPLE, (e as Error).message);
    }
    for (const f of post) if (!f(lbs)) return undefined;
    return v;
  };
}
