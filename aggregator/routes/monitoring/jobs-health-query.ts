/**
 * The store search behind the `jobs` health component, and the shaping of its answer into
 * what `jobsVerdict` (health-checks.ts) judges. Pure.
 *
 * The jobs index grows with every run of every job type (until pruned), so health must not
 * read "some 100 documents": it asks OpenSearch for the latest job of each type, every
 * running job whose lease has expired, and counts by status — three aggregations, one search.
 */
import type { JobDoc } from './health-checks.ts';

/** Job types reported (far above the handful the aggregator registers). */
const MAX_TYPES = 100;
/** Orphaned running jobs listed by name; the count stays exact beyond it. */
const MAX_ORPHANS = 20;

export function compileJobsHealthSearch(nowMs: number): Record<string, unknown> {
  return {
    size: 0,
    track_total_hits: false,
    // Lease records of earlier versions have no `type`: not jobs.
    query: { exists: { field: 'type' } },
    aggs: {
      by_status: { terms: { field: 'status', size: 10 } },
      by_type: {
        terms: { field: 'type', size: MAX_TYPES },
        aggs: { latest: { top_hits: { size: 1, sort: [{ created_at: 'desc' }, { id: 'desc' }] } } },
      },
      orphaned: {
        filter: {
          bool: {
            filter: [
              { term: { status: 'running' } },
              { range: { lease_expires_at: { lt: new Date(nowMs).toISOString() } } },
            ],
          },
        },
        aggs: { jobs: { top_hits: { size: MAX_ORPHANS, sort: [{ lease_expires_at: 'asc' }] } } },
      },
    },
  };
}

interface Hits {
  hits: { hits: Array<{ _source: JobDoc }> };
}
interface JobsHealthResponse {
  aggregations?: {
    by_status?: { buckets: Array<{ key: string; doc_count: number }> };
    by_type?: { buckets: Array<{ key: string; latest: Hits }> };
    orphaned?: { jobs: Hits };
  };
}

export interface JobsHealthFacts {
  /** The latest job of each type, then the orphaned running jobs (a job may be both). */
  jobs: JobDoc[];
  byStatus: Record<string, number>;
}

export function shapeJobsHealth(body: JobsHealthResponse): JobsHealthFacts {
  const a = body.aggregations ?? {};
  const byStatus = Object.fromEntries((a.by_status?.buckets ?? []).map((b) => [b.key, b.doc_count]));
  const latest = (a.by_type?.buckets ?? []).flatMap((b) => b.latest.hits.hits.map((h) => h._source));
  const orphans = (a.orphaned?.jobs.hits.hits ?? []).map((h) => h._source);
  const seen = new Set(latest.map((j) => j.id));
  return { jobs: [...latest, ...orphans.filter((j) => !seen.has(j.id))], byStatus };
}
