/**
 * `/storage/info`: the store and the archive as configured and as they answer now. Never
 * returns a secret: credentials are reported only as "configured" or not.
 */
import type { OpenSearch } from '../store/opensearch.ts';
import type { AggregatorConfig } from '../config.ts';
import type { ArchivePolicy } from './archive-policy.ts';
import { S3Failure, type ArchiveBucket } from './s3-bucket.ts';
import { Type, type Static } from 'typebox';
import { Nullable } from '../../shared/schemas/nullable.ts';


const BucketState = Type.Union([
  Type.Object({
    bucket: Type.String(),
    reachable: Type.Literal(true),
    versioning: Nullable(Type.String({ description: '`Enabled`, `Suspended`, `Disabled`; null when the server does not say.' })),
    object_lock: Nullable(Type.Boolean({ description: 'Null when the server does not say.' })),
  }),
  Type.Object({
    bucket: Type.String(),
    reachable: Type.Literal(false),
    problem: Type.String({ description: 'The failure kind: `no_such_bucket`, `access_denied`, `unreachable`, … or `failed`.' }),
  }),
]);

export const StorageInfoSchema = Type.Object({
  store: Type.Object({
    engine: Type.String(),
    version: Nullable(Type.String()),
    health: Nullable(Type.String({ description: 'OpenSearch cluster health: green, yellow, red.' })),
    index_prefix: Type.String(),
    indices: Type.Integer({ minimum: 0, description: 'Log day indices.' }),
    documents: Type.Integer({ minimum: 0 }),
    size_bytes: Type.Integer({ minimum: 0 }),
    retention_days: Type.Integer({ minimum: 0 }),
  }),
  archive: Type.Object({
    endpoint: Nullable(Type.String({ description: 'Null: the AWS default endpoint of the region.' })),
    region: Type.String(),
    path_style: Type.Boolean(),
    credentials: Type.Union([Type.Literal('configured'), Type.Literal('default chain')], {
      description: 'Never the credentials themselves.',
    }),
    buckets: Type.Array(BucketState, { description: 'Every bucket a policy writes to, as it answers now.' }),
    policies: Type.Array(
      Type.Object({
        id: Type.String(),
        name: Type.String(),
        enabled: Type.Boolean(),
        bucket: Type.String(),
        prefix: Type.String(),
        storage_class: Type.String(),
        compression: Type.String(),
      }),
    ),
  }),
});
export type StorageInfo = Static<typeof StorageInfoSchema>;

export async function storageInfo(input: {
  client: OpenSearch;
  indexPrefix: string;
  retentionDays: number;
  s3: AggregatorConfig['archive'];
  buckets: ArchiveBucket[];
  /** The policies: each is reported with where it writes (bucket, prefix, storage class, compression). */
  policies: readonly ArchivePolicy[];
}): Promise<StorageInfo> {
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
        return {
          bucket: b.bucket,
          reachable: true as const,
          versioning: p.versioning ?? null,
          object_lock: p.objectLock ?? null,
        };
      } catch (err) {
        return { bucket: b.bucket, reachable: false as const, problem: err instanceof S3Failure ? err.kind : 'failed' };
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
      credentials: input.s3.s3AccessKeyId ? ('configured' as const) : ('default chain' as const),
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
