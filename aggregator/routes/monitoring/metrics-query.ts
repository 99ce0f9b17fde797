/**
 * Log-collection metrics computed from the store (DESIGN.md §5, issue 8 §4): one search
 * with aggregations over the log indices, so every aggregator replica answers the same
 * figures. Pure: compiles the request body and shapes the response; no I/O.
 *
 * Figures over the window `[start, end]` of record timestamps:
 * - lines: records stored; bytes: UTF-8 bytes of their messages (the stored record keeps no
 *   wire size, so this is the payload the users logged, not request or index bytes);
 * - over time: both per histogram bucket (empty buckets included);
 * - per cluster, top namespaces and top pods by lines (with bytes);
 * - ingest lag: `ingested_at − timestamp` in ms (records without `ingested_at` are left
 *   out); min/avg/max are exact, the percentiles are the store's estimates.
 * The token's access scope always lands in the filter.
 */
import { formatNanos } from '../../../shared/time.ts';
import type { AccessScope } from '../../http/scope.ts';

type Clause = Record<string, unknown>;

export interface MetricsQuery {
  scope: AccessScope;
  /** Clusters asked for (within the scope); all in scope when absent. */
  clusters?: readonly string[];
  startNs: bigint;
  endNs: bigint;
  /** Histogram interval, already validated (histogram-interval.ts). */
  interval: string;
  /** How many namespaces and pods the top lists hold. */
  top: number;
  /** Per-namespace breakdown of every namespace (GET /clusters/{id}/metrics). */
  namespaces: boolean;
}

/** Sum of the UTF-8 length of `message`, read from `_source` (the wildcard field has no doc values). */
export const MESSAGE_BYTES_SCRIPT = `
def m = params._source.message;
if (m == null) return 0;
long n = 0;
int len = m.length();
for (int i = 0; i < len; i++) {
  int c = (int) m.charAt(i);
  if (c < 0x80) n += 1;
  else if (c < 0x800) n += 2;
  else if (c >= 0xD800 && c < 0xDC00 && i + 1 < len && (int) m.charAt(i + 1) >= 0xDC00 && (int) m.charAt(i + 1) < 0xE000) { n += 4; i++; }
  else n += 3;
}
return n;`;

const LAG_SCRIPT =
  "doc['ingested_at'].value.toInstant().toEpochMilli() - doc['timestamp'].value.toInstant().toEpochMilli()";

/** Upper bound on per-cluster and per-namespace buckets. */
export const MAX_BREAKDOWN_BUCKETS = 1000;

const bytesAgg = { bytes: { sum: { script: { source: MESSAGE_BYTES_SCRIPT } } } };

export function scopeFilter(scope: AccessScope, clusters?: readonly string[]): Clause[] {
  const filter: Clause[] = [];
  if (scope.clusters) filter.push({ terms: { cluster: [...scope.clusters] } });
  if (scope.namespaces) filter.push({ terms: { namespace: [...scope.namespaces] } });
  if (clusters && clusters.length > 0) filter.push({ terms: { cluster: [...clusters] } });
  return filter;
}

export function compileMetricsSearch(q: MetricsQuery): Clause {
  const start = formatNanos(q.startNs);
  const end = formatNanos(q.endNs);
  const aggs: Clause = {
    ...bytesAgg,
    over_time: {
      date_histogram: {
        field: 'timestamp',
        fixed_interval: q.interval,
        min_doc_count: 0,
        extended_bounds: { min: start, max: end },
        format: 'strict_date_optional_time_nanos',
      },
      aggs: bytesAgg,
    },
    by_cluster: {
      terms: { field: 'cluster', size: MAX_BREAKDOWN_BUCKETS, order: [{ _count: 'desc' }, { _key: 'asc' }] },
      aggs: bytesAgg,
    },
    top_namespaces: {
      multi_terms: {
        terms: [{ field: 'cluster' }, { field: 'namespace' }],
        size: q.top,
        order: [{ _count: 'desc' }, { _key: 'asc' }],
      },
      aggs: bytesAgg,
    },
    top_pods: {
      multi_terms: {
        terms: [{ field: 'cluster' }, { field: 'namespace' }, { field: 'pod' }],
        size: q.top,
        order: [{ _count: 'desc' }, { _key: 'asc' }],
      },
      aggs: bytesAgg,
    },
    lag: {
      filter: { exists: { field: 'ingested_at' } },
      aggs: {
        stats: { stats: { script: { source: LAG_SCRIPT } } },
        percentiles: { percentiles: { script: { source: LAG_SCRIPT }, percents: [50, 95, 99] } },
      },
    },
  };
  if (q.namespaces) {
    aggs['namespaces'] = {
      terms: { field: 'namespace', size: MAX_BREAKDOWN_BUCKETS, order: [{ _count: 'desc' }, { _key: 'asc' }] },
      aggs: bytesAgg,
    };
  }
  return {
    size: 0,
    track_total_hits: true,
    query: {
      bool: { filter: [{ range: { timestamp: { gte: start, lte: end } } }, ...scopeFilter(q.scope, q.clusters)] },
    },
    aggs,
  };
}

export interface Volume {
  lines: number;
  bytes: number;
}

export interface IngestLag {
  /** Records with an ingest time (the lag is over these). */
  records: number;
  min_ms: number | null;
  avg_ms: number | null;
  max_ms: number | null;
  /** Estimates (t-digest). */
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
}

export interface StoreMetrics {
  totals: Volume;
  over_time: { interval: string; buckets: Array<Volume & { start: string }> };
  clusters: Array<Volume & { cluster: string }>;
  top_namespaces: Array<Volume & { cluster: string; namespace: string }>;
  top_pods: Array<Volume & { cluster: string; namespace: string; pod: string }>;
  /** Every namespace of the window (only when asked for). */
  namespaces?: Array<Volume & { namespace: string }>;
  ingest_lag: IngestLag;
}

interface Bucket {
  key: unknown;
  key_as_string?: string;
  doc_count: number;
  bytes?: { value: number | null };
}

const volume = (b: Bucket): Volume => ({ lines: b.doc_count, bytes: Math.round(b.bytes?.value ?? 0) });
const buckets = (aggs: Record<string, unknown> | undefined, name: string) =>
  (aggs?.[name] as { buckets?: Bucket[] } | undefined)?.buckets ?? [];
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const keys = (b: Bucket): string[] => (Array.isArray(b.key) ? b.key.map(String) : [String(b.key)]);

export function shapeMetrics(
  q: MetricsQuery,
  body: { hits?: { total?: { value?: number } | number }; aggregations?: Record<string, unknown> },
): StoreMetrics {
  const aggs = body.aggregations;
  const total = typeof body.hits?.total === 'number' ? body.hits.total : (body.hits?.total?.value ?? 0);
  const lag = aggs?.['lag'] as
    | {
        doc_count: number;
        stats?: { min: unknown; avg: unknown; max: unknown };
        percentiles?: { values?: Record<string, unknown> };
      }
    | undefined;
  const pv = lag?.percentiles?.values ?? {};
  const round = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
  const out: StoreMetrics = {
    totals: { lines: total, bytes: Math.round((aggs?.['bytes'] as { value?: number } | undefined)?.value ?? 0) },
    over_time: {
      interval: q.interval,
      buckets: buckets(aggs, 'over_time').map((b) => ({
        start: b.key_as_string ?? formatNanos(BigInt(Number(b.key)) * 1_000_000n),
        ...volume(b),
      })),
    },
    clusters: buckets(aggs, 'by_cluster').map((b) => ({ cluster: String(b.key), ...volume(b) })),
    top_namespaces: buckets(aggs, 'top_namespaces').map((b) => {
      const [cluster = '', namespace = ''] = keys(b);
      return { cluster, namespace, ...volume(b) };
    }),
    top_pods: buckets(aggs, 'top_pods').map((b) => {
      const [cluster = '', namespace = '', pod = ''] = keys(b);
      return { cluster, namespace, pod, ...volume(b) };
    }),
    ingest_lag: {
      records: lag?.doc_count ?? 0,
      min_ms: num(lag?.stats?.min),
      avg_ms: round(num(lag?.stats?.avg)),
      max_ms: num(lag?.stats?.max),
      p50_ms: round(num(pv['50.0'])),
      p95_ms: round(num(pv['95.0'])),
      p99_ms: round(num(pv['99.0'])),
    },
  };
  if (q.namespaces)
    out.namespaces = buckets(aggs, 'namespaces').map((b) => ({ namespace: String(b.key), ...volume(b) }));
  return out;
}
