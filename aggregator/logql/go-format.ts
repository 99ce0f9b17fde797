/**
 * Go's textual formats that LogQL inherits from Loki, reproduced so a canonical query and
 * its error messages read exactly as Loki prints them: `strconv.Quote`, `fmt.Sprint(float64)`,
 * `time.Duration.String()` / `time.ParseDuration`, Prometheus' `model.Duration` (the `[5m]`
 * range syntax), and go-humanize's byte sizes (`bytes()` unwrap, `size > 20MB` filters).
 * Pure functions; durations are nanoseconds held in a `number` (exact below 104 days, and
 * LogQL ranges or offsets beyond that are only ever whole units, which stay exact).
 */

const NS = 1;
const US = 1e3;
const MS = 1e6;
const S = 1e9;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
const W = 7 * D;
const Y = 365 * D;

/** Go's `unicode.IsPrint` for the characters logs and queries contain. */
function isPrint(ch: string): boolean {
  return ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}

/** Go's `strconv.Quote`: a double-quoted Go string literal. */
const PLAIN = /^[ !#-[\]-~]*$/;

export function goQuote(s: string): string {
  // Printable ASCII without `"` or `\` is quoted as is: the common case, on the hot path of series keys.
  if (PLAIN.test(s)) return '"' + s + '"';
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp < 0x80 && cp >= 0x20 && cp !== 0x7f) out += ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else if (cp >= 0x80 && isPrint(ch)) out += ch;
    else if (cp < 0x80) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}

/** Go's `fmt.Sprint(f)` for a float64: `%g` with the shortest digits, exponent from 1e6 (`1e+06`) or below 1e-4. */
export function goFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const exp = Number(f.toExponential().split('e')[1]);
  // strconv's shortest 'g' decides with precision 6: an exponent of 6 or more, or below -4.
  if (exp < -4 || exp >= 6) {
    const [mant, e] = f.toExponential().split('e') as [string, string];
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(f);
}

/** Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, never an exponent. */
export function goFloatFixed(f: number): string {
  if (!Number.isFinite(f)) return goFloat(f);
  const s = String(f);
  if (!s.includes('e')) return s;
  const [mant, e] = s.split('e') as [string, string];
  const n = Number(e);
  const [int, frac = ''] = mant.replace('-', '').split('.') as [string, string?];
  const digits = int + frac;
  const point = int.length + n;
  const sign = f < 0 ? '-' : '';
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Go's `time.Duration.String()`: `1h2m3.5s`, `500ms`, `0s`. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(Math.round(ns));
  let out: string;
  if (u < S) {
    const [unit, div] = u < US ? ['ns', NS] : u < MS ? ['µs', US] : ['ms', MS];
    out = trimFrac(u / div) + unit;
  } else {
    const h = Math.floor(u / H);
    u -= h * H;
    const m = Math.floor(u / M);
    u -= m * M;
    const sec = trimFrac(u / S);
    out = h > 0 ? `${h}h${m}m${sec}s` : m > 0 ? `${m}m${sec}s` : `${sec}s`;
  }
  return (neg ? '-' : '') + out;
}

/** Up to nine fractional digits, trailing zeros dropped (Go's fmtFrac). */
function trimFrac(v: number): string {
  const s = v.toFixed(9).replace(/\.?0+$/, '');
  return s === '' ? '0' : s;
}

/** Prometheus' `model.Duration.String()`: largest units first, `1d`, `1h30m`, `0s`. */
export function promDuration(ns: number): string {
  let ms = Math.round(ns / MS);
  if (ms === 0) return '0s';
  let out = '';
  const neg = ms < 0;
  ms = Math.abs(ms);
  for (const [unit, size] of [
    ['y', Y / MS],
    ['w', W / MS],
    ['d', D / MS],
    ['h', H / MS],
    ['m', M / MS],
    ['s', S / MS],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(ms / size);
    if (n > 0) {
      out += `${n}${unit}`;
      ms -= n * size;
    }
  }
  return (neg ? '-' : '') + out;
}

const PROM_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Prometheus' `model.ParseDuration`; throws with Prometheus' message. */
export function parsePromDuration(s: string): number {
  if (s === '0') return 0;
  const m = s === '' ? null : PROM_RE.exec(s);
  if (!m) {
    const unit = /^\d+(?:\.\d+)?([^\d.]+)/.exec(s)?.[1];
    if (unit !== undefined && !['y', 'w', 'd', 'h', 'm', 's', 'ms'].includes(unit) && /^[a-zµ]+$/i.test(unit)) {
      throw new Error(`unknown unit ${goQuote(unit)} in duration ${goQuote(s)}`);
    }
    throw new Error(`not a valid duration string: ${goQuote(s)}`);
  }
  const sizes = [Y, W, D, H, M, S, MS];
  let total = 0;
  for (let i = 0; i < sizes.length; i++) if (m[i + 1] !== undefined) total += Number(m[i + 1]) * sizes[i]!;
  return total;
}

const GO_UNITS: Record<string, number> = { ns: NS, us: US, µs: US, μs: US, ms: MS, s: S, m: M, h: H };

/** Go's `time.ParseDuration`; throws with Go's message. */
export function parseGoDuration(s: string): number {
  const orig = s;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`time: invalid duration ${goQuote(orig)}`);
  let total = 0;
  const re = /^(\d*)(?:\.(\d*))?([^\d.]*)/;
  while (s !== '') {
    const m = re.exec(s)!;
    const [all, int = '', frac, unit = ''] = m;
    if (int === '' && (frac === undefined || frac === '')) throw new Error(`time: invalid duration ${goQuote(orig)}`);
    if (unit === '') throw new Error(`time: missing unit in duration ${goQuote(orig)}`);
    const size = GO_UNITS[unit];
    if (size === undefined) throw new Error(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(orig)}`);
    total += Number(`${int || '0'}.${frac ?? ''}0`) * size;
    s = s.slice(all.length);
  }
  return neg ? -total : total;
}

/** Loki's lexer: a Prometheus duration first, Go's syntax as the fallback (`1.5s`, `300us`). */
export function parseLogqlDuration(s: string): number {
  try {
    return parsePromDuration(s);
  } catch {
    return parseGoDuration(s);
  }
}

const SI = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** go-humanize `Bytes` (SI, base 1000): `42 B`, `20 MB`, `1.5 kB`. */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${val < 10 ? val.toFixed(1) : val.toFixed(0)} ${SI[e]}`;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  ki: 1024,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1e12,
  tb: 1e12,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
  p: 1e15,
  pb: 1e15,
  pi: 1024 ** 5,
  pib: 1024 ** 5,
  e: 1e18,
  eb: 1e18,
  ei: 1024 ** 6,
  eib: 1024 ** 6,
};

/** go-humanize `ParseBytes`: `42`, `42 MB`, `1.5KiB`, `2,000 B`; throws with its message. */
export function parseBytes(s: string): number {
  let i = 0;
  while (i < s.length && /[\d.,]/.test(s[i]!)) i++;
  const num = s.slice(0, i).replaceAll(',', '');
  const unit = s.slice(i).trim().toLowerCase();
  const f = Number(num);
  if (num === '' || Number.isNaN(f)) throw new Error(`strconv.ParseFloat: parsing ${goQuote(num)}: invalid syntax`);
  const size = BYTE_UNITS[unit];
  if (size === undefined) throw new Error(`unhandled size name: ${unit}`);
  const v = f * size;
  if (v >= 2 ** 64) throw new Error(`too large: ${s}`);
  return Math.trunc(v);
}

/** Go's `strconv.ParseFloat` for label values: decimal, exponent, hex, `Inf`/`NaN`; undefined when invalid. */
const SIMPLE_DECIMAL = /^-?\d+(?:\.\d+)?$/;

export function parseGoFloat(s: string): number | undefined {
  if (SIMPLE_DECIMAL.test(s)) return Number(s);
  const t = s.replaceAll('_', '');
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  // Unambiguous on purpose: label values are user data, and `\d+\.?\d*` backtracks quadratically.
  if (/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i.test(t)) return Number(t);
  if (/^[+-]?0x[0-9a-f]+$/i.test(t)) return t.startsWith('-') ? -Number(t.slice(1)) : Number(t.replace('+', ''));
  return undefined;
}
