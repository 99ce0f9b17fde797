/**
 * The archive's retention guard: retention (jobs/retention-job.ts) must not delete a day
 * index that an enabled policy still has to archive. For every enabled policy selecting the
 * index's cluster, the day's records matching the policy (per namespace, from the store) are
 * compared with what the archive catalog holds for that policy's bucket and prefix (per
 * namespace): a namespace with more records in the store than in the archive holds the day
 * (it is not archived, or late records arrived since). The next run of the policy archives
 * them, and the next retention run deletes the day.
 *
 * A day past the policy's S3 retention is not held either: the policy would expire its
 * objects, so there is nothing left to archive.
 *
 * Disabled policies hold nothing (they never run by themselves; holding for them would keep
 * data forever). Reads only; any failure is thrown, and retention then keeps the index.
 */
import type { OpenSearch } from '../store/opensearch.ts';
import type { ArchiveCatalog } from './archive-catalog.ts';
import { selectionOf, type ArchivePolicy } from './archive-policy.ts';
import { isPastArchiveRetention, selectionFilters } from './archive-selection.ts';
import type { RetentionGuard } from '../jobs/retention-job.ts';

interface Terms {
  buckets: Array<{ key: string; doc_count: number; records?: { value: number } }>;
  sum_other_doc_count: number;
}

/** Pure: namespaces whose store count exceeds what the archive holds. */
export function unarchivedNamespaces(
  store: ReadonlyMap<string, number>,
  archived: ReadonlyMap<string, number>,
): Array<{ namespace: string; missing: number }> {
  const out: Array<{ namespace: string; missing: number }> = [];
  for (const [namespace, n] of store) {
    const missing = n - (archived.get(namespace) ?? 0);
    if (missing > 0) out.push({ namespace, missing });
  }
  return out;
}

export function archiveRetentionGuard(deps: {
  client: OpenSearch;
  catalog: ArchiveCatalog;
  policies(): Promise<readonly ArchivePolicy[]>;
  now?: () => number;
}): RetentionGuard {
  const now = deps.now ?? Date.now;
  return async ({ name, cluster, day }) => {
    for (const p of await deps.policies()) {
      if (!p.enabled) continue;
      if (isPastArchiveRetention(day, now(), p.after.s3_retention_days)) continue;
      if (p.selection.clusters.length > 0 && !p.selection.clusters.includes(cluster)) continue;
      const inStore = await deps.client.search({
        index: name,
        ignore_unavailable: true,
        body: {
          size: 0,
          query: { bool: { filter: selectionFilters(selectionOf(p)) } },
          aggs: { ns: { terms: { field: 'namespace', size: 10_000 } } },
        } as never,
      });
      const storeNs = (inStore.body.aggregations as { ns: Terms } | undefined)?.ns;
      if (!storeNs || storeNs.buckets.length === 0) continue;
      if (storeNs.sum_other_doc_count > 0) return `awaiting_archive: more than 10000 namespaces in ${name}`;
      await deps.catalog.ensure();
      const inArchive = await deps.client.search({
        index: deps.catalog.index,
        body: {
          size: 0,
          query: {
            bool: {
              filter: [
                { term: { bucket: p.destination.bucket } },
                { term: { prefix: p.destination.prefix } },
                { term: { cluster } },
                { term: { day } },
              ],
            },
          },
          aggs: {
            ns: { terms: { field: 'namespace', size: 10_000 }, aggs: { records: { sum: { field: 'records' } } } },
          },
        } as never,
      });
      const archivedNs = (inArchive.body.aggregations as { ns: Terms }).ns;
      const missing = unarchivedNamespaces(
        new Map(storeNs.buckets.map((b) => [b.key, b.doc_count])),
        new Map(archivedNs.buckets.map((b) => [b.key, b.records?.value ?? 0])),
      );
      if (missing.length > 0) {
        const total = missing.reduce((n, m) => n + m.missing, 0);
        return `awaiting_archive: policy ${p.id} has not archived ${total} records of ${name} (namespaces ${missing
          .map((m) => m.namespace)
          .slice(0, 10)
          .join(', ')})`;
      }
    }
    return undefined;
  };
}
