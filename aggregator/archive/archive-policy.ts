/**
 * Archive policy: which logs, when, where, how, and what after (issue 12). The TypeBox
 * schema is the API contract (POST/PUT body) and the stored shape; `policyProblems` adds the
 * checks a schema cannot state, and `checkPolicyReach` the ones that need S3 and the store
 * (unknown bucket, unreachable S3, a policy that would archive nothing). Each problem is a
 * `{ field, reason }` so a 400 says exactly what to fix.
 */
import { randomUUID } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { Levels, type Level } from '../../shared/record.ts';
import { CLUSTER_ID_PATTERN } from '../store/log-indices.ts';
import type { OpenSearch } from '../store/opensearch.ts';
import { logIndexPattern } from '../store/log-indices.ts';
import { isValidPrefix, type Compression } from './object-keys.ts';
import { selectionFilters, type ArchiveSelection } from './archive-selection.ts';
import { S3Failure, type ArchiveBucket } from './s3-bucket.ts';

export const STORAGE_CLASSES = [
  'STANDARD',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'GLACIER',
  'DEEP_ARCHIVE',
] as const;
export const SSE_MODES = ['none', 'AES256', 'aws:kms'] as const;
const MiB = 1024 * 1024;
export const DEFAULT_TARGET_OBJECT_BYTES = 64 * MiB;
export const MAX_TARGET_OBJECT_BYTES = 512 * MiB;

const Name = Type.String({ minLength: 1, maxLength: 253 });

export const ArchivePolicyInputSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Human name; unique per installation is advised, not enforced.',
    }),
    enabled: Type.Boolean({
      default: true,
      description: 'Scheduled runs happen only when enabled; `/archive/start` works either way.',
    }),
    selection: Type.Object(
      {
        clusters: Type.Array(Type.String({ pattern: CLUSTER_ID_PATTERN }), {
          maxItems: 100,
          default: [],
          description: 'Clusters; empty = all.',
        }),
        namespaces: Type.Array(Name, { maxItems: 500, default: [], description: 'Namespaces; empty = all.' }),
        levels: Type.Array(Type.Enum(Levels), {
          maxItems: Levels.length,
          default: [],
          description: 'Levels; empty = all.',
        }),
        labels: Type.Record(
          Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9_./-]+$' }),
          Type.String({ maxLength: 253 }),
          {
            default: {},
            description: 'Pod labels that must all match exactly.',
          },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    schedule: Type.Object(
      {
        age_days: Type.Integer({
          minimum: 1,
          maximum: 3650,
          description: 'A UTC day is archived once its end is this many days ago.',
        }),
        interval_minutes: Type.Integer({
          minimum: 5,
          maximum: 10080,
          default: 1440,
          description: 'How often the policy runs by itself; default daily.',
        }),
      },
      { additionalProperties: false },
    ),
    destination: Type.Object(
      {
        bucket: Type.String({ minLength: 3, maxLength: 63, pattern: '^[a-z0-9][a-z0-9.-]*[a-z0-9]$' }),
        prefix: Type.String({
          minLength: 1,
          maxLength: 512,
          default: 'k8s-logs',
          description: 'Key prefix, no leading or trailing slash.',
        }),
        storage_class: Type.Enum(STORAGE_CLASSES, { default: 'STANDARD' }),
        server_side_encryption: Type.Enum(SSE_MODES, { default: 'none' }),
        kms_key_id: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Only with `aws:kms`.' })),
      },
      { additionalProperties: false },
    ),
    format: Type.Object(
      {
        compression: Type.Union([Type.Literal('gzip'), Type.Literal('zstd')], { default: 'gzip' }),
        target_object_bytes: Type.Integer({
          minimum: 64 * 1024,
          maximum: MAX_TARGET_OBJECT_BYTES,
          default: DEFAULT_TARGET_OBJECT_BYTES,
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    after: Type.Object(
      {
        delete_from_store: Type.Boolean({
          default: false,
          description: 'Delete a day index once every partition of it is archived and verified.',
        }),
        s3_retention_days: Type.Union([Type.Integer({ minimum: 1, maximum: 36500 }), Type.Null()], {
          default: null,
          description:
            'Delete archived partitions whose day ended this many days ago (applied by the job); null = keep forever.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type ArchivePolicyInput = Static<typeof ArchivePolicyInputSchema>;

/** The stored and returned policy: the input plus its id and times. */
export const ArchivePolicySchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200 }),
    ...ArchivePolicyInputSchema.properties,
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
);
export type ArchivePolicy = Static<typeof ArchivePolicySchema>;

export interface PolicyProblem {
  field: string;
  reason: string;
}

/** Checks beyond the schema. Pure. */
export function policyProblems(p: ArchivePolicyInput, opts: { retentionDays: number }): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  if (!isValidPrefix(p.destination.prefix))
    out.push({
      field: 'destination.prefix',
      reason: 'segments of [A-Za-z0-9._-] separated by single slashes, no leading or trailing slash, no . or ..',
    });
  if (p.destination.kms_key_id !== undefined && p.destination.server_side_encryption !== 'aws:kms') {
    out.push({ field: 'destination.kms_key_id', reason: 'only with server_side_encryption "aws:kms"' });
  }
  if (p.destination.bucket.includes('..')) out.push({ field: 'destination.bucket', reason: 'not a valid bucket name' });
  // Retention deletes a day at `retentionDays` unless a policy still has to archive it; a
  // policy archiving later than retention would hold every day past it. Refused rather than
  // silently keeping data longer than configured.
  if (p.schedule.age_days >= opts.retentionDays) {
    out.push({
      field: 'schedule.age_days',
      reason: `must be less than the store's retention of ${opts.retentionDays} days (retention would delete a day before it is archived)`,
    });
  }
  if (p.after.s3_retention_days !== null && p.after.s3_retention_days <= p.schedule.age_days) {
    out.push({
      field: 'after.s3_retention_days',
      reason: 'must exceed schedule.age_days: objects would be deleted as soon as they are written',
    });
  }
  for (const [field, list] of [
    ['selection.clusters', p.selection.clusters],
    ['selection.namespaces', p.selection.namespaces],
    ['selection.levels', p.selection.levels],
  ] as const) {
    if (new Set<string>(list).size !== list.length) out.push({ field, reason: 'duplicate entries' });
  }
  return out;
}

export function selectionOf(p: ArchivePolicyInput): ArchiveSelection {
  return {
    clusters: p.selection.clusters,
    namespaces: p.selection.namespaces,
    levels: p.selection.levels as Level[],
    labels: p.selection.labels,
    ageDays: p.schedule.age_days,
  };
}

export function compressionOf(p: ArchivePolicyInput): Compression {
  return p.format.compression;
}

/**
 * The checks that need S3 and the store. A problem of the caller's making (unknown bucket,
 * access denied, nothing selected) or an S3 the aggregator cannot reach is a problem for
 * the 400; a failing store is thrown (never the caller's fault).
 */
/**
 * Whether the server applies the policy's server-side encryption: a small object is written
 * with it, read back with HEAD, and deleted. Some S3-compatible servers accept the
 * `x-amz-server-side-encryption` header and store the object unencrypted (versitygw on a
 * plain directory does); a policy asking for encryption there would be a silent lie, so it
 * is refused, saying why.
 */
async function checkServerSideEncryption(
  bucket: ArchiveBucket,
  d: ArchivePolicyInput['destination'],
): Promise<PolicyProblem | undefined> {
  if (d.server_side_encryption === 'none') return undefined;
  const key = `${d.prefix ? `${d.prefix}/` : ''}_sse-check-${randomUUID()}`;
  const field = 'destination.server_side_encryption';
  try {
    await bucket.put(key, Buffer.from('k8s-logs server-side encryption check\n'), {
      contentType: 'text/plain',
      serverSideEncryption: d.server_side_encryption,
      ...(d.kms_key_id ? { kmsKeyId: d.kms_key_id } : {}),
    });
  } catch (err) {
    if (err instanceof S3Failure && err.kind === 'unreachable') throw err;
    return { field, reason: `writing an object with ${d.server_side_encryption} failed: ${(err as Error).message}` };
  }
  try {
    const head = await bucket.head(key);
    if (head?.serverSideEncryption !== d.server_side_encryption)
      return {
        field,
        reason:
          `the S3 server does not apply ${d.server_side_encryption}: an object written with it came back ` +
          `${head?.serverSideEncryption ? `as ${head.serverSideEncryption}` : 'unencrypted'}, so archives would be stored unencrypted`,
      };
    return undefined;
  } finally {
    await bucket.delete([key]);
  }
}

export async function checkPolicyReach(
  p: ArchivePolicyInput,
  deps: { bucket: (name: string) => ArchiveBucket; client: OpenSearch; indexPrefix: string },
): Promise<PolicyProblem[]> {
  const out: PolicyProblem[] = [];
  const bucket = deps.bucket(p.destination.bucket);
  try {
    await bucket.check();
    const sse = await checkServerSideEncryption(bucket, p.destination);
    if (sse) out.push(sse);
  } catch (err) {
    const kind = err instanceof S3Failure ? err.kind : 'failed';
    const reason =
      kind === 'no_such_bucket'
        ? `unknown bucket "${p.destination.bucket}": it does not exist on the configured S3 endpoint`
        : kind === 'unreachable'
          ? 'S3 is unreachable from the aggregator (endpoint down or not answering)'
          : kind === 'access_denied'
            ? `access to bucket "${p.destination.bucket}" is denied to the aggregator's credentials`
            : `bucket "${p.destination.bucket}" cannot be used (${(err as Error).message})`;
    out.push({ field: 'destination.bucket', reason });
  }
  // "Would archive nothing": no record in the store matches the selection at all (any age).
  // A selection naming a cluster or namespace that never logged, or filters that exclude
  // each other, can never produce an object.
  const res = await deps.client.count({
    index: logIndexPattern(deps.indexPrefix, p.selection.clusters),
    ignore_unavailable: true,
    allow_no_indices: true,
    body: { query: { bool: { filter: selectionFilters(selectionOf(p)) } } },
  });
  if ((res.body as { count: number }).count === 0) {
    out.push({
      field: 'selection',
      reason:
        'the policy would archive nothing: no record in the store matches its clusters, namespaces, levels and labels',
    });
  }
  return out;
}
