/**
 * The job runner (DESIGN.md §5): jobs are documents in the `jobs` system index
 * (job-schema.ts), run by whichever replica claims them. Job types plug in as handlers
 * `{ type, paramsSchema, run(ctx) }` (retention now; collect and archive later).
 *
 * - Claiming: every `pollIntervalMs` a runner looks for `pending` jobs and `running` jobs
 *   whose lease has expired (their owner died), and claims one with a conditional write
 *   (`if_seq_no`/`if_primary_term`): of replicas racing for a job exactly one wins.
 * - Lease: the owner renews `lease_expires_at` every `renewIntervalMs` while the handler
 *   runs. When a renewal finds the job taken over, or cannot reach the store before the
 *   lease would expire, the handler's `AbortSignal` fires (reason `lease_lost`) — a little
 *   before the expiry (`leaseTtlMs / 5`), so the next owner never overlaps it on clocks that
 *   agree to well within that margin. A runner that was taken over writes nothing more for
 *   that job; one whose own deadline passed (renewals unconfirmed: a slow store) hands the
 *   lease back with a write conditional on the version it last saw, once the handler has
 *   stopped, so the job resumes at once instead of after the lease expires.
 * - Progress: `ctx.checkpoint(progress)` persists the handler's position; an owner that
 *   resumes the job gets it as `ctx.progress`. Handlers must make each step idempotent
 *   (a step after the last checkpoint may run twice).
 * - Cancellation: `cancel(id)` ends a pending job at once and flags a running one; its owner
 *   sees the flag at its next renewal (within `renewIntervalMs`) and aborts (reason
 *   `cancelled`); the job ends `cancelled`.
 * - `stop()` (shutdown) aborts running handlers (reason `shutdown`) and hands their leases
 *   back, so another replica resumes them at once.
 *
 * Writes of one job are serialised in this process (renewals, checkpoints, the outcome),
 * so they never conflict with each other; a conflict always means another writer.
 */
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError, invalidRequest } from '../errors.ts';
import { filterDigest } from '../http/cursor.ts';
import type { Page } from '../http/paging.ts';
import type { RefreshPolicy, Stored, SystemRepository } from '../store/system-repository.ts';
import { TERMINAL_STATUSES, type JobDoc, type JobSchema, type JobStatus } from './job-schema.ts';

export type JobRepository = SystemRepository<typeof JobSchema>;

export type AbortReason = 'lease_lost' | 'cancelled' | 'shutdown';

export interface JobContext<P> {
  readonly id: string;
  readonly params: P;
  /** The last checkpoint (null on a first run): where a resumed job continues. */
  readonly progress: Record<string, unknown> | null;
  /** 1 on the first claim, more when resumed after an owner died. */
  readonly attempt: number;
  /** Fires when the job must stop: `signal.reason` is an AbortReason. */
  readonly signal: AbortSignal;
  /** Persists progress; rejects (and the signal fires) when the lease is lost. */
  checkpoint(progress: Record<string, unknown>): Promise<void>;
}

export interface JobHandler<P extends TSchema = TSchema> {
  readonly type: string;
  readonly paramsSchema: P;
  /** Does the work; resolves with the job's result. Must stop promptly when `ctx.signal` fires. */
  run(ctx: JobContext<Static<P>>): Promise<Record<string, unknown> | void>;
  /** Indexed `kind:value` tags of a job with these params (job-schema.ts `tags`); lists filter on them. */
  tags?(params: Static<P>): string[];
}

export interface JobLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface JobRunnerOptions {
  readonly repo: JobRepository;
  /** This replica's identity in leases (host/pid/random is typical). */
  readonly owner: string;
  /** Lease length, ms. Default 60000. */
  readonly leaseTtlMs?: number;
  /** Renewal period, ms. Default leaseTtlMs / 3. */
  readonly renewIntervalMs?: number;
  /** How often to look for claimable jobs, ms. Default 5000. */
  readonly pollIntervalMs?: number;
  /** Jobs this replica runs at once. Default 2. */
  readonly maxConcurrent?: number;
  /** Claims after which a job that never finished fails (`too_many_attempts`). Default 5. */
  readonly maxAttempts?: number;
  readonly log: JobLogger;
  /** Clock, ms since the epoch. Default Date.now. */
  readonly now?: () => number;
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

interface Running {
  current: Stored<JobDoc>;
  readonly controller: AbortController;
  /** Serialises this job's writes. */
  chain: Promise<unknown>;
  renewTimer: NodeJS.Timeout | undefined;
  deadlineTimer: NodeJS.Timeout | undefined;
  /** Another owner (or attempt) holds the job now: this runner must not write it again. */
  takenOver: boolean;
  readonly done: Promise<void>;
}

type AnyHandler = JobHandler<TSchema> & { check: ReturnType<typeof Compile<TSchema>> };

const iso = (ms: number) => new Date(ms).toISOString();

export class JobRunner {
  readonly #repo: JobRepository;
  readonly #o: Required<Omit<JobRunnerOptions, 'repo'>>;
  readonly #handlers = new Map<string, AnyHandler>();
  readonly #running = new Map<string, Running>();
  #pollTimer: NodeJS.Timeout | undefined;
  #ticking: Promise<string[]> | undefined;
  #stopped = false;
  readonly #schedules: Array<() => void> = [];

  constructor(opts: JobRunnerOptions) {
    const leaseTtlMs = opts.leaseTtlMs ?? 60_000;
    this.#repo = opts.repo;
    this.#o = {
      owner: opts.owner,
      leaseTtlMs,
      renewIntervalMs: opts.renewIntervalMs ?? Math.floor(leaseTtlMs / 3),
      pollIntervalMs: opts.pollIntervalMs ?? 5000,
      maxConcurrent: opts.maxConcurrent ?? 2,
      maxAttempts: opts.maxAttempts ?? 5,
      log: opts.log,
      now: opts.now ?? Date.now,
    };
  }

  get owner(): string {
    return this.#o.owner;
  }

  /** Ids of the jobs this runner is running now. */
  get runningIds(): string[] {
    return [...this.#running.keys()];
  }

  register<P extends TSchema>(handler: JobHandler<P>): void {
    if (this.#handlers.has(handler.type)) throw new Error(`job type "${handler.type}" registered twice`);
    this.#handlers.set(handler.type, {
      ...(handler as unknown as JobHandler<TSchema>),
      check: Compile(handler.paramsSchema as TSchema),
    });
  }

  /** Creates a pending job; 400 for an unknown type or invalid params, 409 when `id` exists. */
  async submit(type: string, params: Record<string, unknown>, opts: { id?: string } = {}): Promise<Stored<JobDoc>> {
    const h = this.#handlers.get(type);
    if (!h) throw invalidRequest(`unknown job type "${type}"`);
    if (!h.check.Check(params))
      throw invalidRequest(`invalid params for job type "${type}"`, h.check.Errors(params).slice(0, 10));
    const id = opts.id ?? `${type}-${crypto.randomUUID()}`;
    const tags = h.tags?.(params) ?? [];
    const doc: JobDoc = {
      id,
      type,
      params,
      status: 'pending',
      progress: null,
      result: null,
      error: null,
      created_at: iso(this.#o.now()),
      started_at: null,
      finished_at: null,
      owner: null,
      lease_expires_at: null,
      attempts: 0,
      cancel_requested: false,
      ...(tags.length > 0 ? { tags } : {}),
    };
    return this.#repo.create(id, doc);
  }

  get(id: string): Promise<Stored<JobDoc> | undefined> {
    return this.#repo.get(id);
  }

  /** Newest first; `types` is any of, `tags` all of (a tag filter misses jobs stored before tags). */
  list(opts: {
    status?: JobStatus;
    type?: string;
    types?: readonly string[];
    tags?: readonly string[];
    limit: number;
    cursor?: string;
  }): Promise<Page<Stored<JobDoc>>> {
    const types = [...(opts.type ? [opts.type] : []), ...(opts.types ?? [])];
    const filter = [
      ...(opts.status ? [{ term: { status: opts.status } }] : []),
      ...(types.length > 0 ? [{ terms: { type: types } }] : []),
      ...(opts.tags ?? []).map((tag) => ({ term: { tags: tag } })),
    ];
    return this.#repo.list({
      filter,
      limit: opts.limit,
      cursor: opts.cursor,
      order: 'desc',
      digest: filterDigest({ status: opts.status, types, tags: opts.tags ?? [] }),
    });
  }

  /**
   * Cancels: a pending job ends `cancelled` now; a running one is flagged and ends
   * `cancelled` when its owner notices (next renewal). Finished jobs stay as they are
   * (idempotent). Undefined when there is no such job.
   */
  async cancel(id: string): Promise<Stored<JobDoc> | undefined> {
    const out = await this.#repo.update(id, ({ doc }) => {
      if (TERMINAL_STATUSES.includes(doc.status) || doc.cancel_requested) return undefined;
      if (doc.status === 'pending')
        return { ...doc, status: 'cancelled', cancel_requested: true, finished_at: iso(this.#o.now()) };
      return { ...doc, cancel_requested: true };
    });
    // Ours: no need to wait for the next renewal.
    const mine = this.#running.get(id);
    if (mine && out?.doc.cancel_requested) mine.controller.abort('cancelled');
    return out;
  }

  /**
   * Deletes the documents of jobs that finished (succeeded, failed, cancelled) before
   * `before`; pending and running jobs are never touched. The number deleted. Scheduled
   * jobs have one id per period (`every`), so a pruned period is never scheduled again:
   * its slot lies in the past.
   */
  pruneFinished(before: Date): Promise<number> {
    return this.#repo.deleteWhere([
      { terms: { status: [...TERMINAL_STATUSES] } },
      { range: { finished_at: { lt: before.toISOString() } } },
    ]);
  }

  /** Runs `type` every `intervalMs` on some replica: each period one job with a deterministic id. */
  every(
    type: string,
    params: Record<string, unknown>,
    intervalMs: number,
    firstDelayMs = Math.min(10_000, intervalMs),
  ): void {
    const submit = () => {
      if (this.#stopped) return;
      const slot = Math.floor(this.#o.now() / intervalMs);
      this.submit(type, params, { id: `${type}-${slot}` }).then(
        () => this.#wake(),
        (err: unknown) => {
          // Another replica scheduled this period's run first: nothing to do.
          if (err instanceof AppError && err.errorName === 'AGG_ERR_CONFLICT') return;
          this.#o.log.warn({ type, err: (err as Error).message }, 'job schedule: submit failed; next period retries');
        },
      );
    };
    const first = setTimeout(submit, firstDelayMs);
    const every = setInterval(submit, intervalMs);
    first.unref();
    every.unref();
    this.#schedules.push(() => {
      clearTimeout(first);
      clearInterval(every);
    });
  }

  /** Starts polling for claimable jobs (first look now). */
  start(): void {
    if (this.#pollTimer || this.#stopped) return;
    this.#pollTimer = setInterval(() => this.#wake(), this.#o.pollIntervalMs);
    this.#pollTimer.unref();
    this.#wake();
    this.backfillTags().then(
      (n) => n > 0 && this.#o.log.info({ jobs: n }, 'job runner: tagged jobs stored before tags'),
      (err: unknown) => this.#o.log.warn({ err: (err as Error).message }, 'job runner: tag backfill failed'),
    );
  }

  /**
   * Tags the jobs stored before their type had tags, so tag filters find them too; the number
   * tagged. Idempotent, safe beside other writers (each write is a versioned update).
   */
  async backfillTags(): Promise<number> {
    const types = [...this.#handlers].filter(([, h]) => h.tags).map(([type]) => type);
    if (types.length === 0) return 0;
    let tagged = 0;
    let cursor: string | undefined;
    do {
      const page = await this.#repo.list({
        filter: [{ terms: { type: types } }],
        mustNot: [{ exists: { field: 'tags' } }],
        limit: 500,
        cursor,
        digest: 'backfill-tags',
      });
      for (const job of page.items) {
        const h = this.#handlers.get(job.doc.type)!;
        const tags = h.check.Check(job.doc.params) ? h.tags!(job.doc.params) : [];
        if (tags.length === 0) continue;
        await this.#repo.update(job.id, ({ doc }) => (doc.tags ? undefined : { ...doc, tags }));
        tagged++;
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return tagged;
  }

  #wake(): void {
    if (this.#stopped || this.#ticking) return;
    this.tick().catch((err: unknown) =>
      this.#o.log.warn({ err: (err as Error).message }, 'job runner: poll failed; retrying'),
    );
  }

  /** One claim pass: claims what free slots allow and starts it. Resolves with the ids claimed. */
  tick(): Promise<string[]> {
    this.#ticking ??= this.#claimSome().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  async #claimSome(): Promise<string[]> {
    const free = this.#o.maxConcurrent - this.#running.size;
    if (free <= 0 || this.#stopped || this.#handlers.size === 0) return [];
    const now = this.#o.now();
    const page = await this.#repo.list({
      filter: [
        { terms: { type: [...this.#handlers.keys()] } },
        {
          bool: {
            should: [
              { term: { status: 'pending' } },
              {
                bool: { filter: [{ term: { status: 'running' } }, { range: { lease_expires_at: { lte: iso(now) } } }] },
              },
            ],
            minimum_should_match: 1,
          },
        },
      ],
      limit: Math.max(free * 4, 10),
      digest: 'claim',
    });
    const claimed: string[] = [];
    for (const candidate of page.items) {
      if (claimed.length >= free || this.#stopped) break;
      if (this.#running.has(candidate.id)) continue;
      const got = await this.#claim(candidate);
      if (got) claimed.push(got);
    }
    return claimed;
  }

  /** Claims one job (the listed version, or the current one when the list was stale); its id when won. */
  async #claim(candidate: Stored<JobDoc>): Promise<string | undefined> {
    let stored: Stored<JobDoc> | undefined = candidate;
    for (let attempt = 0; attempt < 2 && stored; attempt++) {
      const now = this.#o.now();
      const d = stored.doc;
      const claimable =
        d.status === 'pending' ||
        (d.status === 'running' && d.lease_expires_at !== null && Date.parse(d.lease_expires_at) <= now);
      if (!claimable) return undefined;
      const h = this.#handlers.get(d.type);
      let next: JobDoc;
      let run = false;
      if (d.cancel_requested) next = { ...d, status: 'cancelled', finished_at: iso(now), lease_expires_at: null };
      else if (!h) return undefined;
      else if (!h.check.Check(d.params))
        next = this.#failed(d, now, 'invalid_params', `params do not match job type "${d.type}"`);
      else if (d.attempts >= this.#o.maxAttempts)
        next = this.#failed(d, now, 'too_many_attempts', `claimed ${d.attempts} times without finishing`);
      else {
        next = {
          ...d,
          status: 'running',
          owner: this.#o.owner,
          lease_expires_at: iso(now + this.#o.leaseTtlMs),
          started_at: d.started_at ?? iso(now),
          attempts: d.attempts + 1,
        };
        run = true;
      }
      try {
        const won = await this.#repo.replace(stored.id, next, { ifVersion: stored.version, refresh: 'wait_for' });
        if (!run) return undefined;
        this.#execute(won, h!);
        return won.id;
      } catch (err) {
        if (!(err instanceof AppError && err.errorName === 'AGG_ERR_PRECONDITION_FAILED')) throw err;
        // Someone wrote it since the list: look at the current version once.
        stored = await this.#repo.get(candidate.id);
      }
    }
    return undefined;
  }

  #failed(d: JobDoc, now: number, code: string, message: string): JobDoc {
    return { ...d, status: 'failed', error: { code, message }, finished_at: iso(now), lease_expires_at: null };
  }

  #execute(claimed: Stored<JobDoc>, h: AnyHandler): void {
    const controller = new AbortController();
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const r: Running = {
      current: claimed,
      controller,
      chain: Promise.resolve(),
      renewTimer: undefined,
      deadlineTimer: undefined,
      takenOver: false,
      done,
    };
    this.#running.set(claimed.id, r);
    this.#armDeadline(r);
    r.renewTimer = setInterval(() => {
      this.#write(r, (d) => ({ ...d, lease_expires_at: iso(this.#o.now() + this.#o.leaseTtlMs) }))
        .then(() => this.#armDeadline(r))
        .catch((err: unknown) => {
          if (!(err instanceof LeaseLostError))
            this.#o.log.warn(
              { job: claimed.id, err: (err as Error).message },
              'job lease renewal failed; retrying until the lease expires',
            );
        });
    }, this.#o.renewIntervalMs);
    r.renewTimer.unref();
    const ctx: JobContext<unknown> = {
      id: claimed.id,
      params: claimed.doc.params,
      progress: claimed.doc.progress,
      attempt: claimed.doc.attempts,
      signal: controller.signal,
      checkpoint: async (progress) => {
        if (controller.signal.aborted)
          throw new LeaseLostError(`job ${claimed.id} stopped (${String(controller.signal.reason)})`);
        await this.#write(r, (d) => ({ ...d, progress, lease_expires_at: iso(this.#o.now() + this.#o.leaseTtlMs) }));
        this.#armDeadline(r);
      },
    };
    this.#o.log.info(
      { job: claimed.id, type: h.type, attempt: claimed.doc.attempts, resumed: claimed.doc.progress !== null },
      'job started',
    );
    void (async () => {
      let outcome: { ok: true; result: Record<string, unknown> } | { ok: false; err: unknown };
      try {
        outcome = { ok: true, result: (await h.run(ctx)) ?? {} };
      } catch (err) {
        outcome = { ok: false, err };
      }
      clearInterval(r.renewTimer);
      clearTimeout(r.deadlineTimer);
      await this.#settle(r, outcome).catch((err: unknown) => {
        if (!(err instanceof LeaseLostError))
          this.#o.log.warn(
            { job: claimed.id, err: (err as Error).message },
            'job outcome not recorded; another replica will resume it',
          );
      });
      this.#running.delete(claimed.id);
      finish();
      this.#wake();
    })();
  }

  async #settle(
    r: Running,
    outcome: { ok: true; result: Record<string, unknown> } | { ok: false; err: unknown },
  ): Promise<void> {
    const reason = r.controller.signal.aborted ? (r.controller.signal.reason as AbortReason) : undefined;
    const id = r.current.id;
    const now = () => this.#o.now();
    if (reason === 'lease_lost') {
      await this.#handBackAfterDeadline(r);
      return;
    }
    if (reason === 'shutdown') {
      // Hand the lease back: another replica resumes from the last checkpoint at once.
      await this.#write(r, (d) => ({ ...d, lease_expires_at: iso(now()) }), 'wait_for');
      return;
    }
    if (outcome.ok) {
      await this.#write(
        r,
        (d) => ({ ...d, status: 'succeeded', result: outcome.result, finished_at: iso(now()), lease_expires_at: null }),
        'wait_for',
      );
      this.#o.log.info({ job: id }, 'job succeeded');
    } else if (reason === 'cancelled') {
      await this.#write(
        r,
        (d) => ({ ...d, status: 'cancelled', finished_at: iso(now()), lease_expires_at: null }),
        'wait_for',
      );
      this.#o.log.info({ job: id }, 'job cancelled');
    } else {
      const message = (outcome.err as Error)?.message ?? String(outcome.err);
      await this.#write(
        r,
        (d) => ({
          ...d,
          status: 'failed',
          error: { code: 'handler_failed', message: message.slice(0, 2000) },
          finished_at: iso(now()),
          lease_expires_at: null,
        }),
        'wait_for',
      );
      this.#o.log.warn({ job: id, err: message }, 'job failed');
    }
  }

  /**
   * After a `lease_lost` abort. Taken over: nothing more is written. Otherwise the local
   * deadline passed before the store confirmed a renewal (a slow or unreachable store), so
   * the handler was stopped, and the job may well still be ours: once the writes in
   * flight have ended, hand the lease back with a write conditional on the last version this
   * runner saw, so that a replica (this one included) resumes it from its checkpoint now
   * rather than after the lease expires. If anyone wrote the job since, the write fails and
   * that writer owns it.
   */
  async #handBackAfterDeadline(r: Running): Promise<void> {
    await r.chain;
    const id = r.current.id;
    const was = r.current.doc.lease_expires_at;
    if (r.takenOver) {
      this.#o.log.warn({ job: id }, 'job stopped: lease taken over; its new owner resumes it');
      return;
    }
    const handedBackAt = iso(this.#o.now());
    try {
      r.current = await this.#repo.replace(
        id,
        { ...r.current.doc, lease_expires_at: handedBackAt },
        { ifVersion: r.current.version, refresh: 'wait_for' },
      );
      this.#o.log.warn(
        { job: id, lease_expires_at_was: was, handed_back_at: handedBackAt },
        'job stopped: no renewal confirmed before the lease deadline; lease handed back for an immediate resume',
      );
    } catch (err) {
      this.#o.log.warn(
        { job: id, err: (err as Error).message },
        'job stopped: lease lost; whoever holds it now (or the next claim after it expires) resumes it',
      );
    }
  }

  /** (Re)arms the local lease deadline: abort a margin before the lease this runner last wrote expires. */
  #armDeadline(r: Running): void {
    clearTimeout(r.deadlineTimer);
    const expires = Date.parse(r.current.doc.lease_expires_at ?? '') || 0;
    const margin = Math.floor(this.#o.leaseTtlMs / 5);
    r.deadlineTimer = setTimeout(() => r.controller.abort('lease_lost'), Math.max(0, expires - margin - this.#o.now()));
    r.deadlineTimer.unref();
  }

  /**
   * Applies `change` to the job as this runner last wrote it, conditionally. On a conflict it
   * re-reads: still ours (a cancel request was written) → note the request and apply the
   * change to the new version; taken over or gone → abort `lease_lost` and throw.
   * Renewals and checkpoints skip the refresh (the owner reads by id, which is realtime);
   * outcomes and hand-backs wait for it, so lists and other replicas' claims see them.
   */
  #write(r: Running, change: (d: JobDoc) => JobDoc, refresh: RefreshPolicy = false): Promise<void> {
    const step = r.chain.then(async () => {
      if (r.controller.signal.reason === 'lease_lost') throw new LeaseLostError(`lease on job ${r.current.id} lost`);
      for (;;) {
        try {
          r.current = await this.#repo.replace(r.current.id, change(r.current.doc), {
            ifVersion: r.current.version,
            refresh,
          });
          return;
        } catch (err) {
          if (!(err instanceof AppError && err.errorName === 'AGG_ERR_PRECONDITION_FAILED')) throw err;
        }
        const now = await this.#repo.get(r.current.id);
        if (
          !now ||
          now.doc.owner !== this.#o.owner ||
          now.doc.status !== 'running' ||
          now.doc.attempts !== r.current.doc.attempts
        ) {
          r.takenOver = true;
          r.controller.abort('lease_lost');
          throw new LeaseLostError(`lease on job ${r.current.id} was taken over`);
        }
        r.current = now;
        if (now.doc.cancel_requested && !r.controller.signal.aborted) r.controller.abort('cancelled');
      }
    });
    r.chain = step.catch(() => {});
    return step;
  }

  /**
   * Stops claiming and scheduling, aborts running handlers (`shutdown`) and waits for them
   * to hand their leases back.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#pollTimer);
    for (const clear of this.#schedules) clear();
    await this.#ticking?.catch(() => {});
    for (const r of this.#running.values()) if (!r.controller.signal.aborted) r.controller.abort('shutdown');
    await Promise.all([...this.#running.values()].map((r) => r.done));
  }
}
