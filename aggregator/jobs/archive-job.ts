/**
 * The archive job (issue 12): runs one archive policy once. Written against the job
 * runner's handler contract — `{ type, paramsSchema, run(ctx: { id, params, progress,
 * signal, checkpoint }) }` — so the runner claims, leases, resumes and cancels it.
 *
 * Steps, each idempotent (a step after the last checkpoint may run twice):
 *  1. plan: partitions (cluster × day × namespace) of every archivable day, from the store's
 *     aggregation;
 *  2. archive each partition (archive/archive-partition.ts), record its objects in the
 *     catalog, checkpoint. A resumed job skips partitions its progress lists; any partition
 *     it redoes is confirmed from its manifest or rewritten byte-identically;
 *  3. when the policy deletes after archiving: each day index whose partitions all succeeded
 *     goes through delete-after-verify (archive/delete-archived-day.ts);
 *  4. when the policy expires archives: partitions whose day ended `s3_retention_days` ago
 *     are deleted from S3 (objects, then the manifest) and from the catalog.
 *
 * S3 or the store failing ends the job (`failed`, with the reason); nothing is deleted by a
 * failed step. A damaged sealed object fails only its partition (and so keeps its day).
 */
import { Type, type Static } from 'typebox';
import type { OpenSearch } from '../store/opensearch.ts';
import { logIndexPattern } from '../store/log-indices.ts';
import {
  isDayArchivable,
  isPastArchiveRetention,
  partitionsFromBuckets,
  planAggregation,
  type ArchiveSelection,
  type PlannedPartition,
} from '../archive/archive-selection.ts';
import {
  archivePartition,
  ArchiveIntegrityError,
  readManifest,
  type ArchiveTarget,
} from '../archive/archive-partition.ts';
import { deleteArchivedDay, type DayOutcome } from '../archive/delete-archived-day.ts';
import type { ArchiveCatalog } from '../archive/archive-catalog.ts';
import { manifestKey, parseKey } from '../archive/object-keys.ts';
import { selectionOf, type ArchivePolicy } from '../archive/archive-policy.ts';
import type { ArchiveBucket } from '../archive/s3-bucket.ts';

export const ARCHIVE_JOB_TYPE = 'archive';

export const ArchiveJobParamsSchema = Type.Object(
  {
    policy_id: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);
export type ArchiveJobParams = Static<typeof ArchiveJobParamsSchema>;

/** The runner's context, as much of it as this job uses (structurally the runner's JobContext). */
export interface ArchiveJobContext {
  readonly id: string;
  readonly params: ArchiveJobParams;
  readonly progress: Record<string, unknown> | null;
  readonly signal: AbortSignal;
  checkpoint(progress: Record<string, unknown>): Promise<void>;
}

export interface ArchiveJobDeps {
  client: OpenSearch;
  indexPrefix: string;
  bucket(name: string): ArchiveBucket;
  policy(id: string): Promise<ArchivePolicy | undefined>;
  catalog: ArchiveCatalog;
  now?: () => number;
  /** Called after each partition (tests use it to stop the job at a known point). */
  onPartition?: (key: string) => void | Promise<void>;
}

interface PartitionProgress {
  records: number;
  objects: number;
  skipped: boolean;
}

interface ArchiveProgress {
  planned: number;
  partitions: Record<string, PartitionProgress>;
  failed: Record<string, string>;
  days: Record<string, DayOutcomeSummary>;
  expired: number;
}

type DayOutcomeSummary = { deleted: true; records: number } | { deleted: false; reason: string; detail?: string };

export class ArchiveJobError extends Error {
  override readonly name = 'ArchiveJobError';
}

export function partitionProgressKey(p: Pick<PlannedPartition, 'cluster' | 'day' | 'namespace'>): string {
  return JSON.stringify([p.cluster, p.day, p.namespace]);
}

/** Every archivable partition of the selection, over all pages of the planning aggregation. */
export async function planPartitions(
  client: OpenSearch,
  indexPrefix: string,
  sel: ArchiveSelection,
  nowMs: number,
): Promise<PlannedPartition[]> {
  const out: PlannedPartition[] = [];
  let after: Record<string, unknown> | undefined;
  // Restored days (`…-restored`) are copies of archived data, never archived again.
  const index = `${logIndexPattern(indexPrefix, sel.clusters)},-${indexPrefix}-*-restored`;
  for (;;) {
    const res = await client.search({
      index,
      ignore_unavailable: true,
      allow_no_indices: true,
      body: planAggregation(sel, nowMs, after),
    });
    const agg = (
      res.body.aggregations as
        | { partitions?: { buckets: Parameters<typeof partitionsFromBuckets>[0]; after_key?: Record<string, unknown> } }
        | undefined
    )?.partitions;
    if (!agg || agg.buckets.length === 0) break;
    out.push(...partitionsFromBuckets(agg.buckets).filter((p) => isDayArchivable(p.day, nowMs, sel.ageDays)));
    if (!agg.after_key) break;
    after = agg.after_key;
  }
  return out;
}

export function targetOf(policy: ArchivePolicy, bucket: ArchiveBucket): ArchiveTarget {
  return {
    bucket,
    prefix: policy.destination.prefix,
    compression: policy.format.compression,
    targetObjectBytes: policy.format.target_object_bytes,
    storageClass: policy.destination.storage_class,
    serverSideEncryption:
      policy.destination.server_side_encryption === 'none' ? undefined : policy.destination.server_side_encryption,
    kmsKeyId: policy.destination.kms_key_id,
  };
}

function summarize(o: DayOutcome): DayOutcomeSummary {
  return o.deleted
    ? { deleted: true, records: o.records }
    : { deleted: false, reason: o.reason, ...(o.detail ? { detail: o.detail } : {}) };
}

/** The job tag of a policy's runs: `/archive/jobs?policy_id=` and `/s3/stats` find them by it. */
export const policyTag = (policyId: string): string => `policy:${policyId}`;

export function archiveJobHandler(deps: ArchiveJobDeps) {
  const now = deps.now ?? Date.now;
  return {
    type: ARCHIVE_JOB_TYPE,
    paramsSchema: ArchiveJobParamsSchema,
    tags: (params: ArchiveJobParams) => [policyTag(params.policy_id)],
    async run(ctx: ArchiveJobContext): Promise<Record<string, unknown>> {
      const policy = await deps.policy(ctx.params.policy_id);
      if (!policy) throw new ArchiveJobError(`archive policy "${ctx.params.policy_id}" does not exist`);
      const selection = selectionOf(policy);
      const bucket = deps.bucket(policy.destination.bucket);
      const target = targetOf(policy, bucket);
      const p = (ctx.progress as ArchiveProgress | null) ?? {
        planned: 0,
        partitions: {},
        failed: {},
        days: {},
        expired: 0,
      };
      const save = () => ctx.checkpoint(p as unknown as Record<string, unknown>);
      const nowMs = now();

      const plan = (await planPartitions(deps.client, deps.indexPrefix, selection, nowMs)).filter(
        (part) => !isPastArchiveRetention(part.day, nowMs, policy.after.s3_retention_days),
      );
      p.planned = plan.length;
      for (const part of plan) {
        ctx.signal.throwIfAborted();
        const key = partitionProgressKey(part);
        if (p.partitions[key]) continue;
        try {
          const done = await archivePartition({
            client: deps.client,
            indexPrefix: deps.indexPrefix,
            selection,
            partition: part,
            target,
            jobId: ctx.id,
            policyId: policy.id,
            signal: ctx.signal,
          });
          if (done) {
            await deps.catalog.recordPartition(bucket.bucket, target.prefix, done.manifest);
            p.partitions[key] = {
              records: done.manifest.records,
              objects: done.manifest.objects.length,
              skipped: done.skipped,
            };
          } else {
            p.partitions[key] = { records: 0, objects: 0, skipped: true };
          }
          delete p.failed[key];
        } catch (err) {
          if (!(err instanceof ArchiveIntegrityError)) throw err;
          p.failed[key] = err.reason;
        }
        await save();
        await deps.onPartition?.(key);
      }

      if (policy.after.delete_from_store) {
        const days = new Map<string, { cluster: string; day: string; ok: boolean }>();
        for (const part of plan) {
          const dayKey = `${part.cluster}/${part.day}`;
          const ok =
            p.partitions[partitionProgressKey(part)] !== undefined &&
            p.failed[partitionProgressKey(part)] === undefined;
          const d = days.get(dayKey) ?? { cluster: part.cluster, day: part.day, ok: true };
          d.ok &&= ok;
          days.set(dayKey, d);
        }
        for (const [dayKey, d] of days) {
          ctx.signal.throwIfAborted();
          if (p.days[dayKey]?.deleted) continue;
          if (!d.ok) {
            p.days[dayKey] = { deleted: false, reason: 'partition_failed' };
          } else {
            const outcome = await deleteArchivedDay({
              client: deps.client,
              indexPrefix: deps.indexPrefix,
              selection,
              cluster: d.cluster,
              day: d.day,
              target,
              jobId: ctx.id,
              policyId: policy.id,
              signal: ctx.signal,
              onSealed: (m) => deps.catalog.recordPartition(bucket.bucket, target.prefix, m),
            });
            p.days[dayKey] = summarize(outcome);
          }
          await save();
        }
      }

      if (policy.after.s3_retention_days !== null) {
        p.expired += await expireArchives(
          bucket,
          target.prefix,
          policy.after.s3_retention_days,
          nowMs,
          deps.catalog,
          ctx.signal,
        );
        await save();
      }
      const records = Object.values(p.partitions).reduce((n, x) => n + x.records, 0);
      return {
        policy_id: policy.id,
        partitions: Object.keys(p.partitions).length,
        records,
        failed: p.failed,
        days: p.days,
        expired_partitions: p.expired,
      };
    },
  };
}

/** Deletes partitions whose day ended `days` × 24 h ago: objects first, the manifest last (so a crash leaves a listed, re-deletable partition). */
export async function expireArchives(
  bucket: ArchiveBucket,
  prefix: string,
  days: number,
  nowMs: number,
  catalog: ArchiveCatalog,
  signal: AbortSignal,
): Promise<number> {
  let token: string | undefined;
  const manifests: string[] = [];
  do {
    const page = await bucket.list(`${prefix}/`, token);
    for (const o of page.objects) {
      const parsed = parseKey(prefix, o.key);
      if (parsed?.kind === 'manifest' && isDayArchivable(parsed.partition.day, nowMs, days)) manifests.push(o.key);
    }
    token = page.next;
  } while (token);
  for (const mKey of manifests) {
    signal.throwIfAborted();
    const parsed = parseKey(prefix, mKey);
    if (!parsed) continue;
    const m = await readManifest(bucket, mKey);
    if (m) await bucket.delete(m.objects.map((o) => o.key));
    await bucket.delete([manifestKey(prefix, parsed.partition)]);
    await catalog.forgetPartition(bucket.bucket, mKey);
  }
  return manifests.length;
}
