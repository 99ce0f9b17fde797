/**
 * Submit-time limits of collect jobs, over every replica (they read the job documents):
 * streams reserved by unfinished collect jobs per cluster and overall, and running
 * continuous jobs. Pure decision over the reservations; the caller lists the jobs.
 *
 * Streams beyond a limit are a 429 (`collect_streams_exhausted`, with Retry-After: they
 * free up as jobs finish); a continuous job beyond the maximum is a 409
 * (`too_many_continuous_collections`: it frees up only when one is cancelled). Two
 * submissions racing on different replicas may both pass: the limits are admission
 * control, and each replica's StreamSlots still caps what it opens.
 */
import { AppError } from '../errors.ts';
import { CONTINUOUS_COLLECT_JOB } from './collect-schemas.ts';

export interface CollectLimits {
  maxStreamsPerCluster: number;
  maxStreams: number;
  maxContinuousJobs: number;
}

export interface Reservation {
  type: string;
  cluster: string;
  streams: number;
}

/** Pure: throws the 429/409 when `next` does not fit beside `active`. */
export function admit(active: readonly Reservation[], next: Reservation, limits: CollectLimits): void {
  if (next.type === CONTINUOUS_COLLECT_JOB) {
    const running = active.filter((r) => r.type === CONTINUOUS_COLLECT_JOB).length;
    if (running >= limits.maxContinuousJobs)
      throw new AppError(
        'AGG_ERR_TOO_MANY_CONTINUOUS',
        `${running} continuous collections are running (maximum ${limits.maxContinuousJobs}): cancel one first`,
      );
  }
  const cluster = active.filter((r) => r.cluster === next.cluster).reduce((n, r) => n + r.streams, 0);
  const all = active.reduce((n, r) => n + r.streams, 0);
  if (cluster + next.streams > limits.maxStreamsPerCluster)
    throw new AppError(
      'AGG_ERR_COLLECT_STREAMS_EXHAUSTED',
      `cluster ${next.cluster}: ${cluster} of ${limits.maxStreamsPerCluster} collect streams are reserved; this job needs ${next.streams}`,
      { retryAfterSeconds: 30 },
    );
  if (all + next.streams > limits.maxStreams)
    throw new AppError(
      'AGG_ERR_COLLECT_STREAMS_EXHAUSTED',
      `${all} of ${limits.maxStreams} collect streams are reserved; this job needs ${next.streams}`,
      { retryAfterSeconds: 30 },
    );
}
