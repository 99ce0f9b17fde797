/**
 * Read-back verification of one archived partition, the gate before anything is deleted
 * from the store: every object the manifest lists is read from S3; its stored bytes must
 * hash to the manifest's object checksum, its decompressed content to the content checksum,
 * with the manifest's line count; the concatenation must hash to the partition's content
 * checksum. Then the source: the store must hold exactly the records of the open (unsealed)
 * objects — a late record makes the count differ, so the partition is not verified, not
 * deleted, and the next run archives it. With `deepSource`, or when sealed objects exist
 * (a resent record of theirs may be back in the store and is not counted), the source is
 * streamed again and its lines must hash to the open objects' content.
 *
 * Never throws for a mismatch (returns `ok: false` with a stable reason); throws only when
 * S3 or the store cannot be read, which callers also treat as "not verified".
 */
import { createHash } from 'node:crypto';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import type { OpenSearch } from '../store/opensearch.ts';
import type { Manifest } from './manifest.ts';
import { countPartition, streamPartition } from './partition-source.ts';
import { S3Failure, type ArchiveBucket } from './s3-bucket.ts';

export type VerifyFailure =
  | 'object_missing'
  | 'object_checksum_mismatch'
  | 'object_unreadable'
  | 'content_checksum_mismatch'
  | 'record_count_mismatch'
  | 'source_has_unarchived_records'
  | 'source_has_fewer_records'
  | 'source_content_differs';

/** `sourceRecords`: records of the partition in the store (resends of sealed records included), when the source was checked. */
export type VerifyResult =
  { ok: true; sourceRecords?: number } | { ok: false; reason: VerifyFailure; key?: string; sealed?: boolean };

export interface VerifyInput {
  client: OpenSearch;
  bucket: ArchiveBucket;
  index: string;
  filters: Array<Record<string, unknown>>;
  manifest: Manifest;
  deepSource?: boolean;
  /** Receives each object's decompressed content (in part order) once it checked out. */
  onContent?: (part: number, raw: Buffer) => void;
}

export function decompress(body: Buffer, compression: Manifest['compression']): Buffer {
  return compression === 'gzip' ? gunzipSync(body) : zstdDecompressSync(body);
}

export function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/** Checks the objects alone (no source): the S3 half of verification, also used by restore. */
export async function verifyObjects(
  bucket: ArchiveBucket,
  manifest: Manifest,
  onContent?: (part: number, raw: Buffer) => void,
): Promise<VerifyResult> {
  const total = createHash('sha256');
  let records = 0;
  for (const [i, o] of manifest.objects.entries()) {
    const sealed = i < manifest.sealed_parts;
    let body: Buffer;
    try {
      body = await bucket.get(o.key);
    } catch (err) {
      if (err instanceof S3Failure && err.kind === 'not_found')
        return { ok: false, reason: 'object_missing', key: o.key, sealed };
      throw err;
    }
    if (body.length !== o.stored_bytes || createHash('sha256').update(body).digest('hex') !== o.object_sha256) {
      return { ok: false, reason: 'object_checksum_mismatch', key: o.key, sealed };
    }
    let raw: Buffer;
    try {
      raw = decompress(body, manifest.compression);
    } catch {
      return { ok: false, reason: 'object_unreadable', key: o.key, sealed };
    }
    if (createHash('sha256').update(raw).digest('hex') !== o.content_sha256)
      return { ok: false, reason: 'content_checksum_mismatch', key: o.key, sealed };
    if (countLines(raw) !== o.records) return { ok: false, reason: 'record_count_mismatch', key: o.key, sealed };
    total.update(raw);
    records += o.records;
    onContent?.(o.part, raw);
  }
  if (records !== manifest.records) return { ok: false, reason: 'record_count_mismatch' };
  if (total.digest('hex') !== manifest.content_sha256) return { ok: false, reason: 'content_checksum_mismatch' };
  return { ok: true };
}

/** Records of the objects whose source is still in the store. */
export function openRecords(manifest: Manifest): number {
  return manifest.objects.slice(manifest.sealed_parts).reduce((n, o) => n + o.records, 0);
}

export async function verifyPartition(input: VerifyInput): Promise<VerifyResult> {
  const { manifest } = input;
  const open = createHash('sha256');
  const sealedIds = new Set<string>();
  const objects = await verifyObjects(input.bucket, manifest, (part, raw) => {
    if (part >= manifest.sealed_parts) open.update(raw);
    else
      for (const line of raw.toString('utf8').split('\n'))
        if (line) sealedIds.add((JSON.parse(line) as { id: string }).id);
    input.onContent?.(part, raw);
  });
  if (!objects.ok) return objects;
  const expected = openRecords(manifest);
  if (manifest.sealed_parts === 0 && !input.deepSource) {
    const source = await countPartition(input.client, input.index, input.filters);
    if (source !== expected)
      return { ok: false, reason: source > expected ? 'source_has_unarchived_records' : 'source_has_fewer_records' };
    return { ok: true, sourceRecords: source };
  }
  // Stream the source: a record whose id a sealed object holds is a resend of an archived
  // record (ids are deterministic), already kept; every other one must be in the open objects.
  const h = createHash('sha256');
  let source = 0;
  let resent = 0;
  for await (const page of streamPartition(input.client, input.index, input.filters)) {
    for (const r of page) {
      if (sealedIds.has(r.id)) {
        resent++;
        continue;
      }
      h.update(r.line + '\n');
      source++;
    }
  }
  if (source !== expected)
    return { ok: false, reason: source > expected ? 'source_has_unarchived_records' : 'source_has_fewer_records' };
  if (h.digest('hex') !== open.digest('hex')) return { ok: false, reason: 'source_content_differs' };
  return { ok: true, sourceRecords: source + resent };
}
