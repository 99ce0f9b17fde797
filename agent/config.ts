/**
 * Agent configuration: parsed once from flags and environment into a typed, frozen
 * {@link AgentConfig}; all problems are reported together ({@link ConfigError}). Components
 * receive their slice of the config, never `process.env`.
 *
 * Precedence: command-line flag > environment variable > default. Every field is described
 * once in {@link CONFIG_FIELDS}; `--help` and the chart's README are generated from it.
 */
import { hostname } from 'node:os';
import { ConfigError } from './errors.ts';

export type ReadFrom = 'head' | 'end';
export type LogFormat = 'auto' | 'cri' | 'docker';
export type LineOverflow = 'split' | 'truncate';
export type LogLevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface AgentConfig {
  /** Log files to tail: a directory (all `*.log` in it) or a glob whose wildcards are in the last path segment. Default `/var/log/containers/*.log`. Symlinks are followed. */
  readonly logPath: string;
  /** Base URL of the aggregator, e.g. `http://k8s-logs-aggregator:8080`. Required. */
  readonly aggregatorUrl: string;
  /** Ingest token (bearer). Required, from `--token`, `--token-file` or the environment. */
  readonly token: string;
  /** Directory for checkpoints (must survive restarts: a hostPath on Kubernetes). Default `/var/lib/k8s-logs-agent`. */
  readonly dataDir: string;
  /** Cluster id written into every record. Required. */
  readonly cluster: string;
  /** Node name written into every record. Default: `NODE_NAME`, else the host name. */
  readonly node: string;
  /** Where to start files that already exist at the very first start (no checkpoint file yet): `head` or `end`. Files appearing later are always read from the head. Default `head`. */
  readonly readFrom: ReadFrom;
  /** File format: `auto` (detected per file), `cri` or `docker`. Default `auto`. */
  readonly format: LogFormat;
  /** Port of the `/metrics` and `/healthz` server; 0 picks a free port. Default 2020. */
  readonly metricsPort: number;
  /** Address the metrics server binds. Default `0.0.0.0`. */
  readonly metricsHost: string;
  /** Upper bound of one batch before compression, in bytes. Default 1048576 (1 MiB). */
  readonly maxBatchBytes: number;
  /** Upper bound of records in one batch. Default 5000. */
  readonly maxBatchRecords: number;
  /** A non-empty batch is sent at the latest this long after its first record, in ms. Default 1000. */
  readonly maxBatchAgeMs: number;
  /**
   * A non-empty batch this old is sent early when the pipe is idle (no request in flight,
   * nothing compressing or queued), in ms; while a request is out batches keep growing
   * to `maxBatchAgeMs` / `maxBatchBytes`. So batches are as small as the aggregator's
   * latency allows: fresh lines at low rates, few large requests when it is slow. 0 turns
   * early sending off. Default 100.
   */
  readonly minBatchAgeMs: number;
  /** Bytes held in memory awaiting acknowledgement (open batch uncompressed + sealed batches compressed); tailing pauses at this bound. Default 8388608 (8 MiB). */
  readonly maxQueueBytes: number;
  /** Concurrent ingest requests. Default 2. */
  readonly maxInFlightRequests: number;
  /** gzip level of batch bodies, 1 (fastest) to 9. Default 1. */
  readonly gzipLevel: number;
  /** Timeout of one ingest request (headers and body), in ms. Default 30000. */
  readonly requestTimeoutMs: number;
  /** First retry delay of the capped exponential backoff (with jitter), in ms. Default 250. */
  readonly retryBaseMs: number;
  /** Cap of the retry delay, in ms (a longer `Retry-After` is still honoured). Default 30000. */
  readonly retryMaxMs: number;
  /** Bytes read from a file per read call. Default 262144 (256 KiB). */
  readonly readBufferBytes: number;
  /** How often an idle file is checked for new data, rotation and truncation, in ms. Default 250. */
  readonly pollIntervalMs: number;
  /** Full rescan of the log directory (besides file-system events), in ms. Default 10000. */
  readonly rescanIntervalMs: number;
  /** After a rename rotation, keep reading the old file until it has been quiet this long, in ms. Default 5000. */
  readonly rotateWaitMs: number;
  /** How often acknowledged offsets are persisted, in ms. Default 1000. */
  readonly checkpointIntervalMs: number;
  /** Longest logical line in bytes; longer lines are split or truncated (`lineOverflow`). Default 262144 (256 KiB). */
  readonly maxLineBytes: number;
  /** What to do with lines over `maxLineBytes`: `split` into several records or `truncate`. Default `split`. */
  readonly lineOverflow: LineOverflow;
  /** A partial line (CRI `P`) whose final piece has not arrived is emitted as is after this long, in ms. Default 5000. */
  readonly partialFlushMs: number;
  /** A multiline group (stack trace) is closed after this long without a continuation line, in ms. Default 1000. */
  readonly multilineFlushMs: number;
  /** Most lines merged into one multiline record. Default 500. */
  readonly multilineMaxLines: number;
  /** Collection config poll interval (conditional GET), in ms. Default 5000. */
  readonly configPollIntervalMs: number;
  /** Heartbeat interval, in ms; 0 disables. Default 30000. */
  readonly heartbeatIntervalMs: number;
  /** On SIGTERM: time to flush batches and write checkpoints before exiting, in ms. Default 20000. */
  readonly shutdownGraceMs: number;
  /** Kubernetes API access for pod metadata: `auto` (in-cluster when available, else off), `off`, or a kubeconfig path. Default `auto`. */
  readonly kubernetes: string;
  /** Keep a deleted pod's metadata this long for late lines, in ms. Default 300000. */
  readonly podDeleteGraceMs: number;
  /** Pod annotations copied into `labels` (comma separated). Default none. */
  readonly includeAnnotations: readonly string[];
  /** pino log level of the agent's own logs. Default `info`. */
  readonly logLevel: LogLevelName;
}

type Kind = 'string' | 'int' | 'list' | { oneOf: readonly string[] };

interface FieldSpec {
  readonly key: keyof AgentConfig;
  readonly flag: string;
  readonly env: string;
  readonly kind: Kind;
  /** undefined = required. */
  readonly def: string | undefined;
  readonly min?: number;
  readonly max?: number;
  readonly doc: string;
}

const f = (
  key: keyof AgentConfig,
  flag: string,
  kind: Kind,
  def: string | undefined,
  doc: string,
  range?: { min?: number; max?: number },
): FieldSpec => ({
  key,
  flag,
  env: 'K8S_LOGS_AGENT_' + flag.replace(/-/g, '_').toUpperCase(),
  kind,
  def,
  doc,
  ...range,
});

/** Every setting, its flag, environment variable, default and documentation. */
export const CONFIG_FIELDS: readonly FieldSpec[] = [
  f(
    'logPath',
    'log-path',
    'string',
    '/var/log/containers/*.log',
    'Directory or glob (wildcards in the last segment) of log files. Symlinks are followed.',
  ),
  f('aggregatorUrl', 'aggregator-url', 'string', undefined, 'Aggregator base URL (required).'),
  f('token', 'token', 'string', undefined, 'Ingest token (required; or --token-file / K8S_LOGS_AGENT_TOKEN_FILE).'),
  f('dataDir', 'data-dir', 'string', '/var/lib/k8s-logs-agent', 'Directory for checkpoints; must survive restarts.'),
  f('cluster', 'cluster', 'string', undefined, 'Cluster id written into every record (required).'),
  f('node', 'node', 'string', '', 'Node name. Default: NODE_NAME, else the host name.'),
  f(
    'readFrom',
    'read-from',
    { oneOf: ['head', 'end'] },
    'head',
    'Start of files already present at the very first start (no checkpoints yet).',
  ),
  f('format', 'format', { oneOf: ['auto', 'cri', 'docker'] }, 'auto', 'Log file format; auto-detected per file.'),
  f('metricsPort', 'metrics-port', 'int', '2020', 'Port of /metrics and /healthz (0 = any free port).', {
    min: 0,
    max: 65535,
  }),
  f('metricsHost', 'metrics-host', 'string', '0.0.0.0', 'Address the metrics server binds.'),
  f('maxBatchBytes', 'max-batch-bytes', 'int', '1048576', 'Max uncompressed batch size, bytes.', {
    min: 1024,
    max: 64 * 1024 * 1024,
  }),
  f('maxBatchRecords', 'max-batch-records', 'int', '5000', 'Max records per batch.', { min: 1, max: 1_000_000 }),
  f('maxBatchAgeMs', 'max-batch-age-ms', 'int', '1000', 'Max age of a non-empty batch before it is sent, ms.', {
    min: 1,
    max: 600_000,
  }),
  f('minBatchAgeMs', 'min-batch-age-ms', 'int', '100', 'Age at which a batch is sent early while no request is in flight, ms (0 = off).', {
    min: 0,
    max: 600_000,
  }),
  f(
    'maxQueueBytes',
    'max-queue-bytes',
    'int',
    String(8 * 1024 * 1024),
    'Bytes held awaiting acknowledgement; tailing pauses at this bound.',
    { min: 64 * 1024 },
  ),
  f('maxInFlightRequests', 'max-in-flight-requests', 'int', '2', 'Concurrent ingest requests.', { min: 1, max: 64 }),
  f('gzipLevel', 'gzip-level', 'int', '1', 'gzip level of request bodies (1-9).', { min: 1, max: 9 }),
  f('requestTimeoutMs', 'request-timeout-ms', 'int', '30000', 'Timeout of one ingest request, ms.', { min: 100 }),
  f('retryBaseMs', 'retry-base-ms', 'int', '250', 'First retry delay (exponential, jittered), ms.', { min: 1 }),
  f('retryMaxMs', 'retry-max-ms', 'int', '30000', 'Retry delay cap, ms (Retry-After is still honoured).', { min: 1 }),
  f('readBufferBytes', 'read-buffer-bytes', 'int', '262144', 'Bytes per file read call.', {
    min: 4096,
    max: 16 * 1024 * 1024,
  }),
  f(
    'pollIntervalMs',
    'poll-interval-ms',
    'int',
    '250',
    'Idle file check interval (new data, rotation, truncation), ms.',
    { min: 10 },
  ),
  f('rescanIntervalMs', 'rescan-interval-ms', 'int', '10000', 'Full directory rescan interval, ms.', { min: 50 }),
  f('rotateWaitMs', 'rotate-wait-ms', 'int', '5000', 'Keep reading a rotated-away file until quiet this long, ms.', {
    min: 0,
  }),
  f('checkpointIntervalMs', 'checkpoint-interval-ms', 'int', '1000', 'Checkpoint persistence interval, ms.', {
    min: 10,
  }),
  f('maxLineBytes', 'max-line-bytes', 'int', '262144', 'Longest logical line, bytes.', {
    min: 64,
    max: 64 * 1024 * 1024,
  }),
  f(
    'lineOverflow',
    'line-overflow',
    { oneOf: ['split', 'truncate'] },
    'split',
    'Lines over max-line-bytes: split or truncate.',
  ),
  f('partialFlushMs', 'partial-flush-ms', 'int', '5000', 'Emit an unfinished partial line after this long, ms.', {
    min: 1,
  }),
  f(
    'multilineFlushMs',
    'multiline-flush-ms',
    'int',
    '1000',
    'Close a multiline group after this long without continuation, ms.',
    { min: 1 },
  ),
  f('multilineMaxLines', 'multiline-max-lines', 'int', '500', 'Max lines merged into one record.', { min: 2 }),
  f('configPollIntervalMs', 'config-poll-interval-ms', 'int', '5000', 'Collection config poll interval, ms.', {
    min: 100,
  }),
  f('heartbeatIntervalMs', 'heartbeat-interval-ms', 'int', '30000', 'Heartbeat interval, ms (0 = off).', { min: 0 }),
  f('shutdownGraceMs', 'shutdown-grace-ms', 'int', '20000', 'SIGTERM: flush and checkpoint within this time, ms.', {
    min: 0,
  }),
  f('kubernetes', 'kubernetes', 'string', 'auto', 'Pod metadata source: auto | off | <kubeconfig path>.'),
  f('podDeleteGraceMs', 'pod-delete-grace-ms', 'int', '300000', "Keep deleted pods' metadata this long, ms.", {
    min: 0,
  }),
  f('includeAnnotations', 'include-annotations', 'list', '', 'Pod annotations copied into labels (comma separated).'),
  f(
    'logLevel',
    'log-level',
    { oneOf: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
    'info',
    'Agent log level.',
  ),
];

export interface ConfigSources {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads `--token-file`; injected for tests. */
  readFile?: (path: string) => string;
}

/** Parses flags (`--name value` / `--name=value`) and environment into a frozen config. */
export function loadConfig(sources: ConfigSources): AgentConfig {
  const argv = sources.argv ?? [];
  const env = sources.env ?? {};
  const problems: string[] = [];
  const flags = new Map<string, string>();
  const known = new Set([...CONFIG_FIELDS.map((s) => s.flag), 'token-file']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      problems.push(`unexpected argument "${a}"`);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    let value: string | undefined;
    if (eq > 0) value = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i];
    if (!known.has(name)) {
      problems.push(`unknown flag --${name}`);
      continue;
    }
    if (value === undefined) {
      problems.push(`flag --${name} needs a value`);
      continue;
    }
    flags.set(name, value);
  }

  const out: Record<string, unknown> = {};
  for (const spec of CONFIG_FIELDS) {
    let raw = flags.get(spec.flag) ?? env[spec.env];
    if (spec.key === 'token' && raw === undefined) {
      const file = flags.get('token-file') ?? env['K8S_LOGS_AGENT_TOKEN_FILE'];
      if (file !== undefined) {
        try {
          raw = (
            sources.readFile ??
            (() => {
              throw new Error('no reader');
            })
          )(file).trim();
        } catch (err) {
          problems.push(`token file ${file}: ${(err as Error).message}`);
          continue;
        }
      }
    }
    if (spec.key === 'node' && (raw === undefined || raw === '')) raw = env['NODE_NAME'] ?? hostname();
    if (raw === undefined) raw = spec.def;
    if (raw === undefined || (raw === '' && spec.def === undefined)) {
      problems.push(`--${spec.flag} (${spec.env}) is required`);
      continue;
    }
    const kind = spec.kind;
    if (kind === 'int') {
      if (!/^\d+$/.test(raw.trim())) {
        problems.push(`--${spec.flag} must be a non-negative integer, got "${raw}"`);
        continue;
      }
      const n = Number(raw);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        problems.push(`--${spec.flag} must be in [${spec.min ?? 0}, ${spec.max ?? 'inf'}], got ${n}`);
        continue;
      }
      out[spec.key] = n;
    } else if (kind === 'list') {
      out[spec.key] = Object.freeze(
        raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      );
    } else if (kind === 'string') {
      out[spec.key] = raw;
    } else {
      if (!kind.oneOf.includes(raw)) {
        problems.push(`--${spec.flag} must be one of ${kind.oneOf.join(', ')}, got "${raw}"`);
        continue;
      }
      out[spec.key] = raw;
    }
  }
  if (typeof out['aggregatorUrl'] === 'string') {
    try {
      const u = new URL(out['aggregatorUrl']);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push('--aggregator-url must be http(s)');
    } catch {
      problems.push(`--aggregator-url is not a URL: "${out['aggregatorUrl']}"`);
    }
  }
  if (
    typeof out['maxBatchBytes'] === 'number' &&
    typeof out['maxQueueBytes'] === 'number' &&
    out['maxQueueBytes'] < out['maxBatchBytes'] * 2
  ) {
    problems.push('--max-queue-bytes must be at least twice --max-batch-bytes');
  }
  if (
    typeof out['retryBaseMs'] === 'number' &&
    typeof out['retryMaxMs'] === 'number' &&
    out['retryMaxMs'] < out['retryBaseMs']
  ) {
    problems.push('--retry-max-ms must be >= --retry-base-ms');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as unknown as AgentConfig;
}

/** Builds a config for in-process use (tests, `npm start`): defaults + overrides, validated. */
export function defineConfig(
  overrides: Partial<AgentConfig> & Pick<AgentConfig, 'aggregatorUrl' | 'token' | 'cluster' | 'dataDir' | 'logPath'>,
): AgentConfig {
  const env: Record<string, string> = {};
  for (const spec of CONFIG_FIELDS) {
    const v = overrides[spec.key];
    if (v === undefined) continue;
    env[spec.env] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return loadConfig({ env });
}

export function helpText(): string {
  const lines = [
    'Usage: k8s-logs-agent [--flag value ...]',
    '',
    'Tails container log files on this node and ships them to the k8s-logs aggregator.',
    'Every flag can also be set through the environment variable shown.',
    '',
  ];
  for (const spec of CONFIG_FIELDS) {
    const kind = typeof spec.kind === 'string' ? spec.kind : spec.kind.oneOf.join('|');
    const def = spec.def === undefined ? 'required' : spec.def === '' ? 'none' : `default ${spec.def}`;
    lines.push(`  --${spec.flag} <${kind}>   [${spec.env}] (${def})`);
    lines.push(`      ${spec.doc}`);
  }
  lines.push('  --token-file <path>   [K8S_LOGS_AGENT_TOKEN_FILE]');
  lines.push('      Read the ingest token from a file (mounted secret).');
  lines.push('  --help');
  lines.push('      Print this text.');
  return lines.join('\n') + '\n';
}
