/**
 * Log activity per cluster from the store, for `/clusters/status`: when its newest record
 * was ingested and how many it ingested over the last `windowMs`. One aggregation request
 * over the clusters' log indices.
 */
import type { OpenSearch } from '../../store/opensearch.ts';
import { toAppError } from '../../store/opensearch.ts';
import { logIndexPattern } from '../../store/log-indices.ts';
import type { ClusterActivity } from './cluster-status.ts';

export async function clusterActivity(
  client: OpenSearch,
  indexPrefix: string,
  clusters: readonly string[],
  windowMs: number,
  nowMs = Date.now(),
): Promise<Map<string, ClusterActivity>> {
  const out = new Map<string, ClusterActivity>();
  if (clusters.length === 0) return out;
  let res;
  try {
    res = await client.search({
      index: logIndexPattern(indexPrefix, clusters),
      ignore_unavailable: true,
      allow_no_indices: true,
      body: {
        size: 0,
        track_total_hits: false,
        query: { bool: { filter: [{ terms: { cluster: [...clusters] } }] } },
        aggs: {
          by_cluster: {
            terms: { field: 'cluster', size: clusters.length },
            aggs: {
              last: { max: { field: 'ingested_at' } },
              recent: { filter: { range: { ingested_at: { gte: new Date(nowMs - windowMs).toISOString() } } } },
            },
          },
        },
      } as never,
    });
  } catch (err) {
    throw toAppError(err, 'cluster activity');
  }
  type Bucket = {
    key: string;
    last: { value_as_string?: string; value: number | null };
    recent: { doc_count: number };
  };
  const buckets = ((res.body as { aggregations?: { by_cluster?: { buckets: Bucket[] } } }).aggregations?.by_cluster
    ?.buckets ?? []) as Bucket[];
  for (const b of buckets) {
    out.set(b.key, {
      last_record_at: b.last.value === null ? null : new Date(b.last.value).toISOString(),
      records_in_window: b.recent.doc_count,
    });
  }
  return out;
}
