/**
 * Retention: deletes day indices whose every record is older than `retentionDays`.
 *
 * - `indicesToDelete` (pure) decides from index names alone: the day index
 *   `<prefix>-<cluster>-YYYY.MM.DD` covers [day 00:00Z, next day 00:00Z), and goes once
 *   its end is at least `retentionDays` × 24 h in the past. So at least `retentionDays`
 *   full days are always kept, plus today's partial day.
 * - `RetentionJob.runOnce` holds the `retention` lease while it lists and deletes, so with
 *   several replicas one at a time runs it; the others skip. It only touches indices that
 *   carry their cluster's alias (indices this aggregator created), so another deployment
 *   whose prefix happens to extend ours is left alone.
 * - `startRetentionSchedule` runs it every `intervalMs` (first run shortly after start).
 *
 * Not yet: DESIGN.md wants a day deleted only after its archive is verified; there is no
 * archive subsystem yet, so retention deletes by age alone.
 */
import type { OpenSearch } from '../store/opensearch.ts';
import { clusterAlias, parseDayIndexName } from '../store/log-indices.ts';
import { LeaseLostError, type JobLeases, type Lease } from './job-lease.ts';

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

export type RetentionRun =
  | { status: 'ran'; deleted: string[]; failed: string[] }
  | { status: 'skipped'; reason: 'lease_held'; holder: string | undefined }
  | { status: 'skipped'; reason: 'ran_recently'; lastFinishedAt: string };

export interface RetentionLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RetentionJobOptions {
  client: OpenSearch;
  leases: JobLeases;
  indexPrefix: string;
  retentionDays: number;
  /** This replica's identity in the lease (host + pid + random is typical). */
  owner: string;
  /** Lease TTL, ms; renewed while deleting. Default 300000. */
  leaseTtlMs?: number;
  /** Skip when another replica finished a run less than this long ago, ms. Default 0 (never skip). */
  minGapMs?: number;
  log: RetentionLogger;
  /** Called for every deleted index (e.g. so the bulk writer forgets it). */
  onDeleted?: (index: string) => void;
}

export class RetentionJob {
  readonly #o: Required<Omit<RetentionJobOptions, 'onDeleted'>> & Pick<RetentionJobOptions, 'onDeleted'>;

  constructor(opts: RetentionJobOptions) {
    this.#o = { leaseTtlMs: 300_000, minGapMs: 0, ...opts };
  }

  /** `now` is the run's start; the run's clock advances from it (so tests can place it in time). */
  async runOnce(now = new Date()): Promise<RetentionRun> {
    const o = this.#o;
    const t0 = performance.now();
    const clock = () => new Date(now.getTime() + Math.round(performance.now() - t0));
    const got = await o.leases.acquire(RETENTION_JOB, o.owner, o.leaseTtlMs, now);
    if (!got.acquired) return { status: 'skipped', reason: 'lease_held', holder: got.holder };
    let lease: Lease = got.lease;
    const last = lease.previous?.last_finished_at;
    if (o.minGapMs > 0 && last && now.getTime() - Date.parse(last) < o.minGapMs) {
      // Give the lease back without recording a run.
      await o.leases.renew(lease, 0, now).catch(() => {});
      return { status: 'skipped', reason: 'ran_recently', lastFinishedAt: last };
    }
    const startedAt = now;
    const deleted: string[] = [];
    const failed: string[] = [];
    const res = await o.client.indices.getAlias({ index: `${o.indexPrefix}-*`, expand_wildcards: ['open', 'closed'], allow_no_indices: true });
    const doomed = indicesToDelete(ownedDayIndices(res.body as Record<string, { aliases?: Record<string, unknown> }>, o.indexPrefix), now, o.retentionDays, o.indexPrefix);
    for (const index of doomed) {
      if (lease.expiresAt.getTime() - clock().getTime() < o.leaseTtlMs / 2) lease = await o.leases.renew(lease, o.leaseTtlMs, clock());
      try {
        await o.client.indices.delete({ index, ignore_unavailable: true });
        deleted.push(index);
        o.onDeleted?.(index);
      } catch (err) {
        failed.push(index);
        o.log.warn({ index, err: (err as Error).message }, 'retention: delete failed; next run retries');
      }
    }
    await o.leases.release(lease, { startedAt, result: { deleted, failed, retention_days: o.retentionDays } }, clock());
    if (deleted.length || failed.length) o.log.info({ deleted, failed }, 'retention: deleted expired day indices');
    return { status: 'ran', deleted, failed };
  }
}

/**
 * Runs the job every `intervalMs` (first after `firstDelayMs`), never two runs of this
 * replica at once. Errors are logged, not thrown: the next tick retries. The timer does
 * not keep the process alive; `stop()` waits for a run in progress.
 */
export function startRetentionSchedule(
  job: RetentionJob,
  opts: { intervalMs: number; firstDelayMs?: number; log: RetentionLogger },
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = job
      .runOnce()
      .then(
        (r) => {
          if (r.status === 'skipped') opts.log.info({ reason: r.reason }, 'retention: skipped');
        },
        (err: unknown) => {
          const lost = err instanceof LeaseLostError;
          opts.log.warn({ err: (err as Error).message, leaseLost: lost }, 'retention run failed; retrying next interval');
        },
      )
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(tick, opts.firstDelayMs ?? 10_000);
  const every = setInterval(tick, opts.intervalMs);
  first.unref();
  every.unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(every);
      await running;
    },
  };
}
