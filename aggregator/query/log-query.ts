/**
 * The internal log query model every retrieval endpoint compiles to, and its compilation
 * to OpenSearch DSL. Pure: no I/O, table-tested.
 *
 * The access scope (from the token) is part of the model and always lands in the `filter`
 * clause, whatever the caller's own filters say: a namespace-restricted token can never
 * match a record outside its namespaces.
 */
import { formatNanos } from '../../shared/time.ts';
import type { LabelRequirement } from './label-selector.ts';
import { foldCase } from './lucene-regex.ts';

import type { AccessScope } from '../http/scope.ts';

export type { AccessScope };

export type FieldFilter =
  | { field: string; op: 'eq' | 'neq'; value: string }
  | { field: string; op: 'exists' | 'missing' };

export interface LogQuery {
  scope: AccessScope;
  clusters?: readonly string[];
  namespaces?: readonly string[];
  pods?: readonly string[];
  containers?: readonly string[];
  nodes?: readonly string[];
  streams?: readonly string[];
  levels?: readonly string[];
  /** Exact substrings the message must contain (all of them). */
  contains?: ReadonlyArray<{ value: string; caseInsensitive: boolean }>;
  /** Lucene regular expression the whole message must match (wildcard field semantics). */
  regex?: { pattern: string; caseInsensitive: boolean };
  /** Full-text query on the analysed message: words, "phrases", AND/OR/NOT (+ - |). */
  text?: string;
  labels?: readonly LabelRequirement[];
  fields?: readonly FieldFilter[];
  startNs: bigint;
  endNs: bigint;
  /** backward = newest first. */
  direction: 'backward' | 'forward';
  limit: number;
  after?: { ts: string; id: string };
}

type Clause = Record<string, unknown>;

/** Escapes the wildcard-query metacharacters so the value is matched literally. */
export function escapeWildcard(value: string): string {
  return value.replace(/[\\*?]/g, (c) => `\\${c}`);
}

/**
 * The wildcard pattern for "message contains value". A backslash in the value becomes `?`
 * (any one character): the wildcard field of OpenSearch 2.19 never matches a pattern in
 * which a backslash follows another character (escaped or not, wildcard or regexp), so the
 * exact form would silently find nothing. The cost is that `C:\temp` also matches `C:/temp`.
 */
export function containsPattern(value: string): string {
  return `*${value.split('\\').map(escapeWildcard).join('?')}*`;
}

/**
 * The regexp clause. Case-insensitivity is done by folding the pattern, because the store
 * ignores `case_insensitive` on regexp queries against the wildcard field (2.19); an
 * unparsable pattern is passed through with the flag so the store reports it.
 */
function regexpClause(regex: { pattern: string; caseInsensitive: boolean }): Clause {
  let value = regex.pattern;
  let flag = false;
  if (regex.caseInsensitive) {
    try {
      value = foldCase(regex.pattern);
    } catch {
      flag = true;
    }
  }
  return { regexp: { message: { value, flags: 'ALL', case_insensitive: flag, max_determinized_states: 10000 } } };
}

export function compileFilters(q: LogQuery): { filter: Clause[]; mustNot: Clause[]; must: Clause[] } {
  const filter: Clause[] = [
    { range: { timestamp: { gte: formatNanos(q.startNs), lte: formatNanos(q.endNs) } } },
  ];
  const mustNot: Clause[] = [];
  const must: Clause[] = [];
  if (q.scope.clusters) filter.push({ terms: { cluster: [...q.scope.clusters] } });
  if (q.scope.namespaces) filter.push({ terms: { namespace: [...q.scope.namespaces] } });
  const terms = (field: string, values: readonly string[] | undefined) => {
    if (values && values.length > 0) filter.push({ terms: { [field]: [...values] } });
  };
  terms('cluster', q.clusters);
  terms('namespace', q.namespaces);
  terms('pod', q.pods);
  terms('container', q.containers);
  terms('node', q.nodes);
  terms('stream', q.streams);
  terms('level', q.levels);
  for (const c of q.contains ?? []) {
    filter.push({
      wildcard: { message: { value: containsPattern(c.value), case_insensitive: c.caseInsensitive } },
    });
  }
  if (q.regex) {
    filter.push(regexpClause(q.regex));
  }
  if (q.text) {
    must.push({
      simple_query_string: { query: q.text, fields: ['message.text'], default_operator: 'and', flags: 'AND|OR|NOT|PHRASE|PRECEDENCE|WHITESPACE|ESCAPE|PREFIX' },
    });
  }
  for (const req of q.labels ?? []) {
    const field = `labels.${req.key}`;
    switch (req.op) {
      case 'in':
        filter.push({ terms: { [field]: req.values } });
        break;
      case 'notin':
        mustNot.push({ terms: { [field]: req.values } });
        break;
      case 'exists':
        filter.push({ exists: { field } });
        break;
      case '!exists':
        mustNot.push({ exists: { field } });
        break;
    }
  }
  for (const f of q.fields ?? []) {
    const field = `fields.${f.field}`;
    if (f.op === 'eq') filter.push({ term: { [field]: f.value } });
    else if (f.op === 'neq') mustNot.push({ term: { [field]: f.value } });
    else if (f.op === 'exists') filter.push({ exists: { field } });
    else mustNot.push({ exists: { field } });
  }
  return { filter, mustNot, must };
}

export function compileSearch(
  q: LogQuery,
  opts: { fetch: number; trackTotalHits: number | boolean; aggs?: Clause | undefined; highlight?: Clause | undefined },
): Clause {
  const { filter, mustNot, must } = compileFilters(q);
  const order = q.direction === 'backward' ? 'desc' : 'asc';
  return {
    size: opts.fetch,
    track_total_hits: opts.trackTotalHits,
    query: { bool: { filter, must_not: mustNot, must } },
    sort: [{ timestamp: { order } }, { id: { order } }],
    ...(q.after ? { search_after: [q.after.ts, q.after.id] } : {}),
    ...(opts.aggs ? { aggs: opts.aggs } : {}),
    ...(opts.highlight ? { highlight: opts.highlight } : {}),
    _source: { excludes: ['ingested_at'] },
  };
}
