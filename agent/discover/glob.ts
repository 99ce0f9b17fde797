/**
 * Log path patterns (pure): a directory, a single file, or a glob whose wildcards (`*`, `?`,
 * `[...]`) are in the last path segment, e.g. `/var/log/containers/*.log`. Split into the
 * directory to watch and a matcher for entry names.
 */
import { basename, dirname } from 'node:path';
import {
  compileWildcard,
  type CharClass,
  type WildcardMatcher,
  type WildcardToken,
} from '../filter/wildcard-matcher.ts';

export interface LogPattern {
  dir: string;
  /** Matches an entry name (not a path). */
  match: (name: string) => boolean;
  source: string;
}

const WILDCARD = /[*?[]/;

const SLASH = [0x2f];

/**
 * Glob (one segment) → tokens for the linear-time matcher: `*` is a run of characters
 * other than `/`, `?` one character other than `/`, `[...]` a set (`[!...]` or `[^...]`
 * negated, `a-z` ranges, `-` literal first or last), a `[` without a closing `]` literal,
 * everything else literal. These are exactly the semantics of the regex this used to compile
 * to (`[…]` became a regex class, backslashes literal), without its backtracking.
 * Throws a SyntaxError on a range out of order (`[z-a]`), as the regex constructor did.
 */
export function parseGlob(glob: string): WildcardToken[] {
  const tokens: WildcardToken[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charCodeAt(i);
    if (c === 0x2a) tokens.push({ kind: 'star' });
    else if (c === 0x3f) tokens.push({ kind: 'any' });
    else if (c === 0x5b) {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) tokens.push({ kind: 'literal', code: c });
      else {
        tokens.push({ kind: 'class', set: parseClass(glob, i + 1, close) });
        i = close;
      }
    } else tokens.push({ kind: 'literal', code: c });
  }
  return tokens;
}

/** The body `glob[from, to)` of a `[...]`, read as a (non-unicode) regex class body. */
function parseClass(glob: string, from: number, to: number): CharClass {
  let i = from;
  const first = i < to ? glob.charCodeAt(i) : -1;
  const negated = first === 0x21 || first === 0x5e; // `!` or `^`
  if (negated) i++;
  const ranges: number[] = [];
  while (i < to) {
    const lo = glob.charCodeAt(i);
    if (i + 2 < to && glob.charCodeAt(i + 1) === 0x2d) {
      const hi = glob.charCodeAt(i + 2);
      if (lo > hi) throw new SyntaxError(`glob "${glob}": range out of order in character class`);
      ranges.push(lo, hi);
      i += 3;
    } else {
      ranges.push(lo, lo);
      i++;
    }
  }
  return { negated, ranges };
}

/** Glob (one segment) → matcher of entry names. See {@link parseGlob}; cost in `wildcard-matcher.ts`. */
export function compileGlob(glob: string): WildcardMatcher {
  return compileWildcard(parseGlob(glob), SLASH);
}

/** `isDir` says whether a wildcard-free path is a directory. Throws on wildcards outside the last segment. */
export function parseLogPattern(pattern: string, isDir: boolean): LogPattern {
  const dir = dirname(pattern);
  if (WILDCARD.test(dir)) {
    throw new Error(`log path "${pattern}": wildcards are only supported in the last path segment`);
  }
  const last = basename(pattern);
  if (WILDCARD.test(last)) {
    return { dir, match: compileGlob(last), source: pattern };
  }
  if (isDir) {
    return { dir: pattern, match: (name) => name.endsWith('.log'), source: pattern };
  }
  return { dir, match: (name) => name === last, source: pattern };
}
