/**
 * Retention: deletes day indices whose every record is older than `retentionDays`, and
 * the documents of jobs that finished more than `job_history_days` ago.
 *
 * - `indicesToDelete` (pure) decides from index names alone: the day index
 *   `<prefix>-<cluster>-YYYY.MM.DD` covers [day 00:00Z, next day 00:00Z), and goes once
 *   its end is at least `retentionDays` × 24 h in the past. So at least `retentionDays`
 *   full days are always kept, plus today's partial day.
 * - `retentionHandler` is the `retention` job type of the job runner (job-runner.ts), which
 *   schedules one run per interval on one replica. It only touches indices that carry their
 *   cluster's alias (indices this aggregator created), so another deployment whose prefix
 *   happens to extend ours is left alone. Each deletion is checkpointed; a replica that
 *   resumes a run skips what is already gone (deleting a missing index is a no-op anyway).
 *
 * - Guards (`RetentionGuard`) may hold a due index: the archive's guard holds a day that an
 *   enabled policy must archive first and has not yet archived (archive/retention-guard.ts).
 *   A held index stays and is retried by the next run; a guard that fails holds too
 *   (nothing is deleted on an error). The result lists what was held and why.
 */
import { Type } from 'typebox';
import type { OpenSearch } from '../store/opensearch.ts';
import { clusterAlias, parseDayIndexName } from '../store/log-indices.ts';
import type { JobHandler, JobLogger } from './job-runner.ts';

const DAY_MS = 86_400_000;
export const RETENTION_JOB = 'retention';

/** Pure. `now` is the current instant; names that are not day indices of `prefix` are never chosen. */
export function indicesToDelete(indexNames: readonly string[], now: Date, retentionDays: number, prefix: string): string[] {
  const out: string[] = [];
  for (const name of indexNames) {
    const parsed = parseDayIndexName(prefix, name);
    if (!parsed) continue;
    const dayStart = Date.parse(`${parsed.day.replaceAll('.', '-')}T00:00:00Z`);
    if (Number.isNaN(dayStart)) continue;
    if (dayStart + DAY_MS + retentionDays * DAY_MS <= now.getTime()) out.push(name);
  }
  return out.sort();
}

/** Pure: names of the indices in a `GET <prefix>-*\/_alias` answer that carry their cluster's alias. */
export function ownedDayIndices(aliasAnswer: Record<string, { aliases?: Record<string, unknown> }>, prefix: string): string[] {
  return Object.entries(aliasAnswer)
    .filter(([name, v]) => {
      const parsed = parseDayIndexName(prefix, name);
      return parsed !== undefined && Object.hasOwn(v.aliases ?? {}, clusterAlias(prefix, parsed.cluster));
    })
    .map(([name]) => name);
}

export const RetentionParamsSchema = Type.Object(
  {
    retention_days: Type.Integer({ minimum: 1, description: 'Days kept; older day indices are deleted.' }),
    job_history_days: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Days finished jobs are kept; older job documents are deleted.' }),
    ),
  },
  { additionalProperties: false },
);

/**
 * Asked before a due day index is deleted: a reason to keep it for now, or undefined.
 * `day` is `YYYY-MM-DD`. Must not delete or write anything.
 */
export type RetentionGuard = (index: { name: string; cluster: string; day: string }) => Promise<string | undefined>;

export interface RetentionHandlerOptions {
  client: OpenSearch;
  indexPrefix: string;
  log: JobLogger;
  /** Called for every deleted index (e.g. so the bulk writer forgets it). */
  onDeleted?: (index: string) => void;
  /** The run's clock (tests place it in time). Default `() => new Date()`. */
  now?: () => Date;
  /** Guards asked before each deletion (read at every run, so later areas may add theirs). */
  guards?: readonly RetentionGuard[];
  /**
   * Deletes finished job documents older than the given instant (JobRunner.pruneFinished);
   * called when the run's params carry `job_history_days`. Returns how many went.
   */
  pruneJobs?: (before: Date) => Promise<number>;
  /** Deletes heartbeat samples received before the instant (same horizon as the job history). */
  pruneSamples?: (before: Date) => Promise<number>;
}

async function holdReason(guards: readonly RetentionGuard[], prefix: string, name: string): Promise<string | undefined> {
  const parsed = parseDayIndexName(prefix, name);
  if (!parsed) return 'not_a_day_index';
  const target = { name, cluster: parsed.cluster, day: parsed.day.replaceAll('.', '-') };
  for (const guard of guards) {
    try {
      const reason = await guard(target);
      if (reason) return reason;
    } catch (err) {
      return `guard_failed: ${(err as Error).message}`.slice(0, 500);
    }
  }
  return undefined;
}

/**
 * The `retention` job type. Result: `{ deleted, failed, held, retention_days }`, plus
 * `jobs_pruned` and `job_history_days` when the job history is pruned too. A failed prune
 * is logged and retried by the next run; it does not fail the run (indices went).
 */
export function retentionHandler(o: RetentionHandlerOptions): JobHandler<typeof RetentionParamsSchema> {
  const now = o.now ?? (() => new Date());
  return {
    type: RETENTION_JOB,
    paramsSchema: RetentionParamsSchema,
    async run(ctx) {
      const done = ctx.progress as { deleted?: string[]; failed?: string[] } | null;
      const deleted = [...(done?.deleted ?? [])];
      const failed: string[] = [];
      const held: Array<{ index: string; reason: string }> = [];
      const res = await o.client.indices.getAlias({ index: `${o.indexPrefix}-*`, expand_wildcards: ['open', 'closed'], allow_no_indices: true });
      const owned = ownedDayIndices(res.body as Record<string, { aliases?: Record<string, unknown> }>, o.indexPrefix);
      for (const index of indicesToDelete(owned, now(), ctx.params.retention_days, o.indexPrefix)) {
        ctx.signal.throwIfAborted();
        const reason = await holdReason(o.guards ?? [], o.indexPrefix, index);
        if (reason) {
          held.push({ index, reason });
          continue;
        }
        try {
          await o.client.indices.delete({ index, ignore_unavailable: true });
          deleted.push(index);
          o.onDeleted?.(index);
        } catch (err) {
          failed.push(index);
          o.log.warn({ index, err: (err as Error).message }, 'retention: delete failed; next run retries');
          continue;
        }
        await ctx.checkpoint({ deleted });
      }
      if (deleted.length || failed.length) o.log.info({ deleted, failed }, 'retention: deleted expired day indices');
      if (held.length) o.log.info({ held }, 'retention: kept expired day indices a guard still holds; next run retries');
      const result = { deleted, failed, held, retention_days: ctx.params.retention_days };
      const historyDays = ctx.params.job_history_days;
      if (historyDays === undefined || !o.pruneJobs) return result;
      ctx.signal.throwIfAborted();
      let pruned: number | null = null;
      const horizon = new Date(now().getTime() - historyDays * DAY_MS);
      try {
        pruned = await o.pruneJobs(horizon);
        if (pruned > 0) o.log.info({ pruned, job_history_days: historyDays }, 'retention: pruned finished jobs');
      } catch (err) {
        o.log.warn({ err: (err as Error).message }, 'retention: pruning finished jobs failed; next run retries');
      }
      try {
        const samples = (await o.pruneSamples?.(horizon)) ?? 0;
        if (samples > 0) o.log.info({ samples, job_history_days: historyDays }, 'retention: pruned heartbeat samples');
      } catch (err) {
        o.log.warn({ err: (err as Error).message }, 'retention: pruning heartbeat samples failed; next run retries');
      }
      return { ...result, jobs_pruned: pruned, job_history_days: historyDays };
    },
  };
}
