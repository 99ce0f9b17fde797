/**
 * Archives one partition: streams its records out of the store, writes the objects under
 * their deterministic keys, then the manifest (last: its presence means "complete").
 *
 * Idempotent: a partition whose manifest verifies against its objects and the source is
 * skipped. Otherwise its open tail (every object after the sealed ones) is written again
 * from the source. Line order and cut points are deterministic, so rewriting the same
 * records produces byte-identical objects under the same keys: a rerun after a crash
 * overwrites nothing with different content and duplicates nothing. When the source grew
 * (late records) the tail is rewritten with them; keys past the new last part (left by an
 * earlier, longer write) are removed once the new manifest is in place.
 *
 * Sealed objects (their day index was deleted after verification) are never rewritten:
 * records that arrive for that day later are written as further parts, minus any record
 * whose id a sealed object already holds (a resend). A damaged sealed object cannot be
 * rebuilt from the store and fails the partition (`ArchiveIntegrityError`).
 */
import { createHash } from 'node:crypto';
import type { OpenSearch } from '../store/opensearch.ts';
import { partitionFilters, type ArchiveSelection, type PlannedPartition } from './archive-selection.ts';
import { buildManifest, parseManifest, type Manifest } from './manifest.ts';
import { NdjsonParts, type FinishedPart } from './ndjson-parts.ts';
import {
  manifestKey,
  parseKey,
  partitionDirectory,
  partKey,
  type Compression,
  type PartitionId,
} from './object-keys.ts';
import { partitionIndex, streamPartition } from './partition-source.ts';
import { S3Failure, type ArchiveBucket, type PutOptions } from './s3-bucket.ts';
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
  partition: PartitionId;
  target: ArchiveTarget;
  jobId: string | null;
  policyId: string | null;
  signal?: AbortSignal | undefined;
  /** Called after each object is stored (progress within the partition). */
  onObject?: ((part: Omit<FinishedPart, 'body'> & { key: string }) => void) | undefined;
  now?: (() => Date) | undefined;
}

export interface ArchivedPartition {
  manifest: Manifest;
  /** true when the existing manifest verified and was kept. */
  skipped: boolean;
}

export class ArchiveIntegrityError extends Error {
  override readonly name = 'ArchiveIntegrityError';
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
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

export function putOptions(target: ArchiveTarget, contentType: string, metadata?: Record<string, string>): PutOptions {
  return {
    contentType,
    storageClass: target.storageClass,
    ...(target.serverSideEncryption && target.serverSideEncryption !== 'none'
      ? { serverSideEncryption: target.serverSideEncryption }
      : {}),
    ...(target.kmsKeyId ? { kmsKeyId: target.kmsKeyId } : {}),
    ...(metadata ? { metadata } : {}),
  };
}

export async function writeManifest(target: ArchiveTarget, partition: PartitionId, manifest: Manifest): Promise<void> {
  await target.bucket.put(
    manifestKey(target.prefix, partition),
    Buffer.from(JSON.stringify(manifest, null, 2) + '\n'),
    putOptions(target, 'application/json'),
  );
}

/** Archives (or confirms) one partition; undefined when the partition has no record at all. */
export async function archivePartition(input: ArchivePartitionInput): Promise<ArchivedPartition | undefined> {
  const { client, target, partition } = input;
  const index = partitionIndex(input.indexPrefix, partition);
  const filters = partitionFilters(input.selection, partition);

  const existing = await readManifest(target.bucket, manifestKey(target.prefix, partition));
  const raws: Buffer[] = [];
  let sealedParts = 0;
  if (existing) {
    const check = await verifyPartition({
      client,
      bucket: target.bucket,
      index,
      filters,
      manifest: existing,
      onContent: (_part, raw) => void raws.push(raw),
    });
    if (check.ok) return { manifest: existing, skipped: true };
    if (check.sealed) {
      throw new ArchiveIntegrityError(
        check.reason,
        `sealed object ${check.key} of ${manifestKey(target.prefix, partition)} is damaged (${check.reason}); its records are no longer in the store`,
      );
    }
    sealedParts = existing.sealed_parts;
    if (
      check.reason === 'source_has_unarchived_records' ||
      check.reason === 'source_has_fewer_records' ||
      check.reason === 'source_content_differs'
    ) {
      // Every object read back intact: rewrite the tail only if the store still holds each of
      // its records (then the source is the whole truth); otherwise the store lost some of
      // them (the day was deleted, by us after verification or by an operator) and the
      // archive keeps what it has: the tail is sealed and only new records are appended.
      const tailIds = idsOf(raws.slice(existing.sealed_parts));
      if (!(await sourceHoldsAll(client, index, filters, tailIds, input.signal))) sealedParts = existing.objects.length;
    } else if (!(await indexExists(client, index))) {
      throw new ArchiveIntegrityError(
        check.reason,
        `object ${check.key ?? ''} of ${manifestKey(target.prefix, partition)} is damaged (${check.reason}) and its day index is gone`,
      );
    }
  }
  const sealedObjects = existing ? existing.objects.slice(0, sealedParts) : [];
  const content = createHash('sha256');
  for (const raw of raws.slice(0, sealedParts)) content.update(raw);
  const sealedIds = idsOf(raws.slice(0, sealedParts));

  const parts: Array<Omit<FinishedPart, 'body'> & { key: string }> = [];
  const writer = new NdjsonParts({
    compression: target.compression,
    targetObjectBytes: target.targetObjectBytes,
    firstPart: sealedParts,
    contentHash: content,
    onPart: async (p) => {
      input.signal?.throwIfAborted();
      const key = partKey(target.prefix, partition, p.part, target.compression);
      await target.bucket.put(
        key,
        p.body,
        putOptions(target, CONTENT_TYPE, {
          records: String(p.records),
          'content-sha256': p.contentSha256,
          ...(input.jobId ? { 'job-id': input.jobId } : {}),
        }),
      );
      const { body: _body, ...facts } = p;
      parts.push({ ...facts, key });
      input.onObject?.({ ...facts, key });
    },
  });
  for await (const page of streamPartition(client, index, filters, input.signal ? { signal: input.signal } : {})) {
    for (const r of page) if (!sealedIds.has(r.id)) await writer.push(r.line, r.timestamp);
  }
  const totals = await writer.end();
  if (sealedParts === 0 && totals.records === 0) return undefined;

  const manifest = buildManifest({
    partition,
    compression: target.compression,
    parts: [
      ...sealedObjects.map((o) => ({
        key: o.key,
        part: o.part,
        records: o.records,
        firstTimestamp: o.first_timestamp,
        lastTimestamp: o.last_timestamp,
        rawBytes: o.raw_bytes,
        objectBytes: o.stored_bytes,
        contentSha256: o.content_sha256,
        objectSha256: o.object_sha256,
      })),
      ...parts,
    ],
    contentSha256: totals.contentSha256,
    sealedParts,
    jobId: input.jobId,
    policyId: input.policyId,
    storageClass: target.storageClass,
    writtenAt: (input.now?.() ?? new Date()).toISOString(),
  });
  input.signal?.throwIfAborted();
  await writeManifest(target, partition, manifest);
  await removeStaleParts(target, partition, manifest);
  return { manifest, skipped: false };
}

function idsOf(raws: readonly Buffer[]): Set<string> {
  const ids = new Set<string>();
  for (const raw of raws)
    for (const line of raw.toString('utf8').split('\n')) if (line) ids.add((JSON.parse(line) as { id: string }).id);
  return ids;
}

async function indexExists(client: OpenSearch, index: string): Promise<boolean> {
  return (await client.indices.exists({ index })).body;
}

/** Whether the source still holds every id in `ids` (streams the partition once). */
async function sourceHoldsAll(
  client: OpenSearch,
  index: string,
  filters: Array<Record<string, unknown>>,
  ids: ReadonlySet<string>,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  if (ids.size === 0) return true;
  let found = 0;
  for await (const page of streamPartition(client, index, filters, signal ? { signal } : {}))
    for (const r of page) if (ids.has(r.id)) found++;
  return found === ids.size;
}

/** Deletes part objects of the partition that the manifest does not list (left by a longer, earlier write). */
async function removeStaleParts(target: ArchiveTarget, partition: PartitionId, manifest: Manifest): Promise<void> {
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

export type { PlannedPartition };
