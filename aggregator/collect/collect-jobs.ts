/**
 * The three collect job types of the job runner (jobs/job-runner.ts): `collect`
 * (one-time), `collect-bulk` (one-time over every pod in scope, with a concurrency cap) and
 * `collect-continuous` (follow until cancelled or `end_time`). Their parameters are
 * CollectParams; their progress is collect-progress.ts; their result its summary.
 */
import type { JobHandler } from '../jobs/job-runner.ts';
import type { CollectDeps } from './collect-deps.ts';
import { BULK_COLLECT_JOB, COLLECT_JOB, CONTINUOUS_COLLECT_JOB, CollectParamsSchema } from './collect-schemas.ts';
import { runBatchCollection } from './batch-collector.ts';
import { runContinuousCollection } from './continuous-collector.ts';

export function collectJobHandlers(deps: CollectDeps): Array<JobHandler<typeof CollectParamsSchema>> {
  return [
    { type: COLLECT_JOB, paramsSchema: CollectParamsSchema, run: (ctx) => runBatchCollection(ctx, deps) },
    { type: BULK_COLLECT_JOB, paramsSchema: CollectParamsSchema, run: (ctx) => runBatchCollection(ctx, deps) },
    {
      type: CONTINUOUS_COLLECT_JOB,
      paramsSchema: CollectParamsSchema,
      run: (ctx) => runContinuousCollection(ctx, deps),
    },
  ];
}
