/**
 * `buildApp(config, deps)`: the whole aggregator as a Fastify instance, for `server.ts` and
 * for tests (`inject()` or a real listener on port 0). It only registers plugins: services
 * are named `fastify-plugin` decorators with declared dependencies (plugins/), API areas are
 * encapsulated route plugins (routes/<area>/) that take their services from the instance.
 * Nothing reads process.env.
 *
 * The store is prepared (templates, system indices, bootstrap admin token) by
 * `app.prepareStore()`, which `server.ts` retries until OpenSearch answers; until then
 * every non-public route answers 503 and `/readyz` says not ready.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { AggregatorConfig } from './config.ts';
import type { OpenSearch } from './store/opensearch.ts';
import type { AggregatorMetrics } from './telemetry/metrics.ts';
import type { LiveClusterView } from './cluster/live-cluster-view.ts';
import { openSearchPlugin } from './plugins/opensearch.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { repositoriesPlugin } from './plugins/repositories.ts';
import { storeLifecyclePlugin } from './plugins/store-lifecycle.ts';
import { bulkWriterPlugin } from './plugins/bulk-writer.ts';
import { searchPlugin } from './plugins/search.ts';
import { clustersPlugin } from './plugins/clusters.ts';
import { jobsPlugin } from './plugins/jobs.ts';
import { unusedConnectionsPlugin } from './plugins/unused-connections.ts';
import { httpHooksPlugin } from './plugins/http-hooks.ts';
import { docsPlugin } from './plugins/docs.ts';
import { errorHandlerPlugin } from './plugins/error-handler.ts';
import { authPlugin } from './plugins/auth.ts';
import { peerTailPlugin } from './plugins/peer-tail.ts';
import { healthComponentsPlugin } from './plugins/health-components.ts';
import { ingestRoutes } from './routes/ingest/ingest-routes.ts';
import { logsRoutes } from './routes/logs/logs-routes.ts';
import { tokenRoutes } from './routes/tokens/token-routes.ts';
import { logqlRoutes } from './routes/logql/logql-routes.ts';
import { healthRoutes } from './routes/health/health-routes.ts';
import { discoveryRoutes } from './routes/discovery/discovery-routes.ts';
import { DiscoveryService } from './routes/discovery/discovery-service.ts';
import { archiveRoutes } from './routes/archive/archive-routes.ts';
import { collectionConfigRoutes } from './routes/config/config-routes.ts';
import { monitoringRoutes } from './routes/monitoring/monitoring-routes.ts';
import { MonitoringService } from './routes/monitoring/monitoring-service.ts';
import { clusterRoutes } from './routes/clusters/cluster-routes.ts';
import { lokiPushRoutes } from './routes/loki-push/loki-push-routes.ts';
import { InFlightBytes } from './routes/ingest/inflight-bytes.ts';
import { lokiRoutes, LOKI_PREFIX } from './routes/loki/loki-routes.ts';
import { collectRoutes } from './routes/collect/collect-routes.ts';
import { tailRoutes } from './routes/tail/tail-routes.ts';
import { uiRoutes } from './routes/ui/ui-routes.ts';

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
  /** Peer replicas' base URLs for live tail fan-out instead of the configured ones (tests). */
  tailPeers?: () => Promise<readonly string[]> | readonly string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** @deprecated the same services as the named decorators (`app.opensearch`, `app.tokens`, …). */
    readonly services: {
      opensearch: FastifyInstance['opensearch'];
      tokens: FastifyInstance['tokens'];
      configs: FastifyInstance['collectionConfigs'];
      heartbeats: FastifyInstance['heartbeats'];
      metrics: FastifyInstance['metrics'];
      pits: FastifyInstance['pits'];
      jobs: FastifyInstance['jobs'];
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

  // Services (order: a plugin after those it depends on; its onRequest hooks run in this order).
  await app.register(openSearchPlugin, { config: config.opensearch, client: deps.opensearch });
  await app.register(metricsPlugin, { metrics: deps.metrics });
  await app.register(repositoriesPlugin, { auth: config.auth });
  await app.register(httpHooksPlugin);
  await app.register(unusedConnectionsPlugin);
  await app.register(healthComponentsPlugin);
  await app.register(storeLifecyclePlugin, { adminToken: config.auth.adminToken, bootstrapIngest: config.auth.bootstrapIngest });
  await app.register(bulkWriterPlugin, config.ingest);
  await app.register(searchPlugin, { maxOpenPits: config.query.maxOpenPits });
  await app.register(clustersPlugin, { kube: config.kube, view: deps.liveClusters });
  await app.register(jobsPlugin, {
    retentionDays: config.retentionDays,
    retentionIntervalMs: config.retentionIntervalMs,
    jobHistoryDays: config.jobHistoryDays,
    // Every continuous collection runs for as long as it is not cancelled: room for all of them and a few others.
    maxConcurrent: 2 + config.collect.maxContinuousJobs,
  });
  await app.register(errorHandlerPlugin);
  await app.register(docsPlugin);
  await app.register(authPlugin, { rateLimit: config.rateLimit, now: deps.rateLimitClock ?? Date.now });
  await app.register(peerTailPlugin, { ingest: config.ingest, prefix: API_BASE, ...(deps.tailPeers ? { peers: deps.tailPeers } : {}) });

  // API areas.
  await app.register(healthRoutes, { registry: app.metrics.registry, ready: () => app.storeReady() });
  // Agent ingest and Loki push shed load on one in-flight byte budget.
  const ingestInFlight = new InFlightBytes(config.ingest.maxInFlightBytes);
  await app.register(ingestRoutes, {
    writer: app.bulkWriter,
    metrics: app.metrics,
    heartbeats: app.heartbeats,
    configs: app.collectionConfigs,
    ...config.ingest,
    inFlight: ingestInFlight,
  });
  await app.register(lokiPushRoutes, { writer: app.bulkWriter, metrics: app.metrics, inFlight: ingestInFlight, ...config.ingest });
  await app.register(logsRoutes, { prefix: API_BASE, search: app.logSearch, limits: config.query });
  await app.register(logqlRoutes, { prefix: API_BASE, opensearch: app.opensearch, indexPrefix: app.storeLayout.indexPrefix, pits: app.pits, limits: config.query });
  await app.register(tokenRoutes, { prefix: API_BASE, tokens: app.tokens });
  await app.register(tailRoutes, { prefix: API_BASE, feed: app.bulkWriter.tail, bufferRecords: app.bulkWriter.tailBufferRecords, search: app.logSearch, refreshIntervalMs: config.opensearch.refreshIntervalMs });
  await app.register(discoveryRoutes, {
    prefix: API_BASE,
    discovery: new DiscoveryService(app.opensearch, app.storeLayout.indexPrefix, app.liveClusters, app.log),
    limits: config.query,
  });
  await app.register(archiveRoutes, { prefix: API_BASE, s3: config.archive, retentionDays: config.retentionDays, limits: config.query });
  await app.register(collectionConfigRoutes, { prefix: API_BASE });
  await app.register(monitoringRoutes, { prefix: API_BASE, monitoring: new MonitoringService(app.opensearch, app.storeLayout.indexPrefix, { extraComponents: app.healthComponents }), limits: config.query });
  await app.register(clusterRoutes, { prefix: API_BASE, registry: app.clusterRegistry, tokens: app.tokens, heartbeats: app.heartbeats, opensearch: app.opensearch, indexPrefix: app.storeLayout.indexPrefix, agentStaleAfterMs: config.kube.agentStaleAfterMs });
  await app.register(lokiRoutes, { prefix: LOKI_PREFIX, opensearch: app.opensearch, indexPrefix: app.storeLayout.indexPrefix, pits: app.pits, limits: config.query, tailFeed: app.bulkWriter.tail, tailBufferRecords: app.bulkWriter.tailBufferRecords, version: '0.1.0', bodyLimitBytes: config.query.maxJsonBodyBytes });
  await app.register(collectRoutes, { prefix: API_BASE, collect: config.collect, staticClusters: config.kube.clusters });
  await app.register(uiRoutes, {});
  // Earlier name of the services, kept for callers written against it; use the decorators.
  app.decorate('services', {
    opensearch: app.opensearch,
    tokens: app.tokens,
    configs: app.collectionConfigs,
    heartbeats: app.heartbeats,
    metrics: app.metrics,
    pits: app.pits,
    jobs: app.jobs,
  });
  // Routes are typed through the plugins' own type provider; callers see a plain instance.
  return app as unknown as FastifyInstance;
}
