/**
 * The agent's Prometheus metrics, registered on an injected registry (never prom-client's
 * global one, so several agents can run in one process in tests). Naming: base units,
 * `_total` on counters, `k8s_logs_agent_*`, no pod/namespace labels.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

export interface AgentMetrics {
  readonly registry: Registry;
  readonly readBytes: Counter;
  readonly readLines: Counter;
  readonly readRecords: Counter;
  readonly filesWatched: Gauge;
  readonly rotations: Counter<'kind'>;
  readonly fileErrors: Counter<'reason'>;
  readonly sentRecords: Counter;
  readonly sentBytes: Counter;
  readonly sentBatches: Counter<'outcome'>;
  readonly sendDuration: Histogram;
  readonly sendRetries: Counter<'reason'>;
  readonly discarded: Counter<'reason'>;
  readonly anomalies: Counter<'reason'>;
  readonly rejected: Counter<'reason'>;
  readonly queueBytes: Gauge;
  readonly queueLimitBytes: Gauge;
  readonly tailPaused: Gauge;
  readonly backpressurePauses: Counter;
  readonly lastSendTimestamp: Gauge;
  readonly lastAckTimestamp: Gauge;
  readonly bytesBehind: Gauge;
  readonly checkpointWrites: Counter<'outcome'>;
  readonly configUpdates: Counter<'outcome'>;
  readonly heartbeats: Counter<'outcome'>;
  readonly podCacheSize: Gauge;
  readonly kubeWatchRestarts: Counter<'reason'>;
}

export function createAgentMetrics(registry: Registry, opts: { processMetrics: boolean }): AgentMetrics {
  const p = 'k8s_logs_agent_';
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: p });
  const r = [registry];
  return {
    registry,
    readBytes: new Counter({ name: p + 'read_bytes_total', help: 'Bytes read from log files.', registers: r }),
    readLines: new Counter({
      name: p + 'read_lines_total',
      help: 'Physical lines read (partial pieces count separately).',
      registers: r,
    }),
    readRecords: new Counter({
      name: p + 'read_records_total',
      help: 'Logical records produced by parsing (partials joined, before filtering).',
      registers: r,
    }),
    filesWatched: new Gauge({
      name: p + 'files_watched',
      help: 'Files currently open for tailing (including rotated files being drained).',
      registers: r,
    }),
    rotations: new Counter({
      name: p + 'rotations_total',
      help: 'File rotations detected, by kind (rename, truncate).',
      labelNames: ['kind'],
      registers: r,
    }),
    fileErrors: new Counter({
      name: p + 'file_errors_total',
      help: 'File problems survived, by reason (file_unreadable, file_deleted).',
      labelNames: ['reason'],
      registers: r,
    }),
    sentRecords: new Counter({
      name: p + 'sent_records_total',
      help: 'Records acknowledged by the aggregator.',
      registers: r,
    }),
    sentBytes: new Counter({
      name: p + 'sent_bytes_total',
      help: 'Compressed request bytes acknowledged by the aggregator.',
      registers: r,
    }),
    sentBatches: new Counter({
      name: p + 'sent_batches_total',
      help: 'Batches settled, by outcome (accepted, refused).',
      labelNames: ['outcome'],
      registers: r,
    }),
    sendDuration: new Histogram({
      name: p + 'send_duration_seconds',
      help: 'Duration of one ingest request attempt.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    }),
    sendRetries: new Counter({
      name: p + 'send_retries_total',
      help: 'Ingest attempts that will be retried, by reason.',
      labelNames: ['reason'],
      registers: r,
    }),
    discarded: new Counter({
      name: p + 'discarded_records_total',
      help: 'Records not sent, by reason (shared/reasons.ts).',
      labelNames: ['reason'],
      registers: r,
    }),
    anomalies: new Counter({
      name: p + 'line_anomalies_total',
      help: 'Records kept but altered or raw, by reason (parse_failed, line_split, line_truncated, partial_flushed, multiline_capped).',
      labelNames: ['reason'],
      registers: r,
    }),
    rejected: new Counter({
      name: p + 'rejected_records_total',
      help: 'Records the aggregator settled as rejected for good (200 response), by reason.',
      labelNames: ['reason'],
      registers: r,
    }),
    queueBytes: new Gauge({ name: p + 'queue_bytes', help: 'Bytes held awaiting acknowledgement.', registers: r }),
    queueLimitBytes: new Gauge({
      name: p + 'queue_limit_bytes',
      help: 'Queue bound; tailing pauses at it.',
      registers: r,
    }),
    tailPaused: new Gauge({
      name: p + 'tail_paused',
      help: '1 while tailing is paused by backpressure.',
      registers: r,
    }),
    backpressurePauses: new Counter({
      name: p + 'backpressure_pauses_total',
      help: 'Times tailing paused because the queue was full.',
      registers: r,
    }),
    lastSendTimestamp: new Gauge({
      name: p + 'last_successful_send_timestamp_seconds',
      help: 'Unix time of the last acknowledged batch.',
      registers: r,
    }),
    lastAckTimestamp: new Gauge({
      name: p + 'last_checkpoint_timestamp_seconds',
      help: 'Unix time of the last checkpoint write.',
      registers: r,
    }),
    bytesBehind: new Gauge({
      name: p + 'bytes_behind',
      help: 'Bytes in watched files not yet acknowledged.',
      registers: r,
    }),
    checkpointWrites: new Counter({
      name: p + 'checkpoint_writes_total',
      help: 'Checkpoint file writes, by outcome.',
      labelNames: ['outcome'],
      registers: r,
    }),
    configUpdates: new Counter({
      name: p + 'config_polls_total',
      help: 'Collection config polls, by outcome (changed, unchanged, failed).',
      labelNames: ['outcome'],
      registers: r,
    }),
    heartbeats: new Counter({
      name: p + 'heartbeats_total',
      help: 'Heartbeats, by outcome.',
      labelNames: ['outcome'],
      registers: r,
    }),
    podCacheSize: new Gauge({
      name: p + 'pod_cache_pods',
      help: 'Pods known from the node-scoped watch.',
      registers: r,
    }),
    kubeWatchRestarts: new Counter({
      name: p + 'kube_watch_restarts_total',
      help: 'Kubernetes watch restarts, by reason (relist: full list again, e.g. after 410 Expired; resume: watch reconnected from its resourceVersion; error: API unreachable or failing).',
      labelNames: ['reason'],
      registers: r,
    }),
  };
}
