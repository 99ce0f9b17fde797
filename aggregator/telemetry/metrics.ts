/**
 * The aggregator's Prometheus metrics, created on an injected registry (never the global
 * one) so tests and several app instances in one process do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface AggregatorMetrics {
  readonly registry: Registry;
  readonly receivedRecords: Counter<'cluster'>;
  readonly indexedRecords: Counter<'cluster' | 'result'>;
  readonly rejectedRecords: Counter<'reason'>;
  readonly bulkDuration: Histogram;
  readonly storeErrors: Counter<'operation' | 'kind'>;
  /** Batches answered 503 because the store refused them as a whole (not the batch's fault). */
  readonly ingestStoreRefusals: Counter<'cause'>;
  /** Batches answered 429 by the aggregator itself (in-flight byte budget, bulk queue). */
  readonly ingestThrottled: Counter<'reason'>;
  readonly ingestInFlightBytes: Gauge;
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  readonly tokenLookups: Counter<'result'>;
}

export function createMetrics(registry = new Registry(), opts: { processMetrics?: boolean } = {}): AggregatorMetrics {
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'k8s_logs_aggregator_' });
  const p = 'k8s_logs_aggregator_';
  return {
    registry,
    receivedRecords: new Counter({ name: `${p}received_records_total`, help: 'Records received on ingest.', labelNames: ['cluster'], registers: [registry] }),
    indexedRecords: new Counter({
      name: `${p}indexed_records_total`,
      help: 'Records stored; result="created" or "duplicate" (already stored by an earlier send).',
      labelNames: ['cluster', 'result'],
      registers: [registry],
    }),
    rejectedRecords: new Counter({ name: `${p}rejected_records_total`, help: 'Records rejected for good, by reason.', labelNames: ['reason'], registers: [registry] }),
    bulkDuration: new Histogram({
      name: `${p}bulk_duration_seconds`,
      help: 'Duration of OpenSearch _bulk requests.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: `${p}opensearch_errors_total`,
      help: 'Failed OpenSearch requests by operation and kind (busy, unavailable, rejected, internal).',
      labelNames: ['operation', 'kind'],
      registers: [registry],
    }),
    ingestStoreRefusals: new Counter({
      name: `${p}ingest_store_refusals_total`,
      help: 'Ingest batches answered 503 because the store refused the request (day index creation refused, block, closed or missing index), by cause. The agent resends them.',
      labelNames: ['cause'],
      registers: [registry],
    }),
    ingestThrottled: new Counter({
      name: `${p}ingest_throttled_requests_total`,
      help: 'Ingest requests answered 429 by the aggregator itself; reason="inflight_bytes": the in-flight byte budget was full; reason="bulk_queue": the replica\'s _bulk queue (K8S_LOGS_BULK_MAX_QUEUED) was full.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    ingestInFlightBytes: new Gauge({
      name: `${p}ingest_inflight_bytes`,
      help: 'Bytes of ingest requests being processed (compressed + inflated).',
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: `${p}http_request_duration_seconds`,
      help: 'HTTP request duration by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    tokenLookups: new Counter({
      name: `${p}token_lookups_total`,
      help: 'Store lookups made to verify a bearer token (cache misses); result="valid", "refused" or "error".',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}
