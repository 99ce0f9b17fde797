/**
 * Linear-time wildcard matching (pure), the engine behind both glob dialects of the agent:
 * log path globs (`agent/discover/glob.ts`) and collection-config name globs
 * (`agent/filter/glob-match.ts`). Patterns come from configuration and names from the
 * filesystem and the Kubernetes API, so neither may be able to make a match slow: the
 * regexes these replace backtracked (`a*a*a*a*b` against 400 `a` took seconds).
 *
 * A pattern is compiled once into a list of tokens — `*` (a run of characters), or a
 * one-character test (a literal, `?`, a `[...]` class) — and matched without backtracking
 * beyond the last `*`:
 * - a pattern of fewer than 31 tokens (any real one) is matched by simulating all pattern
 *   positions at once, a Thompson NFA over the token list whose state set is one integer
 *   (bit-parallel): O(n) time for a name of length n, a few integer operations per character;
 * longer patterns:
 * - a name without excluded characters (the only kind seen in practice: entry names hold no
 *   `/`, Kubernetes names no line terminator) is matched by the classic two-pointer scan that
 *   retries only from the last `*` seen. That is exact here, since every `*` may then absorb
 *   any run and leftmost placement of each star-free segment is optimal. O(n × s) time for a
 *   name of length n and a longest star-free segment s, typically O(n);
 * - a name with an excluded character cannot match unless some literal or class of the
 *   pattern accepts that character (`*` and `?` do not): false after one O(n) scan;
 * - otherwise (such a pattern and such a name) all pattern positions are simulated at once,
 *   a Thompson NFA over the token list: O(n × tokens) time, O(tokens) memory.
 * No case depends exponentially or polynomially on the pattern's star count; it works on UTF-16
 * code units, like the non-unicode regexes it replaced.
 *
 * Concurrency: a compiled matcher reuses its state buffers between calls; matching is
 * synchronous, so this is safe in one thread (do not share a matcher across workers).
 */

const LITERAL = 0;
const ANY = 1;
const CLASS = 2;
const STAR = 3;
/** State sets of patterns with fewer tokens fit one int32 (bit m is the accepting state). */
const BIT_STATES = 31;

/** A `[...]` set: inclusive code-unit ranges as `[lo0, hi0, lo1, hi1, …]`. */
export interface CharClass {
  negated: boolean;
  ranges: number[];
}

/** One step of a pattern, as produced by a dialect's parser. */
export type WildcardToken =
  { kind: 'literal'; code: number } | { kind: 'any' } | { kind: 'class'; set: CharClass } | { kind: 'star' };

export type WildcardMatcher = (name: string) => boolean;

/**
 * `excluded`: code units that `*` and `?` never match (`/` for path segments, line
 * terminators for names); literals and classes are not restricted by it.
 */
export function compileWildcard(tokens: readonly WildcardToken[], excluded: readonly number[]): WildcardMatcher {
  const kinds: number[] = [];
  const codes: number[] = [];
  const sets: Array<CharClass | null> = [];
  for (const t of tokens) {
    // `**` matches exactly what `*` matches: one state instead of two.
    if (t.kind === 'star' && kinds.length > 0 && kinds[kinds.length - 1] === STAR) continue;
    kinds.push(t.kind === 'literal' ? LITERAL : t.kind === 'any' ? ANY : t.kind === 'class' ? CLASS : STAR);
    codes.push(t.kind === 'literal' ? t.code : -1);
    sets.push(t.kind === 'class' ? t.set : null);
  }
  const m = kinds.length;
  const excl = excluded.slice();

  const isExcluded = (c: number): boolean => {
    for (let k = 0; k < excl.length; k++) if (excl[k] === c) return true;
    return false;
  };
  const accepts = (i: number, c: number): boolean => {
    const k = kinds[i]!;
    return k === LITERAL ? codes[i] === c : k === ANY ? !isExcluded(c) : inClass(sets[i]!, c);
  };
  let acceptsExcluded = false;
  for (let i = 0; i < m; i++)
    if (kinds[i] !== STAR && kinds[i] !== ANY) for (const c of excl) if (accepts(i, c)) acceptsExcluded = true;

  /** The name holds no excluded character: `*` matches any run, `?` any character. */
  const twoPointer = (name: string): boolean => {
    const n = name.length;
    let p = 0;
    let t = 0;
    let starT = -1;
    let starP = 0;
    while (p < n) {
      if (t < m && kinds[t] === STAR) {
        starT = t++;
        starP = p;
      } else if (t < m && accepts(t, name.charCodeAt(p))) {
        t++;
        p++;
      } else if (starT >= 0) {
        // Let the last `*` absorb one more character and retry the segment after it.
        t = starT + 1;
        p = ++starP;
      } else return false;
    }
    while (t < m && kinds[t] === STAR) t++;
    return t === m;
  };

  /** A state before a star is also a state after it (a star may match nothing). */
  const close = (s: Uint8Array): void => {
    for (let i = 0; i < m; i++) if (s[i] === 1 && kinds[i] === STAR) s[i + 1] = 1;
  };
  let cur = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  const simulate = (name: string): boolean => {
    cur.fill(0);
    cur[0] = 1;
    close(cur);
    for (let p = 0; p < name.length; p++) {
      const c = name.charCodeAt(p);
      const ex = isExcluded(c);
      next.fill(0);
      let alive = false;
      for (let i = 0; i < m; i++) {
        if (cur[i] === 0) continue;
        if (kinds[i] === STAR) {
          if (!ex) {
            next[i] = 1;
            alive = true;
          }
        } else if (accepts(i, c)) {
          next[i + 1] = 1;
          alive = true;
        }
      }
      if (!alive) return false;
      close(next);
      const t = cur;
      cur = next;
      next = t;
    }
    return cur[m] === 1;
  };

  /**
   * Patterns of at most BIT_STATES tokens (all real ones) keep the NFA state set in one
   * integer, bit i = "token i is next": one table lookup, a shift and a few masks per
   * character, O(n) whatever the pattern.
   */
  if (m < BIT_STATES) {
    let starMask = 0;
    for (let i = 0; i < m; i++) if (kinds[i] === STAR) starMask |= 1 << i;
    const acceptMask = (c: number): number => {
      let mask = 0;
      for (let i = 0; i < m; i++) if (kinds[i] !== STAR && accepts(i, c)) mask |= 1 << i;
      return mask;
    };
    const asciiAccept = new Int32Array(128);
    const asciiExcluded = new Uint8Array(128);
    for (let c = 0; c < 128; c++) {
      asciiAccept[c] = acceptMask(c);
      asciiExcluded[c] = isExcluded(c) ? 1 : 0;
    }
    const done = 1 << m;
    return (name) => {
      let st = 1 | ((1 & starMask) << 1);
      for (let p = 0; p < name.length; p++) {
        const c = name.charCodeAt(p);
        const ascii = c < 128;
        const acc = ascii ? asciiAccept[c]! : acceptMask(c);
        const ex = ascii ? asciiExcluded[c] === 1 : isExcluded(c);
        st = ((st & acc) << 1) | (ex ? 0 : st & starMask);
        if (st === 0) return false;
        st |= (st & starMask) << 1;
      }
      return (st & done) !== 0;
    };
  }

  return (name) => {
    let excludedAt = -1;
    if (excl.length > 0) {
      for (let p = 0; p < name.length; p++) {
        if (isExcluded(name.charCodeAt(p))) {
          excludedAt = p;
          break;
        }
      }
    }
    if (excludedAt < 0) return twoPointer(name);
    return acceptsExcluded && simulate(name);
  };
}

function inClass(set: CharClass, c: number): boolean {
  const r = set.ranges;
  let hit = false;
  for (let k = 0; k < r.length; k += 2) {
    if (c >= r[k]! && c <= r[k + 1]!) {
      hit = true;
      break;
    }
  }
  return hit !== set.negated;
}
