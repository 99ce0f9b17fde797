/**
 * What a policy archives, as store filters, and the partitions it yields. Pure.
 *
 * A day is archivable once its end is `ageDays` × 24 h in the past: the rule retention
 * uses for `retentionDays` (jobs/retention-job.ts), so "archive at N days" and "delete at
 * N days" name the same day. Partitions
 * are cluster × day × namespace, planned from one composite aggregation so a plan never
 * holds more than one page of buckets per request.
 */
import type { Level } from '../../shared/record.ts';

export interface ArchiveSelection {
  /** Clusters; empty = every cluster. */
  clusters: readonly string[];
  /** Namespaces; empty = every namespace. */
  namespaces: readonly string[];
  /** Levels; empty = every level. */
  levels: readonly Level[];
  /** Pod labels that must all equal the given values. */
  labels: Readonly<Record<string, string>>;
  ageDays: number;
}

export interface PlannedPartition {
  cluster: string;
  /** `YYYY-MM-DD` */
  day: string;
  namespace: string;
  records: number;
}

const DAY_MS = 86_400_000;

/** First instant (ms) not archivable yet: the start of the newest UTC day whose end is less than `ageDays` × 24 h ago. */
export function archiveCutoffMs(nowMs: number, ageDays: number): number {
  return Math.floor((nowMs - ageDays * DAY_MS) / DAY_MS) * DAY_MS;
}

export function isDayArchivable(day: string, nowMs: number, ageDays: number): boolean {
  return Date.parse(`${day}T00:00:00Z`) + DAY_MS + ageDays * DAY_MS <= nowMs;
}

/**
 * Whether a day is past the policy's S3 retention (`s3_retention_days`, null = kept forever):
 * such a day has nothing left to archive. The job does not write it (it would expire the
 * objects in the same run) and the retention guard does not hold it (after expiry the
 * catalog no longer counts it, so holding would keep the day in the store for ever).
 */
export function isPastArchiveRetention(day: string, nowMs: number, s3RetentionDays: number | null): boolean {
  return s3RetentionDays !== null && isDayArchivable(day, nowMs, s3RetentionDays);
}

type Clause = Record<string, unknown>;

/** The filter clauses of the selection (without the age bound). */
export function selectionFilters(sel: ArchiveSelection): Clause[] {
  const filter: Clause[] = [];
  if (sel.clusters.length > 0) filter.push({ terms: { cluster: [...sel.clusters] } });
  if (sel.namespaces.length > 0) filter.push({ terms: { namespace: [...sel.namespaces] } });
  if (sel.levels.length > 0) filter.push({ terms: { level: [...sel.levels] } });
  for (const [k, v] of Object.entries(sel.labels)) filter.push({ term: { [`labels.${k}`]: v } });
  return filter;
}

/** Filters of one partition: the selection, its namespace and its UTC day. */
export function partitionFilters(
  sel: ArchiveSelection,
  p: { cluster: string; day: string; namespace: string },
): Clause[] {
  const start = `${p.day}T00:00:00.000000000Z`;
  const end = new Date(Date.parse(`${p.day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10) + 'T00:00:00.000000000Z';
  return [
    ...selectionFilters(sel),
    { term: { cluster: p.cluster } },
    { term: { namespace: p.namespace } },
    { range: { timestamp: { gte: start, lt: end } } },
  ];
}

/** One page of the planning aggregation over every archivable record of the selection. */
export function planAggregation(
  sel: ArchiveSelection,
  nowMs: number,
  after?: Record<string, unknown>,
  pageSize = 500,
): Clause {
  const cutoff = new Date(archiveCutoffMs(nowMs, sel.ageDays)).toISOString().replace('Z', '000000Z');
  return {
    size: 0,
    track_total_hits: false,
    query: { bool: { filter: [...selectionFilters(sel), { range: { timestamp: { lt: cutoff } } }] } },
    aggs: {
      partitions: {
        composite: {
          size: pageSize,
          sources: [
            { cluster: { terms: { field: 'cluster' } } },
            {
              day: {
                date_histogram: { field: 'timestamp', calendar_interval: '1d', time_zone: 'UTC', format: 'yyyy-MM-dd' },
              },
            },
            { namespace: { terms: { field: 'namespace' } } },
          ],
          ...(after ? { after } : {}),
        },
      },
    },
  };
}

interface CompositeBucket {
  key: { cluster: string; day: string | number; namespace: string };
  doc_count: number;
}

/** Buckets of a planning page → partitions, in (cluster, day, namespace) order. */
export function partitionsFromBuckets(buckets: readonly CompositeBucket[]): PlannedPartition[] {
  return buckets
    .filter((b) => b.doc_count > 0)
    .map((b) => ({
      cluster: b.key.cluster,
      day: typeof b.key.day === 'number' ? new Date(b.key.day).toISOString().slice(0, 10) : b.key.day,
      namespace: b.key.namespace,
      records: b.doc_count,
    }));
}
