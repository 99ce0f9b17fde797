/**
 * Level detection (pure): maps a message to one of the record's `Level` values.
 *
 * Looks, in order, at (1) a JSON object's `level` / `severity` / `lvl` / `loglevel` key,
 * including pino/bunyan numeric levels; (2) a logfmt `level=`; (3) a klog prefix
 * (`E0412 10:00:00.000000 …`); (4) an upper-case level word (`ERROR`, `[WARN]`, `INFO:`) or a
 * bracketed / colon-suffixed word of any case (`[error]`, `info:`) among the first 128
 * characters; (5) `panic:` / `Traceback` / `Exception in thread` starts. Anything else is
 * `unknown`. Lower-case bare words are ignored on purpose: "request failed with error" is
 * not an error-level line.
 *
 * Concurrency: stateless. Cost is bounded by the scan windows, never the message length.
 */
import type { Level } from '../../shared/record.ts';

const JSON_KEYS = ['"level"', '"severity"', '"lvl"', '"loglevel"', '"log.level"'] as const;
const JSON_WINDOW = 1024;
const WORD_WINDOW = 128;
const LOGFMT_WINDOW = 512;
/** Longer words are never level words: a word is read no further than this. */
const MAX_WORD = 13;

/** Normalises a level word (any case). Returns null when it is not one. */
export function levelFromWord(word: string): Level | null {
  switch (word.length) {
    case 1: {
      // Single-letter forms (klog, zap console short level, syslog-ish).
      switch (word) {
        case 'T':
          return 'trace';
        case 'D':
          return 'debug';
        case 'I':
          return 'info';
        case 'W':
          return 'warn';
        case 'E':
          return 'error';
        case 'F':
          return 'fatal';
        default:
          return null;
      }
    }
    default:
      break;
  }
  switch (word.toLowerCase()) {
    case 'trace':
    case 'trc':
      return 'trace';
    case 'debug':
    case 'dbg':
    case 'verbose':
    case 'fine':
      return 'debug';
    case 'info':
    case 'inf':
    case 'information':
    case 'informational':
    case 'notice':
      return 'info';
    case 'warn':
    case 'wrn':
    case 'warning':
      return 'warn';
    case 'error':
    case 'err':
    case 'eror':
    case 'severe':
      return 'error';
    case 'fatal':
    case 'ftl':
    case 'crit':
    case 'critical':
    case 'panic':
    case 'dpanic':
    case 'alert':
    case 'emerg':
    case 'emergency':
      return 'fatal';
    default:
      return null;
  }
}

function levelFromNumber(n: number): Level | null {
  // pino / bunyan numeric levels.
  if (n >= 60) return 'fatal';
  if (n >= 50) return 'error';
  if (n >= 40) return 'warn';
  if (n >= 30) return 'info';
  if (n >= 20) return 'debug';
  if (n >= 10) return 'trace';
  return null;
}

function isWordChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

/** Reads the value after `key` (JSON `"key": "v"` / `"key": 30`). */
function jsonValueLevel(msg: string, at: number): Level | null {
  let i = at;
  const n = Math.min(msg.length, at + 64);
  while (i < n && (msg.charCodeAt(i) === 0x20 || msg.charCodeAt(i) === 0x3a)) i++;
  if (i >= n) return null;
  if (msg.charCodeAt(i) === 0x22) {
    const close = msg.indexOf('"', i + 1);
    if (close < 0 || close - i > 24) return null;
    return levelFromWord(msg.slice(i + 1, close));
  }
  let j = i;
  while (j < n && msg.charCodeAt(j) >= 0x30 && msg.charCodeAt(j) <= 0x39) j++;
  if (j === i) return null;
  return levelFromNumber(Number(msg.slice(i, j)));
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export function detectLevel(msg: string): Level {
  const len = msg.length;
  if (len === 0) return 'unknown';
  let first = 0;
  while (first < len && (msg.charCodeAt(first) === 0x20 || msg.charCodeAt(first) === 0x09)) first++;
  const c0 = msg.charCodeAt(first);

  // (1) JSON object.
  if (c0 === 0x7b) {
    const window = len > JSON_WINDOW ? msg.slice(0, JSON_WINDOW) : msg;
    for (const key of JSON_KEYS) {
      const k = window.indexOf(key);
      if (k >= 0) {
        const lvl = jsonValueLevel(window, k + key.length);
        if (lvl !== null) return lvl;
      }
    }
    return 'unknown';
  }

  // (2) logfmt `level=` (at start or after a space).
  // Only a `level=` starting in the first LOGFMT_WINDOW characters counts: search no further.
  const lf = len > LOGFMT_WINDOW + 5 ? msg.slice(0, LOGFMT_WINDOW + 5).indexOf('level=') : msg.indexOf('level=');
  if (lf >= 0 && lf < LOGFMT_WINDOW && (lf === 0 || msg.charCodeAt(lf - 1) === 0x20)) {
    let i = lf + 6;
    if (msg.charCodeAt(i) === 0x22) i++;
    let j = i;
    while (j < len && j - i < 16 && isWordChar(msg.charCodeAt(j))) j++;
    const lvl = levelFromWord(msg.slice(i, j));
    if (lvl !== null) return lvl;
  }

  // (3) klog: `Lmmdd hh:mm:ss.uuuuuu ...`
  if (
    len > first + 6 &&
    (c0 === 0x49 || c0 === 0x57 || c0 === 0x45 || c0 === 0x46) &&
    isDigit(msg.charCodeAt(first + 1)) &&
    isDigit(msg.charCodeAt(first + 4)) &&
    msg.charCodeAt(first + 5) === 0x20
  ) {
    return levelFromWord(msg[first]!) ?? 'unknown';
  }

  // (5) well-known starts.
  if (c0 === 0x70 && msg.startsWith('panic:', first)) return 'fatal';
  if (c0 === 0x54 && msg.startsWith('Traceback (most recent call last)', first)) return 'error';
  if (c0 === 0x45 && msg.startsWith('Exception in thread', first)) return 'error';

  // (4) level words in the first WORD_WINDOW characters.
  const n = Math.min(len, WORD_WINDOW);
  let i = first;
  while (i < n) {
    const c = msg.charCodeAt(i);
    if (!isWordChar(c)) {
      i++;
      continue;
    }
    let j = i + 1;
    let upper = c <= 0x5a;
    const wordEnd = Math.min(len, i + MAX_WORD + 1);
    while (j < wordEnd && isWordChar(msg.charCodeAt(j))) {
      if (msg.charCodeAt(j) > 0x5a) upper = false;
      j++;
    }
    if (j === wordEnd && j < len && isWordChar(msg.charCodeAt(j))) {
      // Too long to be a level word: skip the rest of it, within the window only.
      while (j < n && isWordChar(msg.charCodeAt(j))) j++;
      i = j;
      continue;
    }
    const wl = j - i;
    if (wl >= 3 && wl <= MAX_WORD) {
      const before = i > 0 ? msg.charCodeAt(i - 1) : 0x20;
      const after = j < len ? msg.charCodeAt(j) : 0x20;
      const delimited = before === 0x5b || after === 0x5d || after === 0x3a; // [x] / x:
      if (upper || delimited) {
        const lvl = levelFromWord(msg.slice(i, j));
        if (lvl !== null) return lvl;
      }
    }
    i = j;
  }
  return 'unknown';
}
