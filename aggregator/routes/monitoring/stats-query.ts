/**
 * Log statistics (`GET /stats`) from the store. Pure: compiles the aggregation body and
 * shapes it with the index listing; no I/O.
 *
 * Documents, by day (UTC, of record timestamps), by level and oldest/newest come from one
 * aggregation under the caller's scope. Indices and store size describe whole day indices,
 * which hold every namespace of a cluster: they are given only to callers that may read
 * every namespace (a namespace-restricted token sees them as null).
 */
import type { AccessScope } from '../../http/scope.ts';
import { parseDayIndexName } from '../../store/log-indices.ts';
import { MAX_BREAKDOWN_BUCKETS, scopeFilter } from './metrics-query.ts';

type Clause = Record<string, unknown>;

export interface StatsQuery {
  scope: AccessScope;
  clusters?: readonly string[];
}

export function compileStatsSearch(q: StatsQuery): Clause {
  return {
    size: 0,
    track_total_hits: true,
    query: { bool: { filter: scopeFilter(q.scope, q.clusters) } },
    aggs: {
      by_day: {
        date_histogram: {
          field: 'timestamp',
          calendar_interval: '1d',
          min_doc_count: 1,
          format: 'yyyy-MM-dd',
          time_zone: 'UTC',
        },
      },
      by_level: { terms: { field: 'level', size: 20, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
      by_cluster: {
        terms: { field: 'cluster', size: MAX_BREAKDOWN_BUCKETS, order: [{ _count: 'desc' }, { _key: 'asc' }] },
      },
      // Edge records rather than min/max: those answer in (double) milliseconds, losing the
      // nanoseconds of the stored timestamp.
      oldest: { top_hits: { size: 1, sort: [{ timestamp: 'asc' }], _source: ['timestamp'] } },
      newest: { top_hits: { size: 1, sort: [{ timestamp: 'desc' }], _source: ['timestamp'] } },
    },
  };
}

/** One row of `_cat/indices?format=json&bytes=b`. */
export interface CatIndexRow {
  index: string;
  health?: string;
  status?: string;
  'docs.count'?: string | null;
  'store.size'?: string | null;
}

export interface IndexStat {
  index: string;
  cluster: string;
  day: string;
  health: string;
  status: string;
  documents: number;
  store_bytes: number;
}

export interface LogStats {
  documents: number;
  oldest: string | null;
  newest: string | null;
  by_day: Array<{ day: string; documents: number }>;
  by_level: Array<{ level: string; documents: number }>;
  by_cluster: Array<{ cluster: string; documents: number }>;
  /** Null for namespace-restricted callers. */
  store_bytes: number | null;
  index_count: number | null;
  indices: IndexStat[] | null;
}

interface Bucket {
  key: unknown;
  key_as_string?: string;
  doc_count: number;
}

/**
 * `rows` are the day indices of the clusters in scope (undefined for a namespace-restricted
 * caller); rows that are not day indices of this prefix are ignored.
 */
export function shapeStats(
  prefix: string,
  body: { hits?: { total?: { value?: number } | number }; aggregations?: Record<string, unknown> },
  rows: readonly CatIndexRow[] | undefined,
): LogStats {
  const aggs = body.aggregations ?? {};
  const b = (name: string) => (aggs[name] as { buckets?: Bucket[] } | undefined)?.buckets ?? [];
  const edge = (name: string) => {
    const a = aggs[name] as { hits?: { hits?: Array<{ _source?: { timestamp?: string } }> } } | undefined;
    return a?.hits?.hits?.[0]?._source?.timestamp ?? null;
  };
  const indices = rows
    ?.flatMap((r) => {
      const parsed = parseDayIndexName(prefix, r.index);
      if (!parsed) return [];
      return [
        {
          index: r.index,
          cluster: parsed.cluster,
          day: parsed.day.replaceAll('.', '-'),
          health: r.health ?? 'unknown',
          status: r.status ?? 'unknown',
          documents: Number(r['docs.count'] ?? 0),
          store_bytes: Number(r['store.size'] ?? 0),
        },
      ];
    })
    .sort((x, y) => (x.index < y.index ? -1 : x.index > y.index ? 1 : 0));
  return {
    documents: typeof body.hits?.total === 'number' ? body.hits.total : (body.hits?.total?.value ?? 0),
    oldest: edge('oldest'),
    newest: edge('newest'),
    by_day: b('by_day').map((x) => ({ day: x.key_as_string ?? String(x.key), documents: x.doc_count })),
    by_level: b('by_level').map((x) => ({ level: String(x.key), documents: x.doc_count })),
    by_cluster: b('by_cluster').map((x) => ({ cluster: String(x.key), documents: x.doc_count })),
    store_bytes: indices ? indices.reduce((s, i) => s + i.store_bytes, 0) : null,
    index_count: indices ? indices.length : null,
    indices: indices ?? null,
  };
}
