/**
 * `buildApp(config, deps)`: the whole aggregator as a Fastify instance, for `server.ts` and
 * for tests (`inject()` or a real listener on port 0). Services are built here and handed
 * to the route plugins that need them; nothing reads process.env.
 *
 * The store is prepared (templates, system indices, bootstrap admin token) by
 * `app.prepareStore()`, which `server.ts` retries until OpenSearch answers; until then
 * every non-public route answers 503 and `/readyz` says not ready.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { AggregatorConfig } from './config.ts';
import { AppError } from './errors.ts';
import { createOpenSearchClient, type OpenSearch } from './store/opensearch.ts';
import { bootstrapStore, storeIsReady } from './store/bootstrap.ts';
import { BulkWriter } from './store/bulk-writer.ts';
import { HeartbeatStore } from './store/heartbeat-store.ts';
import { CollectionConfigStore } from './store/collection-config-store.ts';
import { TokenStore } from './auth/token-store.ts';
import { LogSearch } from './query/log-search.ts';
import { PitGate } from './query/pit-gate.ts';
import { createMetrics, type AggregatorMetrics } from './telemetry/metrics.ts';
import { errorHandlerPlugin } from './plugins/error-handler.ts';
import { authPlugin } from './plugins/auth.ts';
import { ingestRoutes } from './routes/ingest/ingest-routes.ts';
import { logsRoutes } from './routes/logs/logs-routes.ts';
import { tokenRoutes } from './routes/tokens/token-routes.ts';
import { healthRoutes } from './routes/health/health-routes.ts';
import { discoveryRoutes } from './routes/discovery/discovery-routes.ts';
import { DiscoveryService } from './routes/discovery/discovery-service.ts';
import { monitoringRoutes } from './routes/monitoring/monitoring-routes.ts';
import { MonitoringService } from './routes/monitoring/monitoring-service.ts';
import { NO_LIVE_VIEW, type LiveClusterView } from './cluster/live-cluster-view.ts';
import { KubeClusterView } from './cluster/kube-cluster-view.ts';
import { JobLeases } from './jobs/job-lease.ts';
import { RetentionJob, startRetentionSchedule } from './jobs/retention-job.ts';

export const API_BASE = '/v1/k8s/logs';

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The caller's request id when it is 1–128 printable ASCII characters (no spaces), else undefined. */
export function acceptedRequestId(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : undefined;
}

export interface AppDeps {
  opensearch?: OpenSearch;
  metrics?: AggregatorMetrics;
  logger?: Logger;
  /** Live cluster view for discovery; default: built from `config.kube` (none when empty). */
  liveClusters?: LiveClusterView;
  /** Clock of the rate-limit windows, ms since the epoch; default `Date.now` (tests fix it). */
  rateLimitClock?: () => number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Creates templates and system indices; returns a generated admin token on first start. */
    prepareStore(): Promise<{ generatedAdminToken: string | undefined }>;
    /** Starts the periodic jobs (retention); `server.ts` calls it once the store is ready. Stopped on close. */
    startJobs(): void;
    readonly services: {
      opensearch: OpenSearch;
      tokens: TokenStore;
      configs: CollectionConfigStore;
      heartbeats: HeartbeatStore;
      metrics: AggregatorMetrics;
      retention: RetentionJob;
      /** Open exports (points in time) of this replica. */
      pits: PitGate;
    };
  }
}

export async function buildApp(config: AggregatorConfig, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: { level: config.logLevel } }),
    // A caller's X-Request-Id is kept only when short and printable (it lands in logs and
    // headers); otherwise one is generated.
    requestIdHeader: false,
    genReqId: (req) => acceptedRequestId(req.headers['x-request-id']) ?? randomUUID(),
    // Non-ingest bodies are small JSON; the ingest route sets its own, larger limit.
    bodyLimit: config.query.maxJsonBodyBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const opensearch = deps.opensearch ?? createOpenSearchClient(config.opensearch);
  const metrics = deps.metrics ?? createMetrics();
  const prefix = config.opensearch.indexPrefix;
  const layout = { indexPrefix: prefix, shards: config.opensearch.shards, replicas: config.opensearch.replicas };
  const tokens = new TokenStore(opensearch, prefix, {
    cacheMs: config.auth.tokenCacheMs,
    negativeCacheMs: config.auth.tokenNegativeCacheMs,
    cacheMaxEntries: config.auth.tokenCacheMaxEntries,
    lookups: metrics.tokenLookups,
  });
  const configs = new CollectionConfigStore(opensearch, prefix);
  const heartbeats = new HeartbeatStore(opensearch, prefix);
  let storePrepared = false;
  const liveClusters =
    deps.liveClusters ??
    (config.kube.clusters.length > 0 ? new KubeClusterView(config.kube.clusters, { requestTimeoutMs: config.kube.requestTimeoutMs, log: app.log }) : NO_LIVE_VIEW);
  const writer = new BulkWriter(opensearch, prefix, { maxBulkBytes: config.ingest.maxBulkBytes });
  const pits = new PitGate(config.query.maxOpenPits);
  const retention = new RetentionJob({
    client: opensearch,
    leases: new JobLeases(opensearch, prefix),
    indexPrefix: prefix,
    retentionDays: config.retentionDays,
    owner: `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`,
    minGapMs: config.retentionIntervalMs / 2,
    log: app.log,
    onDeleted: (index) => writer.forget(index),
  });
  let stopJobs: (() => Promise<void>) | undefined;

  app.decorate('services', { opensearch, tokens, configs, heartbeats, metrics, retention, pits });
  app.decorate('startJobs', () => {
    if (stopJobs) return;
    stopJobs = startRetentionSchedule(retention, { intervalMs: config.retentionIntervalMs, log: app.log }).stop;
  });
  app.decorate('prepareStore', async () => {
    await bootstrapStore(opensearch, layout);
    const generatedAdminToken = await tokens.bootstrapAdmin(config.auth.adminToken);
    storePrepared = true;
    return { generatedAdminToken };
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (!storePrepared && request.routeOptions.config?.auth !== 'public' && !request.is404) {
      throw new AppError('AGG_ERR_STORE_UNAVAILABLE', 'starting: the log store is not ready yet', { retryAfterSeconds: 2 });
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(errorHandlerPlugin);
  await app.register(swagger, {
    openapi: {
      info: { title: 'k8s-logs API', version: '0.1.0', description: 'Kubernetes logs: retrieval, search, collection, archives.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), auth: 'public' };
    });
    await docs.register(swaggerUi, { routePrefix: '/docs' });
  });
  await app.register(authPlugin, { tokens, rateLimit: config.rateLimit, now: deps.rateLimitClock ?? Date.now });

  await app.register(healthRoutes, {
    registry: metrics.registry,
    ready: async () => storePrepared && (await storeIsReady(opensearch, layout)),
  });
  await app.register(ingestRoutes, {
    writer,
    metrics,
    heartbeats,
    configs,
    ...config.ingest,
  });
  await app.register(logsRoutes, { prefix: API_BASE, search: new LogSearch(opensearch, prefix, pits), limits: config.query });
  await app.register(tokenRoutes, { prefix: API_BASE, tokens });
  await app.register(discoveryRoutes, { prefix: API_BASE, discovery: new DiscoveryService(opensearch, prefix, liveClusters, app.log), limits: config.query });
  await app.register(monitoringRoutes, { prefix: API_BASE, monitoring: new MonitoringService(opensearch, prefix), limits: config.query });
  app.addHook('onClose', async () => {
    await stopJobs?.();
    if (!deps.liveClusters) await liveClusters.close?.();
    if (!deps.opensearch) await opensearch.close();
  });
  // Routes are typed through the plugins' own type provider; callers see a plain instance.
  return app as unknown as FastifyInstance;
}
