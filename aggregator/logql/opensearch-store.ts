/**
 * The LogStore (store.ts) over the OpenSearch day indices: what the engine asks for
 * (selector, [start, end), direction, pre-filter hint) becomes one bool query, read over a
 * point in time with `search_after` one page at a time, so at most one page is held.
 *
 * What is pushed down, and why it is safe (the engine re-applies every exact filter, so a
 * pushed clause may only ever let *more* records through than the exact semantics, never fewer):
 * - the access scope (token clusters / namespaces): always, as `terms` filters, whatever the
 *   selector says — the restriction is inside every query;
 * - matchers as matcher-push-down.ts compiles them: exactly on the built-in stream labels
 *   (`=` / `!=` with a value, `=~` / `!~` literal sets and prefixes), as a superset on pod
 *   labels (flat_object root for `=` / `=~`, `must_not labels.<name>` for `!=` / `!~`);
 *   other regexes (RE2 ≠ Lucene) and empty values (`node=""` means "no node") stay here;
 * - `lineContains` as the same exact-substring wildcard clause `GET /` uses (a backslash
 *   widens to `?`: a superset); `lineExcludes` as `must_not` of it, except for values with a
 *   backslash, where the widened pattern would exclude lines that should pass.
 * Every matcher is then tested exactly on the record's Loki labels (stream-labels.ts).
 *
 * Metric push-down (`aggregateWindows`, metric-push-down.ts) uses the same clauses only when
 * they are exact, and counts with composite aggregations instead of reading lines.
 *
 * The point in time is always deleted (end, error, consumer stop). A full PitGate is a 429
 * before anything is opened.
 */
import type { LogRecord } from '../../shared/record.ts';
import { formatNanos, parseRfc3339Nanos } from '../../shared/time.ts';
import type { OpenSearch } from '../store/opensearch.ts';
import { toAppError } from '../store/opensearch.ts';
import { AppError } from '../errors.ts';
import type { AccessScope } from '../http/scope.ts';
import { logIndexPattern } from '../store/log-indices.ts';
import { containsPattern } from '../query/log-query.ts';
import type { PitGate } from '../query/pit-gate.ts';
import { storeTimeoutParams, transportOptions, withDeadline, type StoreDeadline } from '../query/query-budget.ts';
import type { Matcher } from './ast.ts';
import { compileMatcher, type ValueTest } from './pipeline.ts';
import type { LogStore, SelectRequest, StoreEntry } from './store.ts';
import { matcherClauses } from './matcher-push-down.ts';
import {
  windowGrid,
  windowTotals,
  type Buckets,
  type WindowAggregateRequest,
  type WindowAggregateResult,
} from './metric-push-down.ts';
import { labelsKey } from './pipeline.ts';
import { lokiStreamOf } from './stream-labels.ts';

export const LOGQL_PAGE_SIZE = 1000;
const PIT_KEEP_ALIVE = '1m';

type Clause = Record<string, unknown>;

export interface OpenSearchLogStoreOptions {
  client: OpenSearch;
  indexPrefix: string;
  scope: AccessScope;
  /** Bounds each store call and stops on client close. */
  deadline?: StoreDeadline | undefined;
  /** Concurrent points in time of this replica. */
  pits?: PitGate | undefined;
  pageSize?: number | undefined;
  /**
   * Ask for the next page while the engine works through the current one (from the second
   * page on: most log queries stop within the first). Default true; a benchmark turns it off
   * for its baseline.
   */
  prefetch?: boolean | undefined;
  /** Composite-aggregation page of the metric push-down (default 5000; tests page with less). */
  aggregationPageSize?: number | undefined;
  /** Called when a point in time could not be deleted (it expires by itself). */
  onCleanupError?: ((err: unknown) => void) | undefined;
}

/** The bool query of one select: scope, time range, pushed-down matchers and hint. Pure. */
export function compileSelect(
  req: Pick<SelectRequest, 'matchers' | 'startNs' | 'endNs' | 'hint'>,
  scope: AccessScope,
): { filter: Clause[]; must_not: Clause[] } {
  const filter: Clause[] = [{ range: { timestamp: { gte: storedNanos(req.startNs), lt: storedNanos(req.endNs) } } }];
  const mustNot: Clause[] = [];
  if (scope.clusters) filter.push({ terms: { cluster: [...scope.clusters] } });
  if (scope.namespaces) filter.push({ terms: { namespace: [...scope.namespaces] } });
  const m = matcherClauses(req.matchers);
  filter.push(...m.filter);
  mustNot.push(...m.mustNot);
  for (const v of req.hint.lineContains) filter.push(containsClause(v));
  for (const v of req.hint.lineExcludes) {
    if (v.includes('\\')) continue;
    mustNot.push(containsClause(v));
  }
  return { filter, must_not: mustNot };
}

/**
 * A range bound on the date_nanos `timestamp`, which holds nothing before the epoch and
 * refuses a query bound before it (400): an earlier bound is the epoch, the same records.
 * A window whose lookback (range, offset) reaches before 1970 is then still answered.
 */
function storedNanos(ns: bigint): string {
  return formatNanos(ns < 0n ? 0n : ns);
}

function containsClause(v: string): Clause {
  return { wildcard: { message: { value: containsPattern(v), case_insensitive: false } } };
}

/**
 * The bool query of a window aggregation, or undefined when it would not select exactly the
 * records the engine would count: a matcher that is only a superset, or a line literal with
 * a backslash (its wildcard form widens it). Pure.
 */
export function compileWindowQuery(
  req: Pick<WindowAggregateRequest, 'matchers' | 'lineContains' | 'lineExcludes'>,
  fromNs: bigint,
  toNs: bigint,
  scope: AccessScope,
): { filter: Clause[]; must_not: Clause[] } | undefined {
  const m = matcherClauses(req.matchers);
  if (!m.exact) return undefined;
  if ([...req.lineContains, ...req.lineExcludes].some((v) => v.includes('\\'))) return undefined;
  const filter: Clause[] = [{ range: { timestamp: { gte: storedNanos(fromNs), lte: storedNanos(toNs) } } }];
  if (scope.clusters) filter.push({ terms: { cluster: [...scope.clusters] } });
  if (scope.namespaces) filter.push({ terms: { namespace: [...scope.namespaces] } });
  filter.push(...m.filter, ...req.lineContains.map(containsClause));
  return { filter, must_not: [...m.mustNot, ...req.lineExcludes.map(containsClause)] };
}

/**
 * UTF-8 length of the stored line, as Buffer.byteLength counts it (a lone surrogate is the
 * 3-byte replacement character), for bytes_over_time / bytes_rate. Surrogates by number:
 * Painless does not allow Character.isHighSurrogate.
 */
const UTF8_BYTES_SCRIPT = `
String m = params._source.message;
if (m == null) { return 0; }
long n = 0;
int len = m.length();
for (int i = 0; i < len; i++) {
  char c = m.charAt(i);
  if (c < 128) { n += 1; }
  else if (c < 2048) { n += 2; }
  else if (c >= 55296 && c <= 56319 && i + 1 < len && m.charAt(i + 1) >= 56320 && m.charAt(i + 1) <= 57343) { n += 4; i++; }
  else { n += 3; }
}
return n;`;

const COMPOSITE_PAGE = 5000;
/** Edge instants per `terms` clause (OpenSearch counts ~3 clauses each against max_clause_count 1024). */
const EDGE_TERMS_PER_SEARCH = 250;
/** Beyond this many edge searches (~6,000 edges, ~3,000 steps) the engine evaluates in process. */
const MAX_EDGE_SEARCHES = 24;

export class OpenSearchLogStore implements LogStore {
  readonly #o: OpenSearchLogStoreOptions;
  /** Store requests sent (searches), for statistics and tests. */
  searches = 0;
  /** Records read from the store, before the exact matcher check (what a pre-filter saves). */
  hitsRead = 0;

  constructor(opts: OpenSearchLogStoreOptions) {
    this.#o = opts;
  }

  /** Takes a PitGate slot (429 when full); the returned function gives it back. */
  #acquire(): () => void {
    const release = this.#o.pits ? this.#o.pits.tryAcquire() : () => {};
    if (!release) {
      throw new AppError(
        'AGG_ERR_TOO_MANY_EXPORTS',
        `logql: this replica already runs ${this.#o.pits?.max} streaming reads; retry later`,
        { retryAfterSeconds: 5 },
      );
    }
    return release;
  }

  /** A point in time over the scope's day indices, or undefined when there are none. */
  async #openPit(): Promise<string | undefined> {
    const { client, deadline } = this.#o;
    const pattern = logIndexPattern(this.#o.indexPrefix, this.#o.scope.clusters ?? undefined);
    let indices: string[];
    try {
      const resolved = await withDeadline(
        deadline,
        'logql',
        client.indices.resolveIndex({ name: pattern, expand_wildcards: 'open' }, transportOptions(deadline)),
      );
      indices = (resolved.body.indices as Array<{ name: string }>).map((i) => i.name).filter((n) => !n.startsWith('.'));
    } catch (err) {
      throw toAppError(err, 'logql');
    }
    if (indices.length === 0) return undefined;
    try {
      const pit = await withDeadline(
        deadline,
        'logql',
        client.createPit({ index: indices, keep_alive: PIT_KEEP_ALIVE }, transportOptions(deadline)),
      );
      return pit.body.pit_id as string;
    } catch (err) {
      throw toAppError(err, 'logql');
    }
  }

  async #closePit(pitId: string): Promise<void> {
    await this.#o.client
      .deletePit({ body: { pit_id: [pitId] } })
      .catch((err: unknown) => this.#o.onCleanupError?.(err));
  }

  /** One search: over the point in time named in `body`, or over `index` (a pattern; none may match). */
  async #search(body: Clause, index?: string): Promise<Record<string, any>> {
    const { client, deadline } = this.#o;
    try {
      this.searches++;
      const target = index ? { index, ignore_unavailable: true, allow_no_indices: true } : {};
      const res = await withDeadline(
        deadline,
        'logql',
        client.search({ ...target, body, ...storeTimeoutParams(deadline) }, transportOptions(deadline)),
      );
      return res.body as Record<string, any>;
    } catch (err) {
      throw toAppError(err, 'logql');
    }
  }

  async *select(req: SelectRequest): AsyncIterable<StoreEntry> {
    const pageSize = this.#o.pageSize ?? LOGQL_PAGE_SIZE;
    const tests: { name: string; test: ValueTest }[] = req.matchers.map((m: Matcher) => ({
      name: m.name,
      test: compileMatcher(m),
    }));
    const release = this.#acquire();
    try {
      let pitId = await this.#openPit();
      if (pitId === undefined) return;
      try {
        const query = compileSelect(req, this.#o.scope);
        const order = req.direction === 'backward' ? 'desc' : 'asc';
        // search_after from the record's own timestamp string and id, never from `hits.sort`:
        // the nanosecond sort value of a date_nanos field exceeds 2^53 and JSON.parse rounds it.
        let after: [string, string] | undefined = req.after ? [formatNanos(req.after.tsNs), req.after.id] : undefined;
        const pageBody = (): Clause => ({
          size: pageSize,
          track_total_hits: false,
          query: { bool: query },
          sort: [{ timestamp: { order } }, { id: { order } }],
          _source: {
            includes: [
              'id',
              'timestamp',
              'message',
              'cluster',
              'namespace',
              'pod',
              'container',
              'node',
              'stream',
              'level',
              'labels',
            ],
          },
          pit: { id: pitId, keep_alive: PIT_KEEP_ALIVE },
          ...(after ? { search_after: after } : {}),
        });
        const prefetch = this.#o.prefetch ?? true;
        let next: Promise<Record<string, any>> | undefined;
        try {
          for (let page = 0; ; page++) {
            if (req.signal?.aborted) return;
            const res = await (next ?? this.#search(pageBody()));
            next = undefined;
            if (typeof res.pit_id === 'string') pitId = res.pit_id;
            const hits = res.hits.hits as Array<{ _source: LogRecord }>;
            this.hitsRead += hits.length;
            const full = hits.length === pageSize;
            if (full) {
              const lastHit = hits[hits.length - 1]!._source;
              after = [lastHit.timestamp, lastHit.id];
              if (prefetch && page > 0) {
                next = this.#search(pageBody());
                // Handled here and awaited on the next turn: a failure while the consumer still
                // works through this page must not surface as an unhandled rejection.
                next.catch(() => {});
              }
            }
            for (const h of hits) {
              const r = h._source;
              const { labels, structuredMetadata } = lokiStreamOf(r);
              if (!tests.every((t) => t.test(labels[t.name] ?? ''))) continue;
              const tsNs = parseRfc3339Nanos(r.timestamp);
              if (tsNs === undefined) continue;
              yield { tsNs, position: { tsNs, id: r.id }, line: r.message, labels, meta: structuredMetadata };
            }
            if (!full) return;
          }
        } finally {
          // A page asked for and no longer wanted (the consumer stopped): let it settle before the PIT goes.
          await next?.catch(() => {});
        }
      } finally {
        await this.#closePit(pitId);
      }
    } finally {
      release();
    }
  }

  /**
   * Metric push-down (metric-push-down.ts): composite aggregations by (group labels, grid
   * bucket) over every record in the span, and over the records exactly on a window edge
   * (filter aggregations of `terms` on the timestamp, in chunks: OpenSearch expands each
   * date term into ~3 clauses against max_clause_count 1024), folded into per-window totals.
   * One search usually answers it all — one search sees one snapshot, so no point in time;
   * when a composite page is full, the whole aggregation runs again over a point in time so
   * that every page sees the same records. Undefined when the request cannot be answered
   * exactly (superset matchers, widened literals, too fine a grid) or exceeds `maxSeries`.
   */
  async aggregateWindows(req: WindowAggregateRequest): Promise<WindowAggregateResult | undefined> {
    const grid = windowGrid(req.endsNs, req.rangeNs);
    if (!grid || grid.edgesNs.length > EDGE_TERMS_PER_SEARCH * MAX_EDGE_SEARCHES) return undefined;
    const query = compileWindowQuery(req, grid.fromNs, grid.toNs, this.#o.scope);
    if (!query) return undefined;
    const sources: Clause[] = [
      ...req.groupBy.map((g) => ({ [g]: { terms: { field: g, missing_bucket: true } } })),
      {
        t: {
          date_histogram: { field: 'timestamp', fixed_interval: `${grid.intervalMs}ms`, offset: `+${grid.offsetMs}ms` },
        },
      },
    ];
    const parts: WindowPart[] = [{ name: 'raw', edges: false }];
    // No record sits on an edge before the epoch (date_nanos), and such a term is refused.
    const edgesNs = grid.edgesNs.filter((e) => e >= 0n);
    for (let i = 0; i < edgesNs.length; i += EDGE_TERMS_PER_SEARCH) {
      const chunk = edgesNs.slice(i, i + EDGE_TERMS_PER_SEARCH).map(formatNanos);
      parts.push({ name: `edges${parts.length}`, edges: true, filter: { terms: { timestamp: chunk } } });
    }
    const spec = { req, query, sources, parts };
    const once = await this.#windowSearches(spec, undefined);
    if (once !== 'paged') return once;
    const release = this.#acquire();
    try {
      const pitId = await this.#openPit();
      if (pitId === undefined) return { series: [] };
      const ref = { pitId };
      try {
        const paged = await this.#windowSearches(spec, ref);
        return paged === 'paged' ? undefined : paged;
      } finally {
        await this.#closePit(ref.pitId);
      }
    } finally {
      release();
    }
  }

  /**
   * The searches of one window aggregation. Without a point in time: one search on the
   * index pattern, or 'paged' when a composite page came back full. With one: every page.
   */
  async #windowSearches(
    spec: {
      req: WindowAggregateRequest;
      query: { filter: Clause[]; must_not: Clause[] };
      sources: Clause[];
      parts: WindowPart[];
    },
    pit: { pitId: string } | undefined,
  ): Promise<WindowAggregateResult | undefined | 'paged'> {
    const { req, query, sources } = spec;
    const pageSize = this.#o.aggregationPageSize ?? COMPOSITE_PAGE;
    const sub: Clause | undefined = req.bytes
      ? { bytes: { sum: { script: { lang: 'painless', source: UTF8_BYTES_SCRIPT } } } }
      : undefined;
    const series = new Map<string, { labels: [string, string][]; raw: Buckets; edges: Buckets }>();
    let pending = spec.parts.map((p) => ({ ...p, after: undefined as Record<string, unknown> | undefined }));
    while (pending.length > 0) {
      if (req.signal?.aborted) return undefined;
      const aggs: Record<string, Clause> = {};
      for (const p of pending) {
        const composite: Clause = {
          composite: { size: pageSize, sources, ...(p.after ? { after: p.after } : {}) },
          ...(sub ? { aggs: sub } : {}),
        };
        aggs[p.name] = p.filter ? { filter: p.filter, aggs: { c: composite } } : composite;
      }
      const body: Clause = { size: 0, track_total_hits: false, query: { bool: query }, aggs };
      if (pit) body.pit = { id: pit.pitId, keep_alive: PIT_KEEP_ALIVE };
      const res = await this.#search(
        body,
        pit ? undefined : logIndexPattern(this.#o.indexPrefix, this.#o.scope.clusters ?? undefined),
      );
      if (pit && typeof res.pit_id === 'string') pit.pitId = res.pit_id;
      const next: typeof pending = [];
      for (const p of pending) {
        const raw = res.aggregations?.[p.name];
        const agg = (p.filter ? raw?.c : raw) as
          | {
              after_key?: Record<string, unknown>;
              buckets: Array<{ key: Record<string, unknown>; doc_count: number; bytes?: { value: number } }>;
            }
          | undefined;
        const buckets = agg?.buckets ?? [];
        for (const b of buckets) {
          const labels = groupLabels(req.groupBy, b.key);
          const key = labelsKey(labels);
          let s = series.get(key);
          if (!s) {
            if (series.size >= req.maxSeries) return undefined;
            series.set(key, (s = { labels, raw: new Map(), edges: new Map() }));
          }
          const map = p.edges ? s.edges : s.raw;
          const t = BigInt(b.key.t as number);
          const prev = map.get(t) ?? { count: 0, bytes: 0 };
          map.set(t, { count: prev.count + b.doc_count, bytes: prev.bytes + (b.bytes?.value ?? 0) });
        }
        if (buckets.length >= pageSize && agg?.after_key) next.push({ ...p, after: agg.after_key });
      }
      if (next.length > 0 && !pit) return 'paged';
      pending = next;
    }
    return {
      series: [...series.values()].map((s) => ({
        labels: s.labels,
        ...windowTotals(s.raw, s.edges, req.endsNs, req.rangeNs),
      })),
    };
  }
}

/** One aggregation of a window search: all records, or those on a chunk of edges. */
interface WindowPart {
  name: string;
  edges: boolean;
  filter?: Clause;
}

/**
 * A composite bucket's series labels, as the engine would label the records: a missing
 * field has no label, and neither has an empty `node` (stream-labels.ts omits it).
 */
function groupLabels(groupBy: readonly string[], key: Record<string, unknown>): [string, string][] {
  const out: [string, string][] = [];
  for (const g of groupBy) {
    const v = key[g];
    if (v === null || v === undefined) continue;
    if (g === 'node' && v === '') continue;
    out.push([g, String(v)]);
  }
  return out;
}
