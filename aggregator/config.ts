/**
 * Aggregator configuration, parsed once from flags and environment into a frozen object.
 * All problems are reported together. Components receive their slice, never process.env.
 */
import { parseArgs } from 'node:util';
import { isValidClusterId, type LogIndexSettings } from './store/log-indices.ts';

export interface AggregatorConfig {
  /** Listen address. Env `K8S_LOGS_HOST`, flag `--host`. Default `0.0.0.0`. */
  readonly host: string;
  /** Listen port; 0 picks a free one. Env `K8S_LOGS_PORT`, flag `--port`. Default 8080. */
  readonly port: number;
  /** pino level. Env `K8S_LOGS_LOG_LEVEL`, flag `--log-level`. Default `info`. */
  readonly logLevel: string;
  readonly opensearch: {
    /** OpenSearch URL. Env `OPENSEARCH_URL`, flag `--opensearch-url`. Default `http://127.0.0.1:9200`. */
    readonly url: string;
    /** Basic auth user. Env `OPENSEARCH_USERNAME`. Default none. */
    readonly username: string | undefined;
    /** Basic auth password. Env `OPENSEARCH_PASSWORD`. Default none. */
    readonly password: string | undefined;
    /** Per-request timeout in ms. Env `OPENSEARCH_REQUEST_TIMEOUT_MS`. Default 30000. */
    readonly requestTimeoutMs: number;
    /** Prefix of every index the aggregator owns. Env `K8S_LOGS_INDEX_PREFIX`. Default `k8s-logs`. */
    readonly indexPrefix: string;
    /** Primary shards per daily log index. Env `K8S_LOGS_SHARDS`. Default 1. */
    readonly shards: number;
    /** Replicas per daily log index. Env `K8S_LOGS_REPLICAS`. Default 0. */
    readonly replicas: number;
    /**
     * Refresh interval of the log indices, ms: how soon a stored line is returned by `GET /`
     * and search (live tail does not wait for it). Longer is cheaper to index.
     * Env `K8S_LOGS_REFRESH_INTERVAL_MS`. Default 1000.
     */
    readonly refreshIntervalMs: number;
    /**
     * Translog durability of the log indices: `request` (fsync before each `_bulk` answer;
     * an acknowledged line survives an OpenSearch crash) or `async` (fsync every
     * `translogSyncIntervalMs`: a crash may lose acknowledged lines, which agents do not
     * resend). Env `K8S_LOGS_TRANSLOG_DURABILITY`. Default `request`.
     */
    readonly translogDurability: 'request' | 'async';
    /** Translog fsync period under `async` durability, ms. Env `K8S_LOGS_TRANSLOG_SYNC_INTERVAL_MS`. Default 5000. */
    readonly translogSyncIntervalMs: number;
    /** Stored-fields codec, `default` or `best_compression`. Env `K8S_LOGS_INDEX_CODEC`. Default `best_compression`. */
    readonly codec: 'default' | 'best_compression';
    /** Sort day-index segments newest first (`true`/`false`). Env `K8S_LOGS_INDEX_SORT`. Default true. */
    readonly sortByTime: boolean;
    /**
     * Type of the full-text sub-field `message.text`: `text`, or `match_only_text` (no
     * positions or frequencies; phrases are verified against the stored line; results are
     * the same since the API orders by time, not score; no indexing gain measurable on the
     * 2-core machine, README "Benchmarks"). Env `K8S_LOGS_MESSAGE_TEXT`. Default `text`.
     */
    readonly messageText: 'text' | 'match_only_text';
  };
  readonly auth: {
    /**
     * Bootstrap admin token. Env `K8S_LOGS_ADMIN_TOKEN`. Default: none; then one is
     * generated on the first start against an empty store and printed once.
     */
    readonly adminToken: string | undefined;
    /**
     * The agents' ingest token of one cluster, registered at every start (scope `ingest`,
     * that cluster only): how the Helm chart wires its agents with no manual step, the same
     * Secret feeding both. Env `K8S_LOGS_BOOTSTRAP_INGEST_TOKEN` (≥ 16 characters) and
     * `K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER` (a cluster id). Default: none. A changed secret
     * revokes the previous one at start.
     */
    readonly bootstrapIngest: { readonly token: string; readonly cluster: string } | undefined;
    /** How long a verified token is trusted without a store lookup, ms. Default 10000. */
    readonly tokenCacheMs: number;
    /** How long an unknown, revoked or expired token is refused without a store lookup, ms. Default 2000. */
    readonly tokenNegativeCacheMs: number;
    /** Bound of each of the valid-token and refused-token caches (LRU), entries. Default 10000. */
    readonly tokenCacheMaxEntries: number;
  };
  readonly ingest: {
    /** Largest accepted request body (compressed), bytes. Env `K8S_LOGS_INGEST_MAX_BODY_BYTES`. Default 16 MiB. */
    readonly maxBodyBytes: number;
    /** Largest accepted body after gunzip, bytes. Env `K8S_LOGS_INGEST_MAX_INFLATED_BYTES`. Default 64 MiB. */
    readonly maxInflatedBytes: number;
    /** Largest single record (one NDJSON line), bytes. Default 2 MiB. */
    readonly maxRecordBytes: number;
    /**
     * Oldest accepted record timestamp, as an age before the aggregator's clock, ms; older
     * records are rejected with reason `too_old` (counted, never stored). Set against
     * retention: it may not exceed `retentionDays`, so no record is written into a day that
     * retention deletes (or already deleted: such a write would recreate the day index).
     * Env `K8S_LOGS_INGEST_MAX_RECORD_AGE_MS`. Default 7 days, or `retentionDays` if shorter.
     */
    readonly maxRecordAgeMs: number;
    /**
     * Newest accepted record timestamp, as a lead over the aggregator's clock, ms (clock skew
     * between nodes); later records are rejected with reason `too_new`, so a wrong clock
     * cannot create a day index for the year 2099. Env `K8S_LOGS_INGEST_MAX_RECORD_AHEAD_MS`.
     * Default 600000 (10 min).
     */
    readonly maxRecordAheadMs: number;
    /**
     * Bytes of ingest requests being processed at once (compressed body + inflated body,
     * per request, from gunzip to the answer). A request that would pass it gets `429` +
     * `Retry-After` (code `ingest_overloaded`) before it is decoded; a request is always
     * admitted when nothing else is in flight. At least `maxInflatedBytes`.
     * Decoding holds each byte several times over (text, parsed records, bulk body), so the
     * default keeps a replica well inside the chart's 1 GiB memory limit.
     * Env `K8S_LOGS_INGEST_MAX_INFLIGHT_BYTES`. Default 128 MiB.
     */
    readonly maxInFlightBytes: number;
    /**
     * Largest `_bulk` request body sent to OpenSearch, bytes: a batch is split into several
     * requests at record boundaries, so none exceeds OpenSearch's `http.max_content_length`
     * (100 MiB by default). Env `K8S_LOGS_BULK_MAX_BYTES`. Default 10 MiB.
     */
    readonly maxBulkBytes: number;
    /**
     * `_bulk` requests this replica has in flight at OpenSearch at once (the chunks of one
     * batch and of concurrent batches share them). Keep replicas × this near OpenSearch's
     * write threads (one per core per data node) times a small factor: more only queues
     * inside OpenSearch. Env `K8S_LOGS_BULK_CONCURRENCY`. Default 4.
     */
    readonly maxConcurrentBulks: number;
    /**
     * `_bulk` requests allowed to wait for one of those slots; a batch that would wait
     * behind more is answered `429` + `Retry-After` (code `ingest_overloaded`) before any
     * of it is sent, so OpenSearch's write queue never overflows with our requests.
     * Env `K8S_LOGS_BULK_MAX_QUEUED`. Default 16.
     */
    readonly maxQueuedBulks: number;
    /**
     * Live tail views this replica feeds at once from what it stores (aggregator/tail/).
     * Env `K8S_LOGS_LIVE_TAIL_MAX_SUBSCRIBERS`. Default 100.
     */
    readonly liveTailMaxSubscribers: number;
    /**
     * Records buffered per live tail view before its oldest are dropped (the view is told
     * the span and refills it from the store). Env `K8S_LOGS_LIVE_TAIL_BUFFER_RECORDS`.
     * Default 10000.
     */
    readonly liveTailBufferRecords: number;
    /**
     * Shared secret of the replicas for live tail fan-out: each replica streams what it
     * accepts to its peers' views (aggregator/tail/peer-links.ts); '' = off, a replica's
     * views then see only what it received itself live. Env `K8S_LOGS_LIVE_TAIL_PEER_TOKEN`.
     * Default ''.
     */
    readonly liveTailPeerToken: string;
    /** Peer replicas' base URLs (`http://host:port`), comma-separated. Env `K8S_LOGS_LIVE_TAIL_PEERS`. Default none. */
    readonly liveTailPeers: readonly string[];
    /**
     * `host:port` of the replicas' headless Service: every address it resolves to is a peer
     * (this replica recognises itself). Env `K8S_LOGS_LIVE_TAIL_PEER_SERVICE`. Default ''.
     */
    readonly liveTailPeerService: string;
  };
  readonly rateLimit: {
    /** Requests per minute per token on standard endpoints; 0 disables. Env `K8S_LOGS_RATE_LIMIT_STANDARD`. Default 100. */
    readonly standardPerMinute: number;
    /** Requests per minute per token on heavy endpoints (search, LogQL, archive start, collect); 0 disables. Env `K8S_LOGS_RATE_LIMIT_HEAVY`. Default 10. */
    readonly heavyPerMinute: number;
  };
  /**
   * Bounds of API requests outside ingest (README "Limits"). Heavy = `POST /search`,
   * `GET /` with `q`, every NDJSON export and discovery; everything else is standard.
   */
  readonly query: {
    /** Largest JSON body of a non-ingest route, bytes (413 beyond). Env `K8S_LOGS_QUERY_MAX_BODY_BYTES`. Default 1 MiB. */
    readonly maxJsonBodyBytes: number;
    /** Longest a standard request's store query may run before it is cancelled (504), ms. Env `K8S_LOGS_QUERY_TIMEOUT_STANDARD_MS`. Default 10000. */
    readonly standardTimeoutMs: number;
    /** Same for heavy requests (per page read, for exports), ms. Env `K8S_LOGS_QUERY_TIMEOUT_HEAVY_MS`. Default 30000. */
    readonly heavyTimeoutMs: number;
    /** Longest time window (`end - start`) of a standard request, hours (400 beyond). Env `K8S_LOGS_QUERY_MAX_WINDOW_STANDARD_HOURS`. Default 744 (31 d). */
    readonly maxWindowStandardHours: number;
    /** Longest time window of a heavy request, hours. Env `K8S_LOGS_QUERY_MAX_WINDOW_HEAVY_HOURS`. Default 168 (7 d). */
    readonly maxWindowHeavyHours: number;
    /** Points in time (open exports) this replica holds at once; beyond it 429 + Retry-After. Env `K8S_LOGS_QUERY_MAX_OPEN_PITS`. Default 8. */
    readonly maxOpenPits: number;
  };
  /** Days of logs kept in OpenSearch; older day indices are deleted. Env `K8S_LOGS_RETENTION_DAYS`. Default 7. */
  readonly retentionDays: number;
  /**
   * How often each replica tries to run the retention job, ms (a lease in the `jobs`
   * system index lets one replica at a time run it). Env `K8S_LOGS_RETENTION_INTERVAL_MS`.
   * Default 3600000 (1 h).
   */
  readonly retentionIntervalMs: number;
  /**
   * Days the documents of finished jobs (retention, archive, restore, collect) are kept in
   * the `jobs` system index; the retention job deletes older ones. Env
   * `K8S_LOGS_JOB_HISTORY_DAYS`. Default 30.
   */
  readonly jobHistoryDays: number;
  readonly kube: {
    /**
     * Clusters with a live view for the discovery endpoints (`/namespaces`, `/pods`,
     * `/containers`): cluster id and the kubeconfig file whose current context reaches it.
     * Env `K8S_LOGS_KUBECONFIG` (path) + `K8S_LOGS_KUBE_CLUSTER` (cluster id, default
     * `local`) configure one. Default: none (discovery answers from the index alone).
     */
    readonly clusters: ReadonlyArray<{ readonly cluster: string; readonly kubeconfigPath: string }>;
    /** Longest wait for a live cluster listing before answering from the index alone, ms. Env `K8S_LOGS_KUBE_TIMEOUT_MS`. Default 3000. */
    readonly requestTimeoutMs: number;
    /**
     * Key encrypting registered clusters' API credentials at rest (AES-256-GCM): 32 bytes as
     * 64 hex characters or base64. Env `K8S_LOGS_CREDENTIALS_KEY` (chart: a Secret). Default
     * none: registering a cluster with credentials is refused (409). Never logged.
     */
    readonly credentialsKey: string | undefined;
    /** How often each replica re-reads the cluster registrations (changes made on other replicas), ms. Env `K8S_LOGS_CLUSTER_SYNC_INTERVAL_MS`. Default 15000. */
    readonly syncIntervalMs: number;
    /** An agent whose last heartbeat is older than this is stale in `/clusters/status`, ms. Env `K8S_LOGS_AGENT_STALE_AFTER_MS`. Default 90000 (3 heartbeats). */
    readonly agentStaleAfterMs: number;
  };
  /** Collect jobs through the Kubernetes API (`/collect*`, issue 11). */
  readonly collect: {
    /** `pods/log` streams collect jobs may hold per cluster (reserved at submission; 429 beyond). Env `K8S_LOGS_COLLECT_MAX_STREAMS_PER_CLUSTER`. Default 100. */
    readonly maxStreamsPerCluster: number;
    /** Streams over all clusters. Env `K8S_LOGS_COLLECT_MAX_STREAMS`. Default 500. */
    readonly maxStreams: number;
    /** Continuous collections running at once (409 beyond). Env `K8S_LOGS_COLLECT_MAX_CONTINUOUS_JOBS`. Default 20. */
    readonly maxContinuousJobs: number;
    /** Containers a bulk job reads at once unless it asks otherwise. Env `K8S_LOGS_COLLECT_BULK_CONCURRENCY`. Default 5. */
    readonly bulkConcurrencyDefault: number;
    /** Most containers a bulk job may read at once. Env `K8S_LOGS_COLLECT_BULK_MAX_CONCURRENCY`. Default 20. */
    readonly bulkConcurrencyMax: number;
    /** Containers a one-time job reads at once. Env `K8S_LOGS_COLLECT_ONE_TIME_CONCURRENCY`. Default 4. */
    readonly oneTimeConcurrency: number;
    /** Persist per-container positions at most this often, ms. Env `K8S_LOGS_COLLECT_CHECKPOINT_INTERVAL_MS`. Default 1000. */
    readonly checkpointIntervalMs: number;
    /** First wait before a follow stream reconnects, ms (doubles on failures). Env `K8S_LOGS_COLLECT_RECONNECT_MIN_MS`. Default 250. */
    readonly reconnectMinMs: number;
    /** Longest wait between reconnects, ms. Env `K8S_LOGS_COLLECT_RECONNECT_MAX_MS`. Default 10000. */
    readonly reconnectMaxMs: number;
    /** Continuous collections re-read the collection config and the namespace's annotations this often (a namespace disabled or annotated out meanwhile stops being followed), ms. Env `K8S_LOGS_COLLECT_CONFIG_REFRESH_MS`. Default 5000. */
    readonly configRefreshMs: number;
  };
  /** The S3 endpoint archive policies write to (the bucket is per policy). */
  readonly archive: {
    /** S3 endpoint URL. Env `S3_ENDPOINT`. Default: none (AWS's regional endpoint). */
    readonly s3Endpoint: string | undefined;
    /** Region. Env `S3_REGION`. Default `us-east-1`. */
    readonly s3Region: string;
    /** Access key id. Env `S3_ACCESS_KEY_ID`. Default: none (the SDK's credential chain). */
    readonly s3AccessKeyId: string | undefined;
    /** Secret key. Env `S3_SECRET_ACCESS_KEY`. Never logged or returned. Default: none. */
    readonly s3SecretAccessKey: string | undefined;
    /** Path-style addressing, as local S3 servers need. Env `S3_FORCE_PATH_STYLE` (`true`/`false`). Default true when `S3_ENDPOINT` is set. */
    readonly s3ForcePathStyle: boolean;
    /** Per-request timeout of S3 calls, ms. Env `S3_REQUEST_TIMEOUT_MS`. Default 30000. */
    readonly s3RequestTimeoutMs: number;
    /** Stored (compressed) bytes one `GET /s3/content` request may read; more is a 400 asking for narrower filters. Env `K8S_LOGS_ARCHIVE_CONTENT_MAX_SCAN_BYTES`. Default 268435456 (256 MiB). */
    readonly contentMaxScanBytes: number;
    /** How often each replica looks for archive policies due a scheduled run, ms. Env `K8S_LOGS_ARCHIVE_SCHEDULE_TICK_MS`. Default 60000. */
    readonly scheduleTickMs: number;
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

export const HELP = `k8s-logs-aggregator — receives agent batches, stores them in OpenSearch, serves the API.

Usage: k8s-logs-aggregator [flags]

Flags (each also read from the environment variable shown):
  --host <addr>            K8S_LOGS_HOST              listen address (default 0.0.0.0)
  --port <n>               K8S_LOGS_PORT              listen port (default 8080, 0 = any)
  --opensearch-url <url>   OPENSEARCH_URL             OpenSearch (default http://127.0.0.1:9200)
                           OPENSEARCH_USERNAME / OPENSEARCH_PASSWORD   basic auth
  --index-prefix <p>       K8S_LOGS_INDEX_PREFIX      index name prefix (default k8s-logs)
  --retention-days <n>     K8S_LOGS_RETENTION_DAYS    days kept in OpenSearch (default 7)
                           K8S_LOGS_RETENTION_INTERVAL_MS          retention job interval (1 h)
                           K8S_LOGS_JOB_HISTORY_DAYS  days finished jobs are listed before pruning (default 30)
                           K8S_LOGS_KUBECONFIG / K8S_LOGS_KUBE_CLUSTER   live view of one cluster (none / local)
                           K8S_LOGS_CREDENTIALS_KEY   32-byte key (hex/base64) encrypting cluster credentials (none)
                           K8S_LOGS_CLUSTER_SYNC_INTERVAL_MS / K8S_LOGS_AGENT_STALE_AFTER_MS   (15 s / 90 s)
                           K8S_LOGS_ADMIN_TOKEN       bootstrap admin token (default: generated once, printed)
                           K8S_LOGS_BOOTSTRAP_INGEST_TOKEN / _CLUSTER   agents' ingest token of one cluster, registered at start (none)
                           K8S_LOGS_RATE_LIMIT_STANDARD / _HEAVY   requests/min per token (100 / 10)
                           K8S_LOGS_INGEST_MAX_BODY_BYTES          ingest body limit (16 MiB)
                           K8S_LOGS_INGEST_MAX_RECORD_AGE_MS / _AHEAD_MS   accepted timestamps (7 d ≤ retention / 10 min)
                           K8S_LOGS_INGEST_MAX_INFLIGHT_BYTES      ingest bytes in flight, then 429 (128 MiB)
                           K8S_LOGS_BULK_MAX_BYTES                 largest _bulk request (10 MiB)
                           K8S_LOGS_BULK_CONCURRENCY / _MAX_QUEUED  _bulk in flight / waiting, then 429 (4 / 16)
                           K8S_LOGS_LIVE_TAIL_MAX_SUBSCRIBERS / _BUFFER_RECORDS   live tail views (100 / 10000)
                           K8S_LOGS_LIVE_TAIL_PEER_TOKEN / _PEERS / _PEER_SERVICE  tail fan-out between replicas (off)
                           K8S_LOGS_SHARDS / K8S_LOGS_REPLICAS     per day index (1 / 0)
                           K8S_LOGS_REFRESH_INTERVAL_MS            searchable after (1000)
                           K8S_LOGS_TRANSLOG_DURABILITY / _SYNC_INTERVAL_MS   request|async (request / 5000)
                           K8S_LOGS_INDEX_CODEC / K8S_LOGS_INDEX_SORT / K8S_LOGS_MESSAGE_TEXT   (best_compression / true / text)
                           K8S_LOGS_QUERY_MAX_BODY_BYTES           other JSON bodies (1 MiB)
                           K8S_LOGS_QUERY_TIMEOUT_STANDARD_MS / _HEAVY_MS   query timeouts (10000 / 30000)
                           K8S_LOGS_QUERY_MAX_WINDOW_STANDARD_HOURS / _HEAVY_HOURS   time window (744 / 168)
                           K8S_LOGS_QUERY_MAX_OPEN_PITS            concurrent exports per replica (8)
  --log-level <level>      K8S_LOGS_LOG_LEVEL         trace|debug|info|warn|error (default info)
  -h, --help               this text

API: /v1/k8s/logs (Bearer token), ingest: POST /v1/ingest, docs: /docs, metrics: /metrics
`;

type Source = Record<string, string | undefined>;

export function loadConfig(argv: string[], env: Source): AggregatorConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'opensearch-url': { type: 'string' },
      'index-prefix': { type: 'string' },
      'retention-days': { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
  });
  const problems: string[] = [];
  const str = (flag: string | undefined, envName: string, def: string) =>
    flag ?? env[envName] ?? def;
  const int = (raw: string, name: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return min;
    }
    return n;
  };
  const oneOf = <T extends string>(raw: string, name: string, allowed: readonly T[]): T => {
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name} must be one of ${allowed.join('|')}, got "${raw}"`);
    return allowed[0]!;
  };
  const url = str(values['opensearch-url'], 'OPENSEARCH_URL', 'http://127.0.0.1:9200');
  if (!URL.canParse(url)) problems.push(`OPENSEARCH_URL is not a URL: "${url}"`);
  const indexPrefix = str(values['index-prefix'], 'K8S_LOGS_INDEX_PREFIX', 'k8s-logs');
  if (!/^[a-z0-9][a-z0-9_-]{0,40}$/.test(indexPrefix)) {
    problems.push(`index prefix must be lower-case letters, digits, - or _, got "${indexPrefix}"`);
  }
  const logLevel = str(values['log-level'], 'K8S_LOGS_LOG_LEVEL', 'info');
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    problems.push(`log level must be one of trace|debug|info|warn|error|fatal|silent, got "${logLevel}"`);
  }
  const adminToken = env['K8S_LOGS_ADMIN_TOKEN'] || undefined;
  if (adminToken !== undefined && adminToken.length < 16) {
    problems.push('K8S_LOGS_ADMIN_TOKEN must be at least 16 characters');
  }
  const bootstrapIngestToken = env['K8S_LOGS_BOOTSTRAP_INGEST_TOKEN'] || undefined;
  const bootstrapIngestCluster = env['K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER'] || undefined;
  if (bootstrapIngestToken !== undefined && bootstrapIngestToken.length < 16) {
    problems.push('K8S_LOGS_BOOTSTRAP_INGEST_TOKEN must be at least 16 characters');
  }
  if ((bootstrapIngestToken === undefined) !== (bootstrapIngestCluster === undefined)) {
    problems.push('K8S_LOGS_BOOTSTRAP_INGEST_TOKEN and K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER are set together or not at all');
  }
  if (bootstrapIngestCluster !== undefined && !isValidClusterId(bootstrapIngestCluster)) {
    problems.push(`K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER must be a valid cluster id, got "${bootstrapIngestCluster}"`);
  }
  const bootstrapIngest =
    bootstrapIngestToken && bootstrapIngestCluster ? { token: bootstrapIngestToken, cluster: bootstrapIngestCluster } : undefined;
  const kubeconfigPath = env['K8S_LOGS_KUBECONFIG'] || undefined;
  const kubeCluster = env['K8S_LOGS_KUBE_CLUSTER'] || 'local';
  if (kubeconfigPath !== undefined && !isValidClusterId(kubeCluster)) {
    problems.push(`K8S_LOGS_KUBE_CLUSTER must be a valid cluster id, got "${kubeCluster}"`);
  }
  const retentionDays = int(str(values['retention-days'], 'K8S_LOGS_RETENTION_DAYS', '7'), 'retention days', 1, 3650);
  const maxInflatedBytes = int(env['K8S_LOGS_INGEST_MAX_INFLATED_BYTES'] ?? String(64 << 20), 'K8S_LOGS_INGEST_MAX_INFLATED_BYTES', 1024, 1 << 30);
  const retentionMs = retentionDays * 86_400_000;
  const maxRecordAgeMs = int(env['K8S_LOGS_INGEST_MAX_RECORD_AGE_MS'] ?? String(Math.min(7 * 86_400_000, retentionMs)), 'K8S_LOGS_INGEST_MAX_RECORD_AGE_MS', 60_000, 3650 * 86_400_000);
  if (maxRecordAgeMs > retentionMs) {
    problems.push(`K8S_LOGS_INGEST_MAX_RECORD_AGE_MS (${maxRecordAgeMs}) may not exceed the retention of ${retentionDays} days (${retentionMs} ms)`);
  }
  const maxInFlightBytes = int(env['K8S_LOGS_INGEST_MAX_INFLIGHT_BYTES'] ?? String(128 << 20), 'K8S_LOGS_INGEST_MAX_INFLIGHT_BYTES', 1024, 2 ** 40);
  if (maxInFlightBytes < maxInflatedBytes) {
    problems.push(`K8S_LOGS_INGEST_MAX_INFLIGHT_BYTES (${maxInFlightBytes}) must be at least K8S_LOGS_INGEST_MAX_INFLATED_BYTES (${maxInflatedBytes})`);
  }
  const config: AggregatorConfig = {
    host: str(values.host, 'K8S_LOGS_HOST', '0.0.0.0'),
    port: int(str(values.port, 'K8S_LOGS_PORT', '8080'), 'port', 0, 65535),
    logLevel,
    opensearch: {
      url,
      username: env['OPENSEARCH_USERNAME'] || undefined,
      password: env['OPENSEARCH_PASSWORD'] || undefined,
      requestTimeoutMs: int(env['OPENSEARCH_REQUEST_TIMEOUT_MS'] ?? '30000', 'OPENSEARCH_REQUEST_TIMEOUT_MS', 100, 600_000),
      indexPrefix,
      shards: int(env['K8S_LOGS_SHARDS'] ?? '1', 'K8S_LOGS_SHARDS', 1, 64),
      replicas: int(env['K8S_LOGS_REPLICAS'] ?? '0', 'K8S_LOGS_REPLICAS', 0, 8),
      refreshIntervalMs: int(env['K8S_LOGS_REFRESH_INTERVAL_MS'] ?? '1000', 'K8S_LOGS_REFRESH_INTERVAL_MS', 100, 3_600_000),
      translogDurability: oneOf(env['K8S_LOGS_TRANSLOG_DURABILITY'] ?? 'request', 'K8S_LOGS_TRANSLOG_DURABILITY', ['request', 'async'] as const),
      translogSyncIntervalMs: int(env['K8S_LOGS_TRANSLOG_SYNC_INTERVAL_MS'] ?? '5000', 'K8S_LOGS_TRANSLOG_SYNC_INTERVAL_MS', 100, 3_600_000),
      codec: oneOf(env['K8S_LOGS_INDEX_CODEC'] ?? 'best_compression', 'K8S_LOGS_INDEX_CODEC', ['default', 'best_compression'] as const),
      sortByTime: oneOf(env['K8S_LOGS_INDEX_SORT'] ?? 'true', 'K8S_LOGS_INDEX_SORT', ['true', 'false'] as const) === 'true',
      messageText: oneOf(env['K8S_LOGS_MESSAGE_TEXT'] ?? 'text', 'K8S_LOGS_MESSAGE_TEXT', ['text', 'match_only_text'] as const),
    },
    auth: { adminToken, bootstrapIngest, tokenCacheMs: 10_000, tokenNegativeCacheMs: 2_000, tokenCacheMaxEntries: 10_000 },
    ingest: {
      maxBodyBytes: int(env['K8S_LOGS_INGEST_MAX_BODY_BYTES'] ?? String(16 << 20), 'K8S_LOGS_INGEST_MAX_BODY_BYTES', 1024, 1 << 30),
      maxInflatedBytes,
      maxRecordBytes: 2 << 20,
      maxRecordAgeMs,
      maxRecordAheadMs: int(env['K8S_LOGS_INGEST_MAX_RECORD_AHEAD_MS'] ?? '600000', 'K8S_LOGS_INGEST_MAX_RECORD_AHEAD_MS', 0, 366 * 86_400_000),
      maxInFlightBytes,
      maxBulkBytes: int(env['K8S_LOGS_BULK_MAX_BYTES'] ?? String(10 << 20), 'K8S_LOGS_BULK_MAX_BYTES', 64 * 1024, 1 << 30),
      maxConcurrentBulks: int(env['K8S_LOGS_BULK_CONCURRENCY'] ?? '4', 'K8S_LOGS_BULK_CONCURRENCY', 1, 256),
      maxQueuedBulks: int(env['K8S_LOGS_BULK_MAX_QUEUED'] ?? '16', 'K8S_LOGS_BULK_MAX_QUEUED', 0, 10_000),
      liveTailMaxSubscribers: int(env['K8S_LOGS_LIVE_TAIL_MAX_SUBSCRIBERS'] ?? '100', 'K8S_LOGS_LIVE_TAIL_MAX_SUBSCRIBERS', 0, 100_000),
      liveTailBufferRecords: int(env['K8S_LOGS_LIVE_TAIL_BUFFER_RECORDS'] ?? '10000', 'K8S_LOGS_LIVE_TAIL_BUFFER_RECORDS', 1, 10_000_000),
      liveTailPeerToken: env['K8S_LOGS_LIVE_TAIL_PEER_TOKEN'] ?? '',
      liveTailPeers: (env['K8S_LOGS_LIVE_TAIL_PEERS'] ?? '').split(',').map((u) => u.trim()).filter((u) => u !== ''),
      liveTailPeerService: env['K8S_LOGS_LIVE_TAIL_PEER_SERVICE'] ?? '',
    },
    rateLimit: {
      standardPerMinute: int(env['K8S_LOGS_RATE_LIMIT_STANDARD'] ?? '100', 'K8S_LOGS_RATE_LIMIT_STANDARD', 0, 1_000_000),
      heavyPerMinute: int(env['K8S_LOGS_RATE_LIMIT_HEAVY'] ?? '10', 'K8S_LOGS_RATE_LIMIT_HEAVY', 0, 1_000_000),
    },
    query: {
      maxJsonBodyBytes: int(env['K8S_LOGS_QUERY_MAX_BODY_BYTES'] ?? String(1 << 20), 'K8S_LOGS_QUERY_MAX_BODY_BYTES', 1024, 1 << 30),
      standardTimeoutMs: int(env['K8S_LOGS_QUERY_TIMEOUT_STANDARD_MS'] ?? '10000', 'K8S_LOGS_QUERY_TIMEOUT_STANDARD_MS', 100, 600_000),
      heavyTimeoutMs: int(env['K8S_LOGS_QUERY_TIMEOUT_HEAVY_MS'] ?? '30000', 'K8S_LOGS_QUERY_TIMEOUT_HEAVY_MS', 100, 600_000),
      maxWindowStandardHours: int(env['K8S_LOGS_QUERY_MAX_WINDOW_STANDARD_HOURS'] ?? '744', 'K8S_LOGS_QUERY_MAX_WINDOW_STANDARD_HOURS', 1, 24 * 3660),
      maxWindowHeavyHours: int(env['K8S_LOGS_QUERY_MAX_WINDOW_HEAVY_HOURS'] ?? '168', 'K8S_LOGS_QUERY_MAX_WINDOW_HEAVY_HOURS', 1, 24 * 3660),
      maxOpenPits: int(env['K8S_LOGS_QUERY_MAX_OPEN_PITS'] ?? '8', 'K8S_LOGS_QUERY_MAX_OPEN_PITS', 1, 1000),
    },
    retentionDays,
    retentionIntervalMs: int(env['K8S_LOGS_RETENTION_INTERVAL_MS'] ?? '3600000', 'K8S_LOGS_RETENTION_INTERVAL_MS', 1000, 7 * 86_400_000),
    jobHistoryDays: int(env['K8S_LOGS_JOB_HISTORY_DAYS'] ?? '30', 'K8S_LOGS_JOB_HISTORY_DAYS', 1, 3650),
    kube: {
      clusters: kubeconfigPath === undefined ? [] : [{ cluster: kubeCluster, kubeconfigPath }],
      requestTimeoutMs: int(env['K8S_LOGS_KUBE_TIMEOUT_MS'] ?? '3000', 'K8S_LOGS_KUBE_TIMEOUT_MS', 100, 120_000),
      credentialsKey: parseCredentialsKey(env['K8S_LOGS_CREDENTIALS_KEY'], problems),
      syncIntervalMs: int(env['K8S_LOGS_CLUSTER_SYNC_INTERVAL_MS'] ?? '15000', 'K8S_LOGS_CLUSTER_SYNC_INTERVAL_MS', 100, 3_600_000),
      agentStaleAfterMs: int(env['K8S_LOGS_AGENT_STALE_AFTER_MS'] ?? '90000', 'K8S_LOGS_AGENT_STALE_AFTER_MS', 1000, 86_400_000),
    },
    collect: {
      maxStreamsPerCluster: int(env['K8S_LOGS_COLLECT_MAX_STREAMS_PER_CLUSTER'] ?? '100', 'K8S_LOGS_COLLECT_MAX_STREAMS_PER_CLUSTER', 1, 100_000),
      maxStreams: int(env['K8S_LOGS_COLLECT_MAX_STREAMS'] ?? '500', 'K8S_LOGS_COLLECT_MAX_STREAMS', 1, 1_000_000),
      maxContinuousJobs: int(env['K8S_LOGS_COLLECT_MAX_CONTINUOUS_JOBS'] ?? '20', 'K8S_LOGS_COLLECT_MAX_CONTINUOUS_JOBS', 1, 10_000),
      bulkConcurrencyDefault: int(env['K8S_LOGS_COLLECT_BULK_CONCURRENCY'] ?? '5', 'K8S_LOGS_COLLECT_BULK_CONCURRENCY', 1, 1000),
      bulkConcurrencyMax: int(env['K8S_LOGS_COLLECT_BULK_MAX_CONCURRENCY'] ?? '20', 'K8S_LOGS_COLLECT_BULK_MAX_CONCURRENCY', 1, 1000),
      oneTimeConcurrency: int(env['K8S_LOGS_COLLECT_ONE_TIME_CONCURRENCY'] ?? '4', 'K8S_LOGS_COLLECT_ONE_TIME_CONCURRENCY', 1, 1000),
      checkpointIntervalMs: int(env['K8S_LOGS_COLLECT_CHECKPOINT_INTERVAL_MS'] ?? '1000', 'K8S_LOGS_COLLECT_CHECKPOINT_INTERVAL_MS', 50, 600_000),
      reconnectMinMs: int(env['K8S_LOGS_COLLECT_RECONNECT_MIN_MS'] ?? '250', 'K8S_LOGS_COLLECT_RECONNECT_MIN_MS', 1, 600_000),
      reconnectMaxMs: int(env['K8S_LOGS_COLLECT_RECONNECT_MAX_MS'] ?? '10000', 'K8S_LOGS_COLLECT_RECONNECT_MAX_MS', 1, 3_600_000),
      configRefreshMs: int(env['K8S_LOGS_COLLECT_CONFIG_REFRESH_MS'] ?? '5000', 'K8S_LOGS_COLLECT_CONFIG_REFRESH_MS', 50, 600_000),
    },
    archive: {
      s3Endpoint: env['S3_ENDPOINT'] || undefined,
      s3Region: env['S3_REGION'] || 'us-east-1',
      s3AccessKeyId: env['S3_ACCESS_KEY_ID'] || undefined,
      s3SecretAccessKey: env['S3_SECRET_ACCESS_KEY'] || undefined,
      s3ForcePathStyle: (env['S3_FORCE_PATH_STYLE'] ?? (env['S3_ENDPOINT'] ? 'true' : 'false')) === 'true',
      s3RequestTimeoutMs: int(env['S3_REQUEST_TIMEOUT_MS'] ?? '30000', 'S3_REQUEST_TIMEOUT_MS', 100, 600_000),
      contentMaxScanBytes: int(env['K8S_LOGS_ARCHIVE_CONTENT_MAX_SCAN_BYTES'] ?? String(256 * 1024 * 1024), 'K8S_LOGS_ARCHIVE_CONTENT_MAX_SCAN_BYTES', 1024, 1024 ** 4),
      scheduleTickMs: int(env['K8S_LOGS_ARCHIVE_SCHEDULE_TICK_MS'] ?? '60000', 'K8S_LOGS_ARCHIVE_SCHEDULE_TICK_MS', 100, 3_600_000),
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/** The log index settings of the template (store/log-indices.ts) from the config's slice. */
export function indexSettingsOf(os: AggregatorConfig['opensearch']): LogIndexSettings {
  return {
    shards: os.shards,
    replicas: os.replicas,
    refreshIntervalMs: os.refreshIntervalMs,
    translogDurability: os.translogDurability,
    translogSyncIntervalMs: os.translogSyncIntervalMs,
    codec: os.codec,
    sortByTime: os.sortByTime,
    messageText: os.messageText,
  };
}

/**
 * The 32 key bytes (given as 64 hex characters or base64), as base64: a string, because the
 * config is deep-frozen and a Buffer cannot be. A problem (never the value) otherwise.
 */
function parseCredentialsKey(value: string | undefined, problems: string[]): string | undefined {
  if (!value) return undefined;
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (key.length !== 32) {
    problems.push('K8S_LOGS_CREDENTIALS_KEY must be 32 bytes: 64 hex characters or base64 (e.g. `openssl rand -base64 32`)');
    return undefined;
  }
  return key.toString('base64');
}

/** Test and embedding helper: defaults with selected overrides. */
export function configWith(overrides: {
  opensearchUrl?: string;
  adminToken?: string;
  indexPrefix?: string;
  rateLimit?: Partial<AggregatorConfig['rateLimit']>;
  ingest?: Partial<AggregatorConfig['ingest']>;
  query?: Partial<AggregatorConfig['query']>;
  archive?: Partial<AggregatorConfig['archive']>;
  logLevel?: string;
}): AggregatorConfig {
  const base = loadConfig([], {
    ...(overrides.opensearchUrl ? { OPENSEARCH_URL: overrides.opensearchUrl } : {}),
    ...(overrides.adminToken ? { K8S_LOGS_ADMIN_TOKEN: overrides.adminToken } : {}),
    ...(overrides.indexPrefix ? { K8S_LOGS_INDEX_PREFIX: overrides.indexPrefix } : {}),
    K8S_LOGS_LOG_LEVEL: overrides.logLevel ?? 'silent',
  });
  return deepFreeze({
    ...base,
    port: 0,
    host: '127.0.0.1',
    rateLimit: { ...base.rateLimit, ...overrides.rateLimit },
    ingest: { ...base.ingest, ...overrides.ingest },
    query: { ...base.query, ...overrides.query },
    archive: { ...base.archive, ...overrides.archive },
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
