/**
 * Delete-after-verify for one day index (`<prefix>-<cluster>-YYYY.MM.DD`): the index is
 * deleted only when, with writes to it blocked, every namespace partition of it is archived,
 * read back from S3 and matches the source (record count and content checksum, source
 * streamed again), and the verified records are all the index holds (a policy that selects
 * only some namespaces, levels or labels never deletes a day index).
 *
 * Late records: writes are blocked (`index.blocks.write`) before the final verification, so
 * nothing can slip in between "verified" and "deleted"; ingest answers the blocked writes
 * with a retry and the agent sends them again, after the deletion, into a new day index,
 * which the next run archives as further parts (archive-partition.ts). On any failure or
 * mismatch the block is lifted and nothing is deleted; the outcome says why. A block this
 * cannot lift (the store gone) is swept later (write-block.ts).
 */
import type { OpenSearch } from '../store/opensearch.ts';
import { blockWrites, liftWrites } from './write-block.ts';
import { partitionFilters, selectionFilters, type ArchiveSelection } from './archive-selection.ts';
import { archivePartition, writeManifest, type ArchiveTarget } from './archive-partition.ts';
import type { Manifest } from './manifest.ts';
import { partitionIndex } from './partition-source.ts';
import { openRecords, verifyPartition } from './verify-partition.ts';

export type DayOutcome =
  | { deleted: true; index: string; records: number; partitions: number; manifests: Manifest[] }
  | { deleted: false; index: string; reason: string; detail?: string };

export interface DeleteDayInput {
  client: OpenSearch;
  indexPrefix: string;
  selection: ArchiveSelection;
  cluster: string;
  day: string;
  target: ArchiveTarget;
  jobId: string | null;
  policyId: string | null;
  signal?: AbortSignal | undefined;
  /** Called with each partition's manifest after the deletion sealed it. */
  onSealed?: ((m: Manifest) => Promise<void>) | undefined;
}

async function namespacesOf(
  client: OpenSearch,
  index: string,
  filters: Array<Record<string, unknown>>,
): Promise<string[]> {
  const body: Record<string, unknown> = {
    size: 0,
    query: { bool: { filter: filters } },
    aggs: { ns: { terms: { field: 'namespace', size: 10_000 } } },
  };
  const res = await client.search({ index, body });
  const buckets = (res.body.aggregations as { ns: { buckets: Array<{ key: string }>; sum_other_doc_count: number } })
    .ns;
  if (buckets.sum_other_doc_count > 0) throw new Error(`more than 10000 namespaces in ${index}`);
  return buckets.buckets.map((b) => b.key);
}

export async function deleteArchivedDay(input: DeleteDayInput): Promise<DayOutcome> {
  const { client } = input;
  const index = partitionIndex(input.indexPrefix, { cluster: input.cluster, day: input.day });
  const exists = (await client.indices.exists({ index })).body;
  if (!exists) return { deleted: false, index, reason: 'index_missing' };
  await blockWrites(client, index, input.jobId);
  let deleted = false;
  try {
    await client.indices.refresh({ index });
    const dayFilters = [
      ...selectionFilters({ ...input.selection, clusters: [] }),
      { term: { cluster: input.cluster } },
    ];
    const namespaces = await namespacesOf(client, index, dayFilters);
    const manifests: Manifest[] = [];
    let verified = 0;
    for (const namespace of namespaces) {
      input.signal?.throwIfAborted();
      const partition = { cluster: input.cluster, day: input.day, namespace };
      // Archives records that arrived before the block (a no-op when already complete).
      const archived = await archivePartition({ ...input, partition, signal: input.signal });
      if (!archived) continue;
      const check = await verifyPartition({
        client,
        bucket: input.target.bucket,
        index,
        filters: partitionFilters(input.selection, partition),
        manifest: archived.manifest,
        deepSource: true,
      });
      if (!check.ok)
        return {
          deleted: false,
          index,
          reason: `verification_failed:${check.reason}`,
          ...(check.key ? { detail: check.key } : {}),
        };
      manifests.push(archived.manifest);
      verified += check.sourceRecords ?? openRecords(archived.manifest);
    }
    const total = ((await client.count({ index })).body as { count: number }).count;
    if (total !== verified)
      return {
        deleted: false,
        index,
        reason: 'index_holds_unselected_records',
        detail: `${total - verified} records the policy does not archive`,
      };
    input.signal?.throwIfAborted();
    await client.indices.delete({ index });
    deleted = true;
    // Seal: the objects' records are no longer in the store. Best effort — the next run
    // seals a partition whose source lost its records by itself (archive-partition.ts).
    const sealed: Manifest[] = [];
    for (const m of manifests) {
      const s = { ...m, sealed_parts: m.objects.length };
      try {
        await writeManifest(input.target, m, s);
        await input.onSealed?.(s);
      } catch {
        /* next run seals it */
      }
      sealed.push(s);
    }
    return { deleted: true, index, records: verified, partitions: manifests.length, manifests: sealed };
  } finally {
    // If this fails too (the store went away), the block stays with its owner recorded, and
    // the archive scheduler lifts it once this job has ended (write-block.ts).
    if (!deleted) await liftWrites(client, index);
  }
}
