/**
 * Stream-selector matchers as OpenSearch clauses. Pure.
 *
 * Contract: the clauses never exclude a record whose Loki labels (stream-labels.ts) satisfy
 * the matchers — they may let more through, which the store's exact in-process check then
 * drops. `exact` says whether they let *exactly* the matching records through (then an
 * aggregation over them needs no in-process check: metric push-down relies on it).
 *
 * Built-in labels (`cluster`, `namespace`, `pod`, `container`, `node`, `stream`) are their
 * own keyword fields, so `=` / `!=` with a non-empty value and `=~` / `!~` whose RE2 pattern
 * is a set of literals (`a|b`) or literal prefixes (`api-.*`) translate exactly. An empty
 * value (`node=""` also matches a record without a node) and any other regex stay in process.
 *
 * Pod labels live in the `labels` flat_object under their original keys, and a LogQL name is
 * the Prometheus-safe form of *some* key (`app_kubernetes_io_name` ← `app.kubernetes.io/name`):
 * - `=` / `=~` (literal set or prefix): the value must be *some* label's value, so a term /
 *   prefix on the flat_object root (which searches every value) is a superset;
 * - `!=` / `!~` (literals, `.*` prefixes): a key spelled exactly like the name wins the
 *   name (stream-labels.ts), so a record whose key `name` holds the value cannot match and
 *   `must_not` on `labels.<name>` is a superset.
 * Neither is exact (the value may sit under another key).
 */
import type { Matcher } from './ast.ts';

type Clause = Record<string, unknown>;

export const BUILT_IN_FIELDS: ReadonlySet<string> = new Set([
  'cluster',
  'namespace',
  'pod',
  'container',
  'node',
  'stream',
]);

/** What an anchored, dot-all RE2 pattern matches when it is only literals and literal prefixes. */
export interface LiteralAlternatives {
  /** Values matched exactly. */
  literals: string[];
  /** `p.*`: any value starting with `p` (`(?s)`: the dot matches newlines too). */
  prefixes: string[];
  /** `p.+`: any value starting with `p` and longer than it (a prefix query is a superset). */
  longerPrefixes: string[];
}

const META = new Set(['.', '[', ']', '{', '}', '(', ')', '*', '+', '?', '^', '$', '|', '\\']);

/**
 * `a|b\\.c|api-.*` → literals [a, b.c], prefixes [api-]. Undefined for anything else (classes,
 * groups, flags, repetition, escapes other than a backslash before punctuation) and for an
 * empty alternative (it would match the empty value, i.e. a missing label).
 */
export function literalAlternatives(pattern: string): LiteralAlternatives | undefined {
  const out: LiteralAlternatives = { literals: [], prefixes: [], longerPrefixes: [] };
  let cur = '';
  let i = 0;
  const finish = (kind: 'literal' | 'prefix' | 'longer'): boolean => {
    if (cur === '') return false;
    (kind === 'literal' ? out.literals : kind === 'prefix' ? out.prefixes : out.longerPrefixes).push(cur);
    cur = '';
    return true;
  };
  while (i <= pattern.length) {
    if (i === pattern.length || pattern[i] === '|') {
      if (!finish('literal')) return undefined;
      i++;
      continue;
    }
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      // Only an escaped ASCII punctuation character is a literal (`\d`, `\Q`, `\x41`… are not).
      if (n === undefined || !/^[!-/:-@[-`{-~]$/.test(n)) return undefined;
      cur += n;
      i += 2;
      continue;
    }
    if (c === '.' && (pattern[i + 1] === '*' || pattern[i + 1] === '+')) {
      const end = i + 2;
      if (end !== pattern.length && pattern[end] !== '|') return undefined;
      if (!finish(pattern[i + 1] === '*' ? 'prefix' : 'longer')) return undefined;
      i = end + 1;
      if (end === pattern.length) break;
      continue;
    }
    if (META.has(c)) return undefined;
    // Astral characters are two code units here and one rune in RE2: both literal either way.
    cur += c;
    i++;
  }
  return out;
}

export interface MatcherClauses {
  filter: Clause[];
  mustNot: Clause[];
  /** The clauses select exactly the records the matchers select. */
  exact: boolean;
}

function anyOf(field: string, literals: string[], prefixes: string[]): Clause {
  const should: Clause[] = [];
  if (literals.length > 0) should.push({ terms: { [field]: literals } });
  for (const p of prefixes) should.push({ prefix: { [field]: { value: p } } });
  return should.length === 1 ? should[0]! : { bool: { should, minimum_should_match: 1 } };
}

/** The pushed-down clauses of a selector's matchers (see the module comment for what and why). */
export function matcherClauses(matchers: readonly Matcher[]): MatcherClauses {
  const filter: Clause[] = [];
  const mustNot: Clause[] = [];
  let exact = true;
  for (const m of matchers) {
    const builtIn = BUILT_IN_FIELDS.has(m.name);
    if (!builtIn) exact = false;
    if (m.op === '=' || m.op === '!=') {
      if (m.value === '') {
        exact = false;
        continue;
      }
      if (m.op === '=') filter.push({ term: { [builtIn ? m.name : 'labels']: m.value } });
      else mustNot.push({ term: { [builtIn ? m.name : `labels.${m.name}`]: m.value } });
      continue;
    }
    const alt = literalAlternatives(m.value);
    if (!alt) {
      exact = false;
      continue;
    }
    if (m.op === '=~') {
      if (alt.longerPrefixes.length > 0) exact = false;
      filter.push(anyOf(builtIn ? m.name : 'labels', alt.literals, [...alt.prefixes, ...alt.longerPrefixes]));
    } else {
      // `!~ "p.+"` passes the value `p` itself: a must_not prefix would drop it.
      if (alt.longerPrefixes.length > 0) {
        exact = false;
        continue;
      }
      mustNot.push(anyOf(builtIn ? m.name : `labels.${m.name}`, alt.literals, alt.prefixes));
    }
  }
  return { filter, mustNot, exact };
}
