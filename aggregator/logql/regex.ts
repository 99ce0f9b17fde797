/**
 * RE2 regular expressions for LogQL, on re2js (a pure-JS port of RE2/Go's regexp): the same
 * syntax and semantics as Loki (Go's `regexp`), and linear-time matching whatever the user
 * writes: a user's pattern never runs on JavaScript's backtracking engine.
 * Compiled patterns are cached (bounded) because a query compiles the same few many times.
 * Error texts are Go's (`error parsing regexp: missing closing ): ...`), re2js keeps them.
 */
import { RE2JS } from 're2js';

const CACHE_MAX = 512;
const cache = new Map<string, RE2JS>();

/** Compiles (cached); throws re2js's syntax error, whose message is Go's. */
export function compileRegex(pattern: string): RE2JS {
  let re = cache.get(pattern);
  if (re === undefined) {
    re = RE2JS.compile(pattern);
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(pattern, re);
  }
  return re;
}

/** undefined when valid; else Loki's error text for it. */
export function checkRegex(pattern: string, opts: { requireNamedGroup?: boolean } = {}): string | undefined {
  let re: RE2JS;
  try {
    re = compileRegex(pattern);
  } catch (e) {
    return (e as Error).message;
  }
  if (opts.requireNamedGroup) {
    const names = Object.keys(re.namedGroups());
    if (names.length === 0) return 'at least one named capture must be supplied';
    for (const n of names)
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(n) && !/^[\p{L}_][\p{L}\p{N}_]*$/u.test(n))
        return `invalid extracted label name '${n}'`;
  }
  return undefined;
}

/**
 * Go's `Regexp.Expand` template: `$1`, `${1}`, `$name`, `${name}`, `$$`; an unknown or
 * unmatched group expands to nothing. `groups[i]` is group i's text (undefined if unset).
 */
export function expandTemplate(
  template: string,
  groups: (string | undefined)[],
  names: Record<string, number>,
): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$' || i + 1 >= template.length) {
      out += c;
      continue;
    }
    if (template[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string | undefined;
    let end = i + 1;
    if (template[i + 1] === '{') {
      const close = template.indexOf('}', i + 2);
      const inner = close < 0 ? '' : template.slice(i + 2, close);
      if (close >= 0 && /^[A-Za-z0-9_]+$/.test(inner)) {
        name = inner;
        end = close + 1;
      }
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
      if (m) {
        name = m[0];
        end = i + 1 + name.length;
      }
    }
    if (name === undefined) {
      out += c;
      continue;
    }
    const idx = /^\d+$/.test(name) ? Number(name) : names[name];
    if (idx !== undefined) out += groups[idx] ?? '';
    i = end - 1;
  }
  return out;
}

/** All groups of the first match of re in s, or undefined when it does not match. */
export function firstMatchGroups(re: RE2JS, s: string): (string | undefined)[] | undefined {
  const m = re.matcher(s);
  if (!m.find()) return undefined;
  const groups: (string | undefined)[] = [];
  for (let g = 0; g <= re.groupCount(); g++) groups.push(m.group(g) ?? undefined);
  return groups;
}

/** Go's `ReplaceAllString(s, repl)` (repl expanded per match, `$` templates). */
export function replaceAll(re: RE2JS, s: string, repl: string, literal = false): string {
  const m = re.matcher(s);
  let out = '';
  let last = 0;
  const names = re.namedGroups();
  let guard = -1;
  while (m.find()) {
    const start = m.start();
    const end = m.end();
    if (start === end && start === guard) continue;
    out += s.slice(last, start);
    if (literal) out += repl;
    else {
      const groups: (string | undefined)[] = [];
      for (let g = 0; g <= re.groupCount(); g++) groups.push(m.group(g) ?? undefined);
      out += expandTemplate(repl, groups, names);
    }
    last = end;
    guard = end;
  }
  return out + s.slice(last);
}
