/**
 * Scheduled archive runs (issue 12): every enabled policy runs by itself every
 * `schedule.interval_minutes`, through the job runner.
 *
 * Each replica ticks every `tickMs` and, for each enabled policy, submits the archive job of
 * the current period under a deterministic id, `archive-<policy>-<period>` (period = now ÷
 * interval). Creating a job id that exists is a conflict, so of all replicas and ticks
 * exactly one creates each period's job, and the runner's claim makes exactly one replica
 * run it. A period whose predecessor is still pending or running is not submitted yet (two
 * runs of one policy never overlap); a later tick of the same period submits it once the
 * predecessor ends.
 *
 * Not concurrency-safe within one instance beyond what `tick` serialises itself.
 */
import { AppError } from '../errors.ts';
import type { ArchivePolicy } from '../archive/archive-policy.ts';
import { TERMINAL_STATUSES, type JobDoc } from './job-schema.ts';
import { ARCHIVE_JOB_TYPE } from './archive-job.ts';

export interface ArchiveScheduleDeps {
  submit(type: string, params: Record<string, unknown>, opts: { id: string }): Promise<unknown>;
  get(id: string): Promise<{ doc: JobDoc } | undefined>;
  /** Every policy, in a stable order. */
  policies(): Promise<readonly ArchivePolicy[]>;
  tickMs: number;
  /**
   * Housekeeping run at the start of every pass (the archive's abandoned write blocks);
   * its failure is logged and does not stop the pass.
   */
  sweep?: () => Promise<unknown>;
  now?: () => number;
  log: { warn(obj: object, msg: string): void };
}

/** Pure: the id of the policy's run for the period containing `nowMs`. */
export function scheduledRunId(policyId: string, intervalMinutes: number, nowMs: number, offset = 0): string {
  const period = Math.floor(nowMs / (intervalMinutes * 60_000)) + offset;
  return `${ARCHIVE_JOB_TYPE}-${policyId}-${period}`;
}

export class ArchiveScheduler {
  readonly #d: ArchiveScheduleDeps;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<string[]> | undefined;

  constructor(deps: ArchiveScheduleDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** One pass over the policies; resolves with the ids of the jobs this call created. */
  tick(): Promise<string[]> {
    this.#ticking ??= this.#pass().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  async #pass(): Promise<string[]> {
    const created: string[] = [];
    const now = this.#now();
    await this.#d
      .sweep?.()
      .catch((err: unknown) =>
        this.#d.log.warn({ err: (err as Error).message }, 'archive schedule: sweep failed; next tick retries'),
      );
    for (const p of await this.#d.policies()) {
      if (!p.enabled) continue;
      const id = scheduledRunId(p.id, p.schedule.interval_minutes, now);
      const previous = await this.#d.get(scheduledRunId(p.id, p.schedule.interval_minutes, now, -1));
      if (previous && !TERMINAL_STATUSES.includes(previous.doc.status)) continue;
      try {
        await this.#d.submit(ARCHIVE_JOB_TYPE, { policy_id: p.id }, { id });
        created.push(id);
      } catch (err) {
        // This period's run exists already (another replica, or an earlier tick).
        if (err instanceof AppError && err.errorName === 'AGG_ERR_CONFLICT') continue;
        throw err;
      }
    }
    return created;
  }

  start(): void {
    if (this.#timer) return;
    const run = () =>
      void this.tick().catch((err: unknown) =>
        this.#d.log.warn({ err: (err as Error).message }, 'archive schedule: tick failed; next tick retries'),
      );
    this.#timer = setInterval(run, this.#d.tickMs);
    this.#timer.unref();
    run();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking?.catch(() => {});
  }
}
