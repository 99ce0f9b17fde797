/**
 * Read-back verification of one archived partition, the gate before anything is deleted
 * from the store: every object the manifest lists is read from S3, its stored bytes must
 * hash to the manifest's object checksum, its decompressed content to the content checksum,
 * with the manifest's line count per object; the concatenation must hash to the
 * partition's content checksum; and the source must still hold exactly the manifest's
 * number of records (a late record makes the count differ: not verified, so not deleted,
 * and the next run archives it). With `deepSource`, the source is streamed again and its
 * lines must hash to the same content checksum.
 *
 * Never throws for a mismatch (returns `ok: false` with the reason); throws only when S3 or
 * the store cannot be read, which callers also treat as "not verified".
 */
import { createHash } from 'node:crypto';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import type { OpenSearch } from '../store/opensearch.ts';
import type { Manifest } from './manifest.ts';
import { countPartition, streamPartition } from './partition-source.ts';
import { S3Failure, type ArchiveBucket } from './s3-bucket.ts';

export type VerifyResult = { ok: true } | { ok: false; reason: string; key?: string };

export interface VerifyInput {
  client: OpenSearch;
  bucket: ArchiveBucket;
  index: string;
  filters: Array<Record<string, unknown>>;
  manifest: Manifest;
  deepSource?: boolean;
}

export function decompress(body: Buffer, compression: Manifest['compression']): Buffer {
  return compression === 'gzip' ? gunzipSync(body) : zstdDecompressSync(body);
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

export async function verifyPartition(input: VerifyInput): Promise<VerifyResult> {
  const { manifest, bucket } = input;
  const total = createHash('sha256');
  let records = 0;
  for (const o of manifest.objects) {
    let body: Buffer;
    try {
      body = await bucket.get(o.key);
    } catch (err) {
      if (err instanceof S3Failure && err.kind === 'not_found')
        return { ok: false, reason: 'object_missing', key: o.key };
      throw err;
    }
    if (body.length !== o.stored_bytes || createHash('sha256').update(body).digest('hex') !== o.object_sha256) {
      return { ok: false, reason: 'object_checksum_mismatch', key: o.key };
    }
    let raw: Buffer;
    try {
      raw = decompress(body, manifest.compression);
    } catch {
      return { ok: false, reason: 'object_unreadable', key: o.key };
    }
    if (createHash('sha256').update(raw).digest('hex') !== o.content_sha256)
      return { ok: false, reason: 'content_checksum_mismatch', key: o.key };
    if (countLines(raw) !== o.records) return { ok: false, reason: 'record_count_mismatch', key: o.key };
    total.update(raw);
    records += o.records;
  }
  if (records !== manifest.records) return { ok: false, reason: 'record_count_mismatch' };
  if (total.digest('hex') !== manifest.content_sha256) return { ok: false, reason: 'content_checksum_mismatch' };

  const source = await countPartition(input.client, input.index, input.filters);
  if (source !== manifest.records)
    return {
      ok: false,
      reason: source > manifest.records ? 'source_has_unarchived_records' : 'source_has_fewer_records',
    };
  if (input.deepSource) {
    const h = createHash('sha256');
    for await (const page of streamPartition(input.client, input.index, input.filters))
      for (const r of page) h.update(r.line + '\n');
    if (h.digest('hex') !== manifest.content_sha256) return { ok: false, reason: 'source_content_differs' };
  }
  return { ok: true };
}
