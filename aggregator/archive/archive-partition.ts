/**
 * Archives one partition: streams its records out of the store, writes the objects under
 * their deterministic keys, then the manifest (last: its presence means "complete").
 *
 * Idempotent: a partition whose manifest verifies against the source (same record count,
 * objects present with the manifest's checksums) is skipped; otherwise it is written again
 * from the start. Because line order and cut points are deterministic, rewriting the same
 * records produces byte-identical objects under the same keys, so a rerun after a crash
 * overwrites nothing with different content and duplicates nothing. When the source grew
 * (late records), the partition is rewritten with them; object keys past the new last
 * part (left by an earlier, longer write) are removed after the new manifest is in place.
 */
import type { OpenSearch } from '../store/opensearch.ts';
import { partitionFilters, type ArchiveSelection, type PlannedPartition } from './archive-selection.ts';
import { buildManifest, parseManifest, type Manifest } from './manifest.ts';
import { NdjsonParts, type FinishedPart } from './ndjson-parts.ts';
import { manifestKey, parseKey, partitionDirectory, partKey, type Compression } from './object-keys.ts';
import { countPartition, partitionIndex, streamPartition } from './partition-source.ts';
import { S3Failure, type ArchiveBucket } from './s3-bucket.ts';
import { verifyPartition } from './verify-partition.ts';

export interface ArchiveTarget {
  bucket: ArchiveBucket;
  prefix: string;
  compression: Compression;
  targetObjectBytes: number;
  storageClass: string;
  serverSideEncryption: string | undefined;
  kmsKeyId: string | undefined;
}

export interface ArchivePartitionInput {
  client: OpenSearch;
  indexPrefix: string;
  selection: ArchiveSelection;
  partition: Pick<PlannedPartition, 'cluster' | 'day' | 'namespace'>;
  target: ArchiveTarget;
  jobId: string | null;
  policyId: string | null;
  signal?: AbortSignal;
  /** Called after each object is stored (progress within the partition). */
  onObject?: (part: Omit<FinishedPart, 'body'> & { key: string }) => void;
  now?: () => Date;
}

export interface ArchivedPartition {
  manifest: Manifest;
  /** true when an existing, verified manifest was kept. */
  skipped: boolean;
}

export const CONTENT_TYPE = 'application/x-ndjson';

export async function readManifest(bucket: ArchiveBucket, key: string): Promise<Manifest | undefined> {
  try {
    return parseManifest((await bucket.get(key)).toString('utf8'));
  } catch (err) {
    if (err instanceof S3Failure && err.kind === 'not_found') return undefined;
    throw err;
  }
}

export async function archivePartition(input: ArchivePartitionInput): Promise<ArchivedPartition | undefined> {
  const { client, target, partition } = input;
  const index = partitionIndex(input.indexPrefix, partition);
  const filters = partitionFilters(input.selection, partition);
  const mKey = manifestKey(target.prefix, partition);

  const existing = await readManifest(target.bucket, mKey);
  if (existing) {
    const check = await verifyPartition({ client, bucket: target.bucket, index, filters, manifest: existing });
    if (check.ok) return { manifest: existing, skipped: true };
  }

  const parts: Array<Omit<FinishedPart, 'body'> & { key: string }> = [];
  const writer = new NdjsonParts({
    compression: target.compression,
    targetObjectBytes: target.targetObjectBytes,
    onPart: async (p) => {
      input.signal?.throwIfAborted();
      const key = partKey(target.prefix, partition, p.part, target.compression);
      await target.bucket.put(key, p.body, {
        contentType: CONTENT_TYPE,
        storageClass: target.storageClass,
        ...(target.serverSideEncryption ? { serverSideEncryption: target.serverSideEncryption } : {}),
        ...(target.kmsKeyId ? { kmsKeyId: target.kmsKeyId } : {}),
        metadata: {
          records: String(p.records),
          'content-sha256': p.contentSha256,
          ...(input.jobId ? { 'job-id': input.jobId } : {}),
        },
      });
      const { body: _body, ...facts } = p;
      parts.push({ ...facts, key });
      input.onObject?.({ ...facts, key });
    },
  });
  for await (const page of streamPartition(client, index, filters, input.signal ? { signal: input.signal } : {})) {
    for (const r of page) await writer.push(r.line, r.timestamp);
  }
  const totals = await writer.end();
  if (totals.records === 0) return undefined;

  const manifest = buildManifest({
    partition,
    compression: target.compression,
    parts,
    contentSha256: totals.contentSha256,
    jobId: input.jobId,
    policyId: input.policyId,
    storageClass: target.storageClass,
    writtenAt: (input.now?.() ?? new Date()).toISOString(),
  });
  input.signal?.throwIfAborted();
  await target.bucket.put(mKey, Buffer.from(JSON.stringify(manifest, null, 2) + '\n'), {
    contentType: 'application/json',
    storageClass: target.storageClass,
    ...(target.serverSideEncryption ? { serverSideEncryption: target.serverSideEncryption } : {}),
    ...(target.kmsKeyId ? { kmsKeyId: target.kmsKeyId } : {}),
  });
  await removeStaleParts(target, partition, manifest);
  return { manifest, skipped: false };
}

/** Deletes part objects of the partition that the manifest does not list (left by a longer, earlier write). */
async function removeStaleParts(
  target: ArchiveTarget,
  partition: Pick<PlannedPartition, 'cluster' | 'day' | 'namespace'>,
  manifest: Manifest,
): Promise<void> {
  const listed = new Set(manifest.objects.map((o) => o.key));
  const stale: string[] = [];
  let token: string | undefined;
  do {
    const page = await target.bucket.list(partitionDirectory(target.prefix, partition), token);
    for (const o of page.objects) {
      if (parseKey(target.prefix, o.key)?.kind === 'part' && !listed.has(o.key)) stale.push(o.key);
    }
    token = page.next;
  } while (token);
  if (stale.length > 0) await target.bucket.delete(stale);
}

export { countPartition };
