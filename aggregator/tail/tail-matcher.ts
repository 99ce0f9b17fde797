/**
 * Pure: the predicate a live tail subscription applies to each stored record — the
 * caller's access scope first (a namespace-limited token never sees another namespace),
 * then the selector. Exact semantics of the same filters in `GET /` (log-query.ts):
 * values within a field OR, fields AND; `contains` is an exact substring, optionally
 * case-insensitive (simple case folding, as the store's `case_insensitive` does).
 */
import type { LogRecord } from '../../shared/record.ts';
import type { AccessScope } from '../query/log-query.ts';

export interface TailSelector {
  scope: AccessScope;
  clusters?: readonly string[];
  namespaces?: readonly string[];
  pods?: readonly string[];
  containers?: readonly string[];
  streams?: readonly string[];
  levels?: readonly string[];
  contains?: ReadonlyArray<{ value: string; caseInsensitive: boolean }>;
}

export function tailMatcher(sel: TailSelector): (r: LogRecord) => boolean {
  const set = (values: readonly string[] | null | undefined) =>
    values && values.length > 0 ? new Set(values) : undefined;
  const fields: Array<[keyof LogRecord, Set<string>]> = [];
  const add = (field: keyof LogRecord, values: readonly string[] | null | undefined) => {
    const s = set(values);
    if (s) fields.push([field, s]);
  };
  add('cluster', sel.scope.clusters);
  add('namespace', sel.scope.namespaces);
  add('cluster', sel.clusters);
  add('namespace', sel.namespaces);
  add('pod', sel.pods);
  add('container', sel.containers);
  add('stream', sel.streams);
  add('level', sel.levels);
  const contains = (sel.contains ?? []).map((c) => ({
    value: c.caseInsensitive ? c.value.toLowerCase() : c.value,
    fold: c.caseInsensitive,
  }));
  return (r) => {
    for (const [field, allowed] of fields) if (!allowed.has(r[field] as string)) return false;
    if (contains.length === 0) return true;
    let folded: string | undefined;
    for (const c of contains) {
      const text = c.fold ? (folded ??= r.message.toLowerCase()) : r.message;
      if (!text.includes(c.value)) return false;
    }
    return true;
  };
}
