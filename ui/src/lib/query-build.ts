/**
 * The Explore query, pure: simple filters (or a LogQL text) → the API's request bodies:
 * `POST /search` (history), `GET /tail` parameters (live) and the equivalent LogQL
 * selector (to switch modes). Filters AND across fields, OR within one.
 */

export const Levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'unknown'] as const;
export type Level = (typeof Levels)[number];

export interface ExploreQuery {
  mode: 'simple' | 'logql';
  clusters: string[];
  namespaces: string[];
  pods: string[];
  containers: string[];
  levels: Level[];
  /** Text the message contains (exact substring, case-insensitive). */
  text: string;
  /** Substrings the message must not contain ("filter out" of a value). */
  exclude: string[];
  /** Kubernetes label selector (`app=web,tier in (api)`). */
  labels: string;
  logql: string;
}

export const EMPTY_QUERY: ExploreQuery = {
  mode: 'simple',
  clusters: [],
  namespaces: [],
  pods: [],
  containers: [],
  levels: [],
  text: '',
  exclude: [],
  labels: '',
  logql: '',
};

export interface SearchBody {
  clusters?: string[];
  namespaces?: string[];
  pods?: string[];
  containers?: string[];
  levels?: string[];
  contains?: string[];
  regex?: string;
  case_sensitive?: boolean;
  labels?: string;
  start: string;
  end: string;
  limit: number;
  cursor?: string;
  histogram?: boolean;
  aggregations?: string[];
}

const nonEmpty = <T>(xs: T[]) => (xs.length ? xs : undefined);

/**
 * The `POST /search` body. `exclude` becomes a negative regex only when there is no text
 * filter to carry it: the API has no "does not contain", so excluded values are also
 * filtered on the page (see {@link excludes}).
 */
export function searchBody(
  q: ExploreQuery,
  start: string,
  end: string,
  opts: { limit: number; cursor?: string; first?: boolean },
): SearchBody {
  const body: SearchBody = { start, end, limit: opts.limit };
  const set = <K extends keyof SearchBody>(k: K, v: SearchBody[K] | undefined) => {
    if (v !== undefined) body[k] = v;
  };
  set('clusters', nonEmpty(q.clusters));
  set('namespaces', nonEmpty(q.namespaces));
  set('pods', nonEmpty(q.pods));
  set('containers', nonEmpty(q.containers));
  set('levels', nonEmpty(q.levels));
  if (q.text.trim()) {
    body.contains = [q.text.trim()];
    body.case_sensitive = false;
  }
  if (q.labels.trim()) body.labels = q.labels.trim();
  if (opts.cursor) body.cursor = opts.cursor;
  else if (opts.first) {
    body.histogram = true;
    body.aggregations = ['level'];
  }
  return body;
}

/** True when a message passes the page-side exclusions (case-insensitive substrings). */
export function excludes(q: ExploreQuery): (message: string) => boolean {
  const out = q.exclude.map((x) => x.toLowerCase());
  if (out.length === 0) return () => true;
  return (m) => {
    const lower = m.toLowerCase();
    return !out.some((x) => lower.includes(x));
  };
}

/** `GET /tail` parameters for the same filters (single-valued filters are comma lists). */
export function tailParams(q: ExploreQuery, since?: string): URLSearchParams {
  const p = new URLSearchParams();
  if (q.clusters.length) p.set('cluster', q.clusters.join(','));
  if (q.namespaces.length) p.set('namespace', q.namespaces.join(','));
  if (q.pods.length) p.set('pod', q.pods.join(','));
  if (q.containers.length) p.set('container', q.containers.join(','));
  if (q.levels.length) p.set('level', q.levels.join(','));
  if (q.text.trim()) p.set('q', q.text.trim());
  if (since) p.set('since', since);
  return p;
}

const quote = (v: string) => JSON.stringify(v);
const matcher = (label: string, values: string[]) =>
  values.length === 1 ? `${label}=${quote(values[0]!)}` : `${label}=~${quote(values.map(escapeRegex).join('|'))}`;

export function escapeRegex(v: string): string {
  return v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The LogQL query equivalent to the simple filters (labels selector aside). */
export function toLogql(q: ExploreQuery): string {
  const m: string[] = [];
  if (q.clusters.length) m.push(matcher('cluster', q.clusters));
  if (q.namespaces.length) m.push(matcher('namespace', q.namespaces));
  if (q.pods.length) m.push(matcher('pod', q.pods));
  if (q.containers.length) m.push(matcher('container', q.containers));
  if (m.length === 0) m.push('namespace=~".+"');
  let out = `{${m.join(', ')}}`;
  if (q.text.trim()) out += ` |~ ${quote(`(?i)${escapeRegex(q.text.trim())}`)}`;
  for (const x of q.exclude) out += ` != ${quote(x)}`;
  if (q.levels.length) out += ` | detected_level=~${quote(q.levels.join('|'))}`;
  return out;
}

/** Adds (in) or excludes (out) a field value, as the details pane's buttons do. Returns a new query. */
export function applyFilter(q: ExploreQuery, field: string, value: string, how: 'in' | 'out'): ExploreQuery {
  const listField = ({ cluster: 'clusters', namespace: 'namespaces', pod: 'pods', container: 'containers' } as const)[
    field as 'cluster'
  ];
  if (how === 'in') {
    if (listField) return { ...q, [listField]: [value] };
    if (field === 'level' && (Levels as readonly string[]).includes(value)) return { ...q, levels: [value as Level] };
    if (field.startsWith('labels.')) {
      const req = `${field.slice(7)}=${value}`;
      return { ...q, labels: q.labels.trim() ? `${q.labels.trim()},${req}` : req };
    }
    return { ...q, text: value };
  }
  if (listField) {
    // "not this pod": no negative filter in the simple API; exclude its lines on the page.
    return { ...q, [listField]: q[listField].filter((v) => v !== value) };
  }
  if (field === 'level') return { ...q, levels: (q.levels.length ? q.levels : [...Levels]).filter((l) => l !== value) };
  if (field.startsWith('labels.')) {
    const req = `${field.slice(7)}!=${value}`;
    return { ...q, labels: q.labels.trim() ? `${q.labels.trim()},${req}` : req };
  }
  return q.exclude.includes(value) ? q : { ...q, exclude: [...q.exclude, value] };
}
