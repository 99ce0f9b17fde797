/**
 * `/storage/info`: the store and the archive as configured and as they answer now. Never
 * returns a secret: credentials are reported only as "configured" or not.
 */
import type { OpenSearch } from '../store/opensearch.ts';
import type { AggregatorConfig } from '../config.ts';
import type { ArchivePolicy } from './archive-policy.ts';
import { S3Failure, type ArchiveBucket } from './s3-bucket.ts';

export async function storageInfo(input: {
  client: OpenSearch;
  indexPrefix: string;
  retentionDays: number;
  s3: AggregatorConfig['archive'];
  buckets: ArchiveBucket[];
  /** The policies: each is reported with where it writes (bucket, prefix, storage class, compression). */
  policies: readonly ArchivePolicy[];
}): Promise<Record<string, unknown>> {
  const { client, indexPrefix } = input;
  const [info, health, indices] = await Promise.all([
    client.info().then((r) => r.body as { version?: { number?: string; distribution?: string } }),
    client.cluster.health().then((r) => r.body as { status?: string }),
    client.cat
      .indices({ index: `${indexPrefix}-*`, format: 'json', bytes: 'b', h: 'index,docs.count,store.size' } as never)
      .then((r) => r.body as unknown as Array<Record<string, string>>),
  ]);
  const buckets = await Promise.all(
    input.buckets.map(async (b) => {
      try {
        await b.check();
        const p = await b.protection();
        // undefined: the server does not say (not every S3-compatible server implements it).
        return { bucket: b.bucket, reachable: true, versioning: p.versioning ?? null, object_lock: p.objectLock ?? null };
      } catch (err) {
        return { bucket: b.bucket, reachable: false, problem: err instanceof S3Failure ? err.kind : 'failed' };
      }
    }),
  );
  return {
    store: {
      engine: info.version?.distribution ?? 'opensearch',
      version: info.version?.number ?? null,
      health: health.status ?? null,
      index_prefix: indexPrefix,
      indices: indices.length,
      documents: indices.reduce((n, i) => n + Number(i['docs.count'] ?? 0), 0),
      size_bytes: indices.reduce((n, i) => n + Number(i['store.size'] ?? 0), 0),
      retention_days: input.retentionDays,
    },
    archive: {
      endpoint: input.s3.s3Endpoint ?? null,
      region: input.s3.s3Region,
      path_style: input.s3.s3ForcePathStyle,
      credentials: input.s3.s3AccessKeyId ? 'configured' : 'default chain',
      buckets,
      policies: input.policies.map((p) => ({
        id: p.id,
        name: p.name,
        enabled: p.enabled,
        bucket: p.destination.bucket,
        prefix: p.destination.prefix,
        storage_class: p.destination.storage_class,
        compression: p.format.compression,
      })),
    },
  };
}
