/**
 * Collect area (issue 11): log collection through a registered cluster's Kubernetes API
 * (`pods/log`), run as jobs of the job runner.
 *
 *   POST   /collect             one-time: pods (names or label selector) of a namespace
 *   POST   /collect/continuous  follow a namespace's pods (names, selector or all) until cancelled / end_time
 *   POST   /collect/bulk        one-time over every pod of a namespace, a selector or the cluster
 *   GET    /collect/jobs        list (status, type, cluster filters; one by ?id=) with per-pod progress
 *   DELETE /collect/jobs?id=    cancel (a running job stops streaming within a lease renewal)
 *
 * Every endpoint needs `logs:write`; the POSTs are in the heavy rate class. A token limited
 * to namespaces collects from, and sees the jobs of, its namespaces only (a bulk without a
 * namespace covers the token's namespaces). Submission checks what can be checked at once —
 * cluster (404 unknown, 409 without API), namespace and named pods exist (404), selector
 * and window (400), the stream and continuous-job limits (429/409) — and answers 202 with
 * the job id. Registers the collect job types on `app.jobs`. No store logic here.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { nowNanos } from '../../../shared/time.ts';
import type { AggregatorConfig } from '../../config.ts';
import { AppError } from '../../errors.ts';
import { filterDigest } from '../../http/cursor.ts';
import { DEFAULT_LIMIT, PageProperties, PagingQueryProperties } from '../../http/paging.ts';
import { checkWithinScope, scopeCovers, scopeOf, type AccessScope } from '../../http/scope.ts';
import { JobSchema, JobStatuses, type JobDoc } from '../../jobs/job-schema.ts';
import type { Stored } from '../../store/system-repository.ts';
import { ClusterConnections } from '../../cluster/cluster-connections.ts';
import { CollectClusters } from '../../collect/collect-clusters.ts';
import { collectJobHandlers } from '../../collect/collect-jobs.ts';
import { admit, type Reservation } from '../../collect/collect-limits.ts';
import { progressFrom, summary } from '../../collect/collect-progress.ts';
import { selectContainers } from '../../collect/collect-pod.ts';
import { bulkParams, continuousParams, oneTimeParams } from '../../collect/collect-request.ts';
import {
  BULK_COLLECT_JOB,
  BulkBodySchema,
  COLLECT_JOB,
  CONTINUOUS_COLLECT_JOB,
  CollectJobTypes,
  CollectJobViewSchema,
  CollectKinds,
  ContinuousBodySchema,
  JobAcceptedSchema,
  OneTimeBodySchema,
  type CollectJobType,
  type CollectParams,
} from '../../collect/collect-schemas.ts';
import { selectPods } from '../../collect/batch-collector.ts';
import { StreamSlots } from '../../collect/stream-slots.ts';
import type { CollectKube } from '../../collect/kube-collect-client.ts';

const errors = {
  400: ErrorEnvelopeSchema,
  401: ErrorEnvelopeSchema,
  403: ErrorEnvelopeSchema,
  404: ErrorEnvelopeSchema,
  409: ErrorEnvelopeSchema,
  429: ErrorEnvelopeSchema,
  503: ErrorEnvelopeSchema,
};

export interface CollectRoutesOptions {
  collect: AggregatorConfig['collect'];
  staticClusters: AggregatorConfig['kube']['clusters'];
}

/** Pure: the API view of a collect job document. */
export function jobView(s: Stored<JobDoc>) {
  const d = s.doc;
  const progress = d.progress ? { ...summary(progressFrom(d.progress)), pods: progressFrom(d.progress).pods } : null;
  return {
    id: d.id,
    type: d.type,
    status: d.status,
    params: d.params,
    progress,
    result: d.result,
    error: d.error,
    created_at: d.created_at,
    started_at: d.started_at,
    finished_at: d.finished_at,
    attempts: d.attempts,
    cancel_requested: d.cancel_requested,
  };
}

/** Pure: may a caller with `scope` see (and cancel) this job? */
export function jobInScope(scope: AccessScope, params: Record<string, unknown>): boolean {
  const cluster = String(params['cluster'] ?? '');
  const namespaces = params['namespaces'] as string[] | null | undefined;
  if (!namespaces) return scopeCovers(scope, cluster, null);
  return namespaces.every((ns) => scopeCovers(scope, cluster, ns));
}

const kubeFailure = (cluster: string, err: unknown) =>
  err instanceof AppError
    ? err
    : new AppError(
        'AGG_ERR_CLUSTER_NOT_CONNECTED',
        `cluster "${cluster}": the Kubernetes API did not answer (${(err as Error)?.message?.slice(0, 200) ?? 'error'})`,
      );

export const collectRoutes: FastifyPluginAsyncTypebox<CollectRoutesOptions> = async (app, opts) => {
  const c = opts.collect;
  if (!(app.liveClusters instanceof ClusterConnections))
    throw new Error('collect routes need the cluster connections of the clusters plugin');
  const clusters = new CollectClusters(app.clusterRegistry, app.liveClusters, opts.staticClusters);
  app.addHook('onClose', async () => clusters.close());
  const jobsRepo = app.systemRepository('jobs', JobSchema, {
    resource: 'job',
    sortField: 'created_at',
    tiebreakField: 'id',
  });
  for (const h of collectJobHandlers({
    kube: (cluster) => clusters.kube(cluster),
    writer: app.bulkWriter,
    collectionConfig: async (cluster) => (await app.collectionConfigs.get(cluster)).config,
    slots: new StreamSlots(c.maxStreamsPerCluster, c.maxStreams),
    timing: {
      checkpointIntervalMs: c.checkpointIntervalMs,
      reconnectMinMs: c.reconnectMinMs,
      reconnectMaxMs: c.reconnectMaxMs,
      readAttempts: 5,
      configRefreshMs: c.configRefreshMs,
    },
    log: app.log,
  }))
    app.jobs.register(h);

  const activeReservations = async (): Promise<Reservation[]> => {
    const page = await jobsRepo.list({
      filter: [{ terms: { type: [...CollectJobTypes] } }, { terms: { status: ['pending', 'running'] } }],
      limit: 1000,
      digest: 'collect-active',
    });
    return page.items.map((s) => ({
      type: s.doc.type,
      cluster: String(s.doc.params['cluster'] ?? ''),
      streams: Number(s.doc.params['streams_reserved'] ?? 0),
    }));
  };

  const kubeOf = async (cluster: string): Promise<CollectKube> => {
    try {
      return await clusters.kube(cluster);
    } catch (err) {
      throw kubeFailure(cluster, err);
    }
  };

  /**
   * Resolves the pods now (404 for a missing named namespace or pod), reserves streams,
   * submits. `named`: the namespace the request named (a bulk without one covers the token's
   * namespaces, of which this cluster may lack some: those select no pod).
   */
  const submit = async (type: CollectJobType, params: CollectParams, named: string | undefined) => {
    const kube = await kubeOf(params.cluster);
    const signal = AbortSignal.timeout(10_000);
    let containers: number;
    let pods: number;
    try {
      for (const ns of named === undefined ? [] : [named]) {
        if ((await kube.namespaceAnnotations(ns, signal)) === undefined)
          throw new AppError('AGG_ERR_NOT_FOUND', `namespace "${ns}" does not exist in cluster "${params.cluster}"`);
      }
      const sel = await selectPods(kube, params, signal);
      if (sel.missing.length)
        throw new AppError(
          'AGG_ERR_NOT_FOUND',
          `pod(s) ${sel.missing.join(', ')} not found in namespace "${params.namespaces![0]}"`,
        );
      pods = sel.pods.length;
      containers = sel.pods.reduce(
        (n, p) => n + selectContainers(p, params.containers, params.include_init_containers).length,
        0,
      );
    } catch (err) {
      throw kubeFailure(params.cluster, err);
    }
    const streams =
      type === CONTINUOUS_COLLECT_JOB
        ? Math.max(1, containers)
        : type === BULK_COLLECT_JOB
          ? params.concurrency
          : Math.max(1, Math.min(params.concurrency, containers));
    const withStreams = { ...params, streams_reserved: streams };
    admit(await activeReservations(), { type, cluster: params.cluster, streams }, c);
    const job = await app.jobs.submit(type, withStreams);
    // Start it now if this replica has a free slot (otherwise the next poll of some replica does).
    // A pass already under way may have listed before this job existed: one more after it.
    void app.jobs
      .tick()
      .catch(() => [])
      .then(() => app.jobs.tick())
      .catch((err: unknown) =>
        app.log.warn({ err: (err as Error).message }, 'collect: immediate claim failed; the next poll claims the job'),
      );
    return { job_id: job.id, type, status: job.doc.status, pods };
  };

  const post = { auth: 'logs:write' as const, heavy: true };
  const response = { 202: JobAcceptedSchema, ...errors };

  app.post(
    '/collect',
    {
      config: post,
      schema: {
        summary: 'Start a one-time collection from pods of a namespace (names or label selector)',
        tags: ['collect'],
        body: OneTimeBodySchema,
        response,
      },
    },
    async (request, reply) => {
      checkWithinScope(scopeOf(request.principal), [request.body.cluster], [request.body.namespace], 'collect from');
      return reply
        .code(202)
        .send(await submit(COLLECT_JOB, oneTimeParams(request.body, nowNanos(), c), request.body.namespace));
    },
  );
  app.post(
    '/collect/continuous',
    {
      config: post,
      schema: {
        summary:
          'Start a continuous collection: follow the pods of a namespace (and pods that start matching later) until cancelled or end_time',
        tags: ['collect'],
        body: ContinuousBodySchema,
        response,
      },
    },
    async (request, reply) => {
      checkWithinScope(scopeOf(request.principal), [request.body.cluster], [request.body.namespace], 'collect from');
      return reply
        .code(202)
        .send(await submit(CONTINUOUS_COLLECT_JOB, continuousParams(request.body, nowNanos()), request.body.namespace));
    },
  );
  app.post(
    '/collect/bulk',
    {
      config: post,
      schema: {
        summary:
          'Collect once from every pod of a namespace, a label selector or the whole cluster, a few containers at a time',
        tags: ['collect'],
        body: BulkBodySchema,
        response,
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request.principal);
      checkWithinScope(
        scope,
        [request.body.cluster],
        request.body.namespace ? [request.body.namespace] : undefined,
        'collect from',
      );
      return reply
        .code(202)
        .send(
          await submit(
            BULK_COLLECT_JOB,
            bulkParams(request.body, nowNanos(), c, scope.namespaces),
            request.body.namespace,
          ),
        );
    },
  );

  app.get(
    '/collect/jobs',
    {
      config: { auth: 'logs:write' },
      schema: {
        summary:
          'List collection jobs, newest first (filters `status`, `type`, `cluster`; one by `?id=`), with per-pod progress',
        tags: ['collect'],
        querystring: Type.Object(
          {
            id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            status: Type.Optional(Type.Enum(JobStatuses)),
            type: Type.Optional(
              Type.Enum(Object.keys(CollectKinds) as Array<keyof typeof CollectKinds>, {
                description: '`one-time`, `continuous` or `bulk`.',
              }),
            ),
            cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
            ...PagingQueryProperties,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ jobs: Type.Array(CollectJobViewSchema), ...PageProperties }), ...errors },
      },
    },
    async (request) => {
      const scope = scopeOf(request.principal);
      const q = request.query;
      if (q.id) {
        const one = await jobsRepo.get(q.id);
        if (
          !one ||
          !(CollectJobTypes as readonly string[]).includes(one.doc.type) ||
          !jobInScope(scope, one.doc.params)
        )
          throw new AppError('AGG_ERR_NOT_FOUND', `collect job "${q.id}" does not exist`);
        return { jobs: [jobView(one)], has_more: false, next_cursor: null };
      }
      const types = q.type ? [CollectKinds[q.type]] : [...CollectJobTypes];
      // The cluster filter and the token's namespaces are applied to each page (job
      // parameters are not indexed): a page may hold fewer than `limit` jobs.
      const page = await jobsRepo.list({
        filter: [{ terms: { type: types } }, ...(q.status ? [{ term: { status: q.status } }] : [])],
        limit: q.limit ?? DEFAULT_LIMIT,
        cursor: q.cursor,
        order: 'desc',
        digest: filterDigest({ types, status: q.status, cluster: q.cluster }),
      });
      const jobs = page.items
        .filter((s) => (!q.cluster || s.doc.params['cluster'] === q.cluster) && jobInScope(scope, s.doc.params))
        .map(jobView);
      return { jobs, has_more: page.has_more, next_cursor: page.next_cursor };
    },
  );

  app.delete(
    '/collect/jobs',
    {
      config: { auth: 'logs:write' },
      schema: {
        summary:
          'Cancel a collection job (`?id=`): a pending job ends at once, a running one stops streaming within seconds; finished jobs are left as they are',
        tags: ['collect'],
        querystring: Type.Object(
          { id: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: { 200: CollectJobViewSchema, ...errors },
      },
    },
    async (request) => {
      const scope = scopeOf(request.principal);
      const one = await jobsRepo.get(request.query.id);
      if (!one || !(CollectJobTypes as readonly string[]).includes(one.doc.type) || !jobInScope(scope, one.doc.params))
        throw new AppError('AGG_ERR_NOT_FOUND', `collect job "${request.query.id}" does not exist`);
      await app.jobs.cancel(one.id);
      const now = await jobsRepo.get(one.id);
      return jobView(now ?? one);
    },
  );
};
