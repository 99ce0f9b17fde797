/**
 * The archive catalog: one document per archived object in the system index
 * `.<prefix>-archive-objects`, written from each partition's manifest once it is in S3.
 * The `/s3/*` endpoints read it (listing, filters, statistics) instead of listing buckets,
 * so they are exact, paged, and cheap; S3 stays the source of truth (a lost catalog is
 * rebuilt from the manifests by `rebuildFromBucket`).
 *
 * Document id = sha256(bucket + key), so re-recording a partition overwrites its documents;
 * documents of parts the new manifest no longer lists are deleted. Concurrency-safe (no state).
 */
import { Type, type Static } from 'typebox';
import { createHash } from 'node:crypto';
import type { OpenSearch } from '../store/opensearch.ts';
import { storeErrorType } from '../store/opensearch.ts';
import type { Manifest } from './manifest.ts';
import { manifestKey, parseKey } from './object-keys.ts';
import type { ArchiveBucket } from './s3-bucket.ts';
import { readManifest } from './archive-partition.ts';

const Nanos = Type.String({ description: 'RFC 3339 with nanoseconds, the record\'s own timestamp.' });

/** One catalog document per archived data object (the `/s3/metadata` item). */
export const CatalogObjectSchema = Type.Object({
  bucket: Type.String(),
  prefix: Type.String(),
  key: Type.String(),
  manifest_key: Type.String(),
  cluster: Type.String(),
  namespace: Type.String(),
  day: Type.String({ description: '`YYYY-MM-DD` (UTC), the partition\'s event-time day.' }),
  part: Type.Integer({ minimum: 0 }),
  first_timestamp: Nanos,
  last_timestamp: Nanos,
  records: Type.Integer({ minimum: 0 }),
  stored_bytes: Type.Integer({ minimum: 0, description: 'Compressed, as stored in S3.' }),
  raw_bytes: Type.Integer({ minimum: 0, description: 'Uncompressed NDJSON.' }),
  compression: Type.String(),
  storage_class: Type.String(),
  sealed: Type.Boolean({ description: 'False for the open tail of a partition, which a later run may rewrite.' }),
  job_id: Type.Union([Type.String(), Type.Null()]),
  policy_id: Type.Union([Type.String(), Type.Null()]),
  written_at: Type.String({ format: 'date-time' }),
});
export type CatalogObject = Static<typeof CatalogObjectSchema>;

export const CATALOG_MAPPING = {
  dynamic: 'strict',
  properties: {
    bucket: { type: 'keyword' },
    prefix: { type: 'keyword' },
    key: { type: 'keyword' },
    manifest_key: { type: 'keyword' },
    cluster: { type: 'keyword' },
    namespace: { type: 'keyword' },
    day: { type: 'keyword' },
    part: { type: 'integer' },
    first_timestamp: { type: 'date_nanos' },
    last_timestamp: { type: 'date_nanos' },
    records: { type: 'long' },
    stored_bytes: { type: 'long' },
    raw_bytes: { type: 'long' },
    compression: { type: 'keyword' },
    storage_class: { type: 'keyword' },
    sealed: { type: 'boolean' },
    job_id: { type: 'keyword' },
    policy_id: { type: 'keyword' },
    written_at: { type: 'date' },
  },
} as const;

export function catalogObjects(bucket: string, prefix: string, m: Manifest): CatalogObject[] {
  const mKey = manifestKey(prefix, m);
  return m.objects.map((o, i) => ({
    bucket,
    prefix,
    key: o.key,
    manifest_key: mKey,
    cluster: m.cluster,
    namespace: m.namespace,
    day: m.day,
    part: o.part,
    first_timestamp: o.first_timestamp,
    last_timestamp: o.last_timestamp,
    records: o.records,
    stored_bytes: o.stored_bytes,
    raw_bytes: o.raw_bytes,
    compression: m.compression,
    storage_class: m.storage_class,
    sealed: i < m.sealed_parts,
    job_id: m.job_id,
    policy_id: m.policy_id,
    written_at: m.written_at,
  }));
}

export function catalogDocId(bucket: string, key: string): string {
  return createHash('sha256').update(`${bucket}\n${key}`).digest('hex');
}

export class ArchiveCatalog {
  readonly #client: OpenSearch;
  readonly index: string;
  #ready: Promise<void> | undefined;

  constructor(client: OpenSearch, indexPrefix: string) {
    this.#client = client;
    this.index = `.${indexPrefix}-archive-objects`;
  }

  /** Creates the index when missing; idempotent, concurrent callers share one attempt. */
  ensure(): Promise<void> {
    this.#ready ??= (async () => {
      try {
        await this.#client.indices.create({
          index: this.index,
          body: {
            settings: { number_of_shards: 1, auto_expand_replicas: '0-1', hidden: true },
            mappings: CATALOG_MAPPING,
          },
        });
      } catch (err) {
        if (storeErrorType(err) !== 'resource_already_exists_exception') throw err;
      }
    })().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  /** Records every object of a partition's manifest and drops documents of parts it no longer lists. */
  async recordPartition(bucket: string, prefix: string, manifest: Manifest): Promise<void> {
    await this.ensure();
    const objects = catalogObjects(bucket, prefix, manifest);
    const body: string[] = [];
    for (const o of objects)
      body.push(JSON.stringify({ index: { _index: this.index, _id: catalogDocId(bucket, o.key) } }), JSON.stringify(o));
    if (body.length > 0) {
      const res = await this.#client.bulk({ body: body.join('\n') + '\n', refresh: 'wait_for' } as never);
      if ((res.body as { errors?: boolean }).errors) throw new Error('archive catalog: bulk write had item errors');
    }
    await this.#client.deleteByQuery({
      index: this.index,
      refresh: true,
      conflicts: 'proceed',
      body: {
        query: {
          bool: {
            filter: [{ term: { bucket } }, { term: { manifest_key: manifestKey(prefix, manifest) } }],
            must_not: [{ terms: { key: objects.map((o) => o.key) } }],
          },
        },
      },
    });
  }

  /** Forgets a partition (its objects were deleted from S3). */
  async forgetPartition(bucket: string, mKey: string): Promise<void> {
    await this.ensure();
    await this.#client.deleteByQuery({
      index: this.index,
      refresh: true,
      conflicts: 'proceed',
      body: { query: { bool: { filter: [{ term: { bucket } }, { term: { manifest_key: mKey } }] } } },
    });
  }

  /** Re-reads every manifest under `prefix` and records it (the catalog is derived data). */
  async rebuildFromBucket(bucket: ArchiveBucket, prefix: string): Promise<number> {
    let token: string | undefined;
    let partitions = 0;
    do {
      const page = await bucket.list(`${prefix}/`, token);
      for (const o of page.objects) {
        if (parseKey(prefix, o.key)?.kind !== 'manifest') continue;
        const m = await readManifest(bucket, o.key);
        if (m) {
          await this.recordPartition(bucket.bucket, prefix, m);
          partitions++;
        }
      }
      token = page.next;
    } while (token);
    return partitions;
  }
}
