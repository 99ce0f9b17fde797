/**
 * Log path patterns (pure): a directory, a single file, or a glob whose wildcards (`*`, `?`,
 * `[...]`) are in the last path segment, e.g. `/var/log/containers/*.log`. Split into the
 * directory to watch and a matcher for entry names.
 */
import { basename, dirname } from 'node:path';

export interface LogPattern {
  dir: string;
  /** Matches an entry name (not a path). */
  match: (name: string) => boolean;
  source: string;
}

const WILDCARD = /[*?[]/;

/** Glob (one segment) → RegExp. `*` does not cross `/`; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

/** `isDir` says whether a wildcard-free path is a directory. Throws on wildcards outside the last segment. */
export function parseLogPattern(pattern: string, isDir: boolean): LogPattern {
  const dir = dirname(pattern);
  if (WILDCARD.test(dir)) {
    throw new Error(`log path "${pattern}": wildcards are only supported in the last path segment`);
  }
  const last = basename(pattern);
  if (WILDCARD.test(last)) {
    const re = globToRegExp(last);
    return { dir, match: (name) => re.test(name), source: pattern };
  }
  if (isDir) {
    return { dir: pattern, match: (name) => name.endsWith('.log'), source: pattern };
  }
  return { dir, match: (name) => name === last, source: pattern };
}
