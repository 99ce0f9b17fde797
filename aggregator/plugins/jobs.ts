/**
 * Service plugin: the job runner (`app.jobs`, jobs/job-runner.ts) with its job types
 * registered (retention), and `app.startJobs()`, which `server.ts` calls once the store is
 * ready: polling for jobs and the retention schedule. Stopped (leases handed back) on close.
 * Job types of later areas register on `app.jobs` from their own plugins.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { JobRunner } from '../jobs/job-runner.ts';
import { JobSchema } from '../jobs/job-schema.ts';
import { RETENTION_JOB, retentionHandler, type RetentionGuard } from '../jobs/retention-job.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readonly jobs: JobRunner;
    /** Starts claiming jobs and the schedules (retention); idempotent. */
    startJobs(): void;
    /** Registers a schedule of a later area (e.g. archive policies) to start with `startJobs()`. */
    onStartJobs(start: () => void): void;
    /** Adds a guard retention asks before deleting a day index (e.g. "not archived yet"). */
    addRetentionGuard(guard: RetentionGuard): void;
  }
}

export interface JobsPluginOptions {
  retentionDays: number;
  retentionIntervalMs: number;
  /** Days the documents of finished jobs are kept (pruned by the retention job). */
  jobHistoryDays: number;
  /** This replica's identity in job leases. Default host/pid/random. */
  owner?: string;
  /** Jobs this replica runs at once (continuous collections hold a slot each for as long as they run). Default 2. */
  maxConcurrent?: number;
}

export const jobsPlugin = fp(
  async (app: FastifyInstance, opts: JobsPluginOptions) => {
    const repo = app.systemRepository('jobs', JobSchema, {
      resource: 'job',
      sortField: 'created_at',
      tiebreakField: 'id',
    });
    const runner = new JobRunner({
      repo,
      owner: opts.owner ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`,
      log: app.log,
      ...(opts.maxConcurrent ? { maxConcurrent: opts.maxConcurrent } : {}),
    });
    const guards: RetentionGuard[] = [];
    runner.register(
      retentionHandler({
        guards,
        client: app.opensearch,
        indexPrefix: app.storeLayout.indexPrefix,
        log: app.log,
        onDeleted: (index) => app.bulkWriter.forget(index),
        pruneJobs: (before) => runner.pruneFinished(before),
        pruneSamples: (before) => app.heartbeats.pruneSamples(before),
      }),
    );
    let started = false;
    const starters: Array<() => void> = [];
    app.decorate('jobs', runner);
    app.decorate('addRetentionGuard', (guard: RetentionGuard) => void guards.push(guard));
    app.decorate('onStartJobs', (start: () => void) => {
      if (started) start();
      else starters.push(start);
    });
    app.decorate('startJobs', () => {
      if (started) return;
      started = true;
      runner.start();
      runner.every(
        RETENTION_JOB,
        { retention_days: opts.retentionDays, job_history_days: opts.jobHistoryDays },
        opts.retentionIntervalMs,
      );
      for (const start of starters) start();
    });
    app.addHook('onClose', async () => runner.stop());
  },
  {
    name: PluginNames.jobs,
    fastify: '5.x',
    dependencies: [PluginNames.opensearch, PluginNames.repositories, PluginNames.bulkWriter],
  },
);
