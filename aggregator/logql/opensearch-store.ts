/**
 * The LogStore (store.ts) over the OpenSearch day indices: what the engine asks for
 * (selector, [start, end), direction, pre-filter hint) becomes one bool query, read over a
 * point in time with `search_after` one page at a time, so at most one page is held.
 *
 * What is pushed down, and why it is safe (the engine re-applies every exact filter, so a
 * pushed clause may only ever let *more* records through than the exact semantics, never fewer):
 * - the access scope (token clusters / namespaces): always, as `terms` filters, whatever the
 *   selector says — the restriction is inside every query;
 * - `=` / `!=` matchers with a non-empty value on the built-in stream labels (`cluster`,
 *   `namespace`, `pod`, `container`, `node`, `stream`) as `term` / `must_not term` (the label
 *   *is* the keyword field); matchers with an empty value (`node=""` means "no node"), regex
 *   matchers (RE2 ≠ Lucene) and pod-label matchers (the Prometheus-safe name does not name
 *   the original key) are evaluated here only;
 * - `lineContains` as the same exact-substring wildcard clause `GET /` uses (a backslash
 *   widens to `?`: a superset); `lineExcludes` as `must_not` of it, except for values with a
 *   backslash, where the widened pattern would exclude lines that should pass.
 * Every matcher is then tested exactly on the record's Loki labels (stream-labels.ts).
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
import { lokiStreamOf } from './stream-labels.ts';

export const LOGQL_PAGE_SIZE = 1000;
const PIT_KEEP_ALIVE = '1m';
const BUILT_IN_FIELDS = new Set(['cluster', 'namespace', 'pod', 'container', 'node', 'stream']);

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
  /** Called when a point in time could not be deleted (it expires by itself). */
  onCleanupError?: ((err: unknown) => void) | undefined;
}

/** The bool query of one select: scope, time range, pushed-down matchers and hint. Pure. */
export function compileSelect(
  req: Pick<SelectRequest, 'matchers' | 'startNs' | 'endNs' | 'hint'>,
  scope: AccessScope,
): { filter: Clause[]; must_not: Clause[] } {
  const filter: Clause[] = [{ range: { timestamp: { gte: formatNanos(req.startNs), lt: formatNanos(req.endNs) } } }];
  const mustNot: Clause[] = [];
  if (scope.clusters) filter.push({ terms: { cluster: [...scope.clusters] } });
  if (scope.namespaces) filter.push({ terms: { namespace: [...scope.namespaces] } });
  for (const m of req.matchers) {
    if (!BUILT_IN_FIELDS.has(m.name) || m.value === '') continue;
    if (m.op === '=') filter.push({ term: { [m.name]: m.value } });
    else if (m.op === '!=') mustNot.push({ term: { [m.name]: m.value } });
  }
  for (const v of req.hint.lineContains) {
    filter.push({ wildcard: { message: { value: containsPattern(v), case_insensitive: false } } });
  }
  for (const v of req.hint.lineExcludes) {
    if (v.includes('\\')) continue;
    mustNot.push({ wildcard: { message: { value: containsPattern(v), case_insensitive: false } } });
  }
  return { filter, must_not: mustNot };
}

export class OpenSearchLogStore implements LogStore {
  readonly #o: OpenSearchLogStoreOptions;
  /** Store requests sent (searches), for statistics and tests. */
  searches = 0;

  constructor(opts: OpenSearchLogStoreOptions) {
    this.#o = opts;
  }

  async *select(req: SelectRequest): AsyncIterable<StoreEntry> {
    const { client, deadline } = this.#o;
    const pageSize = this.#o.pageSize ?? LOGQL_PAGE_SIZE;
    const tests: { name: string; test: ValueTest }[] = req.matchers.map((m: Matcher) => ({
      name: m.name,
      test: compileMatcher(m),
    }));
    const release = this.#o.pits ? this.#o.pits.tryAcquire() : () => {};
    if (!release) {
      throw new AppError(
        'AGG_ERR_TOO_MANY_EXPORTS',
        `logql: this replica already runs ${this.#o.pits?.max} streaming reads; retry later`,
        { retryAfterSeconds: 5 },
      );
    }
    try {
      const pattern = logIndexPattern(this.#o.indexPrefix, this.#o.scope.clusters ?? undefined);
      let indices: string[];
      try {
        const resolved = await withDeadline(
          deadline,
          'logql',
          client.indices.resolveIndex({ name: pattern, expand_wildcards: 'open' }, transportOptions(deadline)),
        );
        indices = (resolved.body.indices as Array<{ name: string }>)
          .map((i) => i.name)
          .filter((n) => !n.startsWith('.'));
      } catch (err) {
        throw toAppError(err, 'logql');
      }
      if (indices.length === 0) return;
      let pitId: string;
      try {
        const pit = await withDeadline(
          deadline,
          'logql',
          client.createPit({ index: indices, keep_alive: PIT_KEEP_ALIVE }, transportOptions(deadline)),
        );
        pitId = pit.body.pit_id as string;
      } catch (err) {
        throw toAppError(err, 'logql');
      }
      try {
        const query = compileSelect(req, this.#o.scope);
        const order = req.direction === 'backward' ? 'desc' : 'asc';
        // search_after from the record's own timestamp string and id, never from `hits.sort`:
        // the nanosecond sort value of a date_nanos field exceeds 2^53 and JSON.parse rounds it.
        let after: [string, string] | undefined = req.after ? [formatNanos(req.after.tsNs), req.after.id] : undefined;
        for (;;) {
          if (req.signal?.aborted) return;
          const body: Clause = {
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
          };
          let res;
          try {
            this.searches++;
            res = await withDeadline(
              deadline,
              'logql',
              client.search({ body, ...storeTimeoutParams(deadline) }, transportOptions(deadline)),
            );
          } catch (err) {
            throw toAppError(err, 'logql');
          }
          if (typeof res.body.pit_id === 'string') pitId = res.body.pit_id;
          const hits = res.body.hits.hits as Array<{ _source: LogRecord }>;
          for (const h of hits) {
            const r = h._source;
            const { labels, structuredMetadata } = lokiStreamOf(r);
            if (!tests.every((t) => t.test(labels[t.name] ?? ''))) continue;
            const tsNs = parseRfc3339Nanos(r.timestamp);
            if (tsNs === undefined) continue;
            yield { tsNs, position: { tsNs, id: r.id }, line: r.message, labels, meta: structuredMetadata };
          }
          if (hits.length < pageSize) return;
          const lastHit = hits[hits.length - 1]!._source;
          after = [lastHit.timestamp, lastHit.id];
        }
      } finally {
        await client.deletePit({ body: { pit_id: [pitId] } }).catch((err: unknown) => this.#o.onCleanupError?.(err));
      }
    } finally {
      release();
    }
  }
}
