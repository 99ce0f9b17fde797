/**
 * The per-partition manifest, written after every object of the partition (so its presence
 * means "complete"). Verification and the `/s3/*` endpoints read it; it is also the
 * documented, product-independent description of a partition. Pure.
 */
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { FinishedPart } from './ndjson-parts.ts';
import type { Compression, PartitionId } from './object-keys.ts';

export const MANIFEST_FORMAT = 'k8s-logs-archive/v1';

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });

export const ManifestObjectSchema = Type.Object(
  {
    key: Type.String(),
    part: Type.Integer({ minimum: 0 }),
    records: Type.Integer({ minimum: 1 }),
    first_timestamp: Type.String(),
    last_timestamp: Type.String(),
    raw_bytes: Type.Integer({ minimum: 0 }),
    stored_bytes: Type.Integer({ minimum: 0 }),
    /** sha256 of the uncompressed NDJSON of this object. */
    content_sha256: Sha256,
    /** sha256 of the stored (compressed) bytes. */
    object_sha256: Sha256,
  },
  { additionalProperties: false },
);

export const ManifestSchema = Type.Object(
  {
    format: Type.Literal(MANIFEST_FORMAT),
    cluster: Type.String(),
    day: Type.String(),
    namespace: Type.String(),
    compression: Type.Union([Type.Literal('gzip'), Type.Literal('zstd')]),
    records: Type.Integer({ minimum: 0 }),
    first_timestamp: Type.Union([Type.String(), Type.Null()]),
    last_timestamp: Type.Union([Type.String(), Type.Null()]),
    raw_bytes: Type.Integer({ minimum: 0 }),
    stored_bytes: Type.Integer({ minimum: 0 }),
    /** sha256 over the uncompressed NDJSON of every object, in part order. */
    content_sha256: Sha256,
    objects: Type.Array(ManifestObjectSchema),
    /**
     * Leading objects whose records are no longer in the store (their day index was deleted
     * after verification). They are never rewritten; records arriving later for the same
     * partition (late records) go into further parts after them.
     */
    sealed_parts: Type.Integer({ minimum: 0 }),
    /** Who wrote it: job and policy ids, when known. */
    job_id: Type.Union([Type.String(), Type.Null()]),
    policy_id: Type.Union([Type.String(), Type.Null()]),
    storage_class: Type.String(),
    written_at: Type.String(),
  },
  { additionalProperties: false },
);
export type Manifest = Static<typeof ManifestSchema>;
export type ManifestObject = Static<typeof ManifestObjectSchema>;

const checkManifest = Compile(ManifestSchema);

export interface ManifestInput {
  partition: PartitionId;
  compression: Compression;
  parts: ReadonlyArray<Omit<FinishedPart, 'body'> & { key: string }>;
  contentSha256: string;
  sealedParts: number;
  jobId: string | null;
  policyId: string | null;
  storageClass: string;
  writtenAt: string;
}

export function buildManifest(input: ManifestInput): Manifest {
  const parts = [...input.parts].sort((a, b) => a.part - b.part);
  return {
    format: MANIFEST_FORMAT,
    cluster: input.partition.cluster,
    day: input.partition.day,
    namespace: input.partition.namespace,
    compression: input.compression,
    records: parts.reduce((n, p) => n + p.records, 0),
    first_timestamp: parts[0]?.firstTimestamp ?? null,
    last_timestamp: parts.at(-1)?.lastTimestamp ?? null,
    raw_bytes: parts.reduce((n, p) => n + p.rawBytes, 0),
    stored_bytes: parts.reduce((n, p) => n + p.objectBytes, 0),
    content_sha256: input.contentSha256,
    objects: parts.map((p) => ({
      key: p.key,
      part: p.part,
      records: p.records,
      first_timestamp: p.firstTimestamp,
      last_timestamp: p.lastTimestamp,
      raw_bytes: p.rawBytes,
      stored_bytes: p.objectBytes,
      content_sha256: p.contentSha256,
      object_sha256: p.objectSha256,
    })),
    sealed_parts: input.sealedParts,
    job_id: input.jobId,
    policy_id: input.policyId,
    storage_class: input.storageClass,
    written_at: input.writtenAt,
  };
}

/** Parses and validates a stored manifest; undefined when it is not one of ours (treated as absent). */
export function parseManifest(text: string): Manifest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return checkManifest.Check(value) ? (value as Manifest) : undefined;
}
