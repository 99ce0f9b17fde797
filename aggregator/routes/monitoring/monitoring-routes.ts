/**
 * Metrics and monitoring under /v1/k8s/logs: `GET /metrics` (log-collection figures over a
 * window, JSON), `GET /clusters/{clusterId}/metrics` (one cluster with its namespaces),
 * `GET /stats` (what the store holds), `GET /health` (components and overall state; 503
 * when down). Every figure is computed from the store and heartbeats, so any replica gives
 * the same answer; the token's cluster/namespace limits apply to every figure.
 * (The Prometheus `/metrics` at the root is health-routes.ts, unchanged.)
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { formatNanos } from '../../../shared/time.ts';
import { AppError, invalidRequest } from '../../errors.ts';
import { budgetFor, checkWindow, type QueryLimits } from '../../query/query-budget.ts';
import { IntervalError, resolveInterval } from '../../query/histogram-interval.ts';
import { checkWithinScope, list, scopeOf, type AccessScope } from '../../http/scope.ts';
import { resolveWindow } from '../../http/time-window.ts';
import { toAppError } from '../../store/opensearch.ts';
import type { MonitoringService } from './monitoring-service.ts';
import { httpStatusOf, runHealth } from './health-checks.ts';
import {
  ClusterMetricsParamsSchema,
  ClusterMetricsQuerySchema,
  ClusterMetricsResponseSchema,
  HealthResponseSchema,
  MetricsQuerySchema,
  MetricsResponseSchema,
  StatsQuerySchema,
  StatsResponseSchema,
} from './schemas.ts';

export interface MonitoringRoutesOptions {
  monitoring: MonitoringService;
  limits: QueryLimits;
  /** Longest a health component may take before it counts as down, ms. Default 5000. */
  healthTimeoutMs?: number;
}

const errors = {
  400: ErrorEnvelopeSchema,
  401: ErrorEnvelopeSchema,
  403: ErrorEnvelopeSchema,
  429: ErrorEnvelopeSchema,
  503: ErrorEnvelopeSchema,
  504: ErrorEnvelopeSchema,
};

interface WindowParams {
  start?: string;
  end?: string;
  interval?: string;
  top?: number;
}

export const monitoringRoutes: FastifyPluginAsyncTypebox<MonitoringRoutesOptions> = async (app, opts) => {
  const figures = async (
    request: FastifyRequest,
    reply: FastifyReply,
    p: WindowParams,
    scope: AccessScope,
    clusters: string[] | undefined,
    namespaces: boolean,
  ) => {
    const started = performance.now();
    const { startNs, endNs } = resolveWindow(p.start, p.end);
    let interval: string;
    try {
      interval = resolveInterval(startNs, endNs, p.interval);
    } catch (err) {
      if (err instanceof IntervalError) throw invalidRequest(`interval: ${err.message}`);
      throw err;
    }
    const budget = budgetFor(request, reply, opts.limits);
    checkWindow(budget, startNs, endNs);
    const q = { scope, ...(clusters ? { clusters } : {}), startNs, endNs, interval, top: p.top ?? 10, namespaces };
    const [store, agents] = await Promise.all([
      opts.monitoring.metrics(q, budget),
      opts.monitoring
        .agentFigures(scope, { startMs: Number(startNs / 1_000_000n), endMs: Number(endNs / 1_000_000n) }, clusters)
        .catch((err: unknown) => {
          throw toAppError(err, 'heartbeats');
        }),
    ]);
    return {
      window: { start: formatNanos(startNs), end: formatNanos(endNs) },
      store,
      agents,
      took_ms: () => Math.round(performance.now() - started),
    };
  };

  app.get(
    '/metrics',
    {
      // Aggregations with scripts over the window: heavy.
      config: { auth: 'logs:read', heavy: true },
      schema: {
        summary:
          'Log-collection metrics over a window: lines and bytes over time, per cluster, top namespaces/pods, ingest lag, discards and rejections by reason',
        tags: ['monitoring'],
        querystring: MetricsQuerySchema,
        response: { 200: MetricsResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request.principal);
      const clusters = list(request.query.cluster);
      checkWithinScope(scope, clusters);
      const { window, store, agents, took_ms } = await figures(request, reply, request.query, scope, clusters, false);
      const { namespaces: _n, ...rest } = store;
      return { window, ...rest, agents, took_ms: took_ms() };
    },
  );

  app.get(
    '/clusters/:clusterId/metrics',
    {
      config: { auth: 'logs:read', heavy: true },
      schema: {
        summary: 'Log-collection metrics of one cluster over a window, with every namespace and the top pods',
        tags: ['monitoring'],
        params: ClusterMetricsParamsSchema,
        querystring: ClusterMetricsQuerySchema,
        response: { 200: ClusterMetricsResponseSchema, 404: ErrorEnvelopeSchema, ...errors },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request.principal);
      const cluster = request.params.clusterId;
      checkWithinScope(scope, [cluster]);
      if (!(await opts.monitoring.clusterKnown(cluster)))
        throw new AppError('AGG_ERR_NOT_FOUND', `cluster "${cluster}" has no logs and no agents`);
      const { window, store, agents, took_ms } = await figures(request, reply, request.query, scope, [cluster], true);
      return { cluster, window, ...store, namespaces: store.namespaces ?? [], agents, took_ms: took_ms() };
    },
  );

  app.get(
    '/stats',
    {
      config: { auth: 'logs:read', heavy: true },
      schema: {
        summary: 'Log statistics: documents, store size, indices, by day, by level, oldest/newest',
        tags: ['monitoring'],
        querystring: StatsQuerySchema,
        response: { 200: StatsResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const scope = scopeOf(request.principal);
      const clusters = list(request.query.cluster);
      checkWithinScope(scope, clusters);
      const stats = await opts.monitoring.stats(
        { scope, ...(clusters ? { clusters } : {}) },
        budgetFor(request, reply, opts.limits),
      );
      return { ...stats, took_ms: Math.round(performance.now() - started) };
    },
  );

  app.get(
    '/health',
    {
      config: { auth: 'logs:read' },
      schema: {
        summary:
          'System health: OpenSearch, S3 (when configured), clusters, agents, jobs; 200 when ok or degraded, 503 when down',
        tags: ['monitoring'],
        // No parameter: a typo is an error, not a silent default.
        querystring: Type.Object({}, { additionalProperties: false }),
        response: {
          200: HealthResponseSchema,
          503: HealthResponseSchema,
          401: ErrorEnvelopeSchema,
          403: ErrorEnvelopeSchema,
          429: ErrorEnvelopeSchema,
        },
      },
    },
    async (request, reply) => {
      const report = await runHealth(
        opts.monitoring.components(scopeOf(request.principal)),
        opts.healthTimeoutMs ?? 5000,
      );
      return reply.status(httpStatusOf(report.status)).send(report);
    },
  );
};
