/**
 * Shared helpers of the agent tests: CRI/docker line builders, temp dirs, an in-process agent
 * against the loopback ingest sink, and expected-id computation from real file identities.
 */
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileKey, fileRecordId } from '../../shared/ids.ts';
import { startAgent, type AgentDeps, type RunningAgent } from '../../agent/agent.ts';
import { defineConfig, type AgentConfig } from '../../agent/config.ts';
import { createLogger } from '../../agent/telemetry/logger.ts';
import { fingerprintOf, FINGERPRINT_BYTES } from '../../agent/tail/file-identity.ts';
import { IngestSink } from '../helpers/ingest-sink.ts';
import { waitFor } from '../helpers/wait-for.ts';

export const CID = 'a'.repeat(64);

export function containerLogName(pod: string, ns: string, container: string, id = CID): string {
  return `${pod}_${ns}_${container}-${id}.log`;
}

let tsCounter = 0;
/** Strictly increasing nanosecond timestamps, as a CRI runtime writes them. */
export function nextTs(): string {
  tsCounter++;
  const ns = String(tsCounter).padStart(9, '0');
  return `2026-11-25T12:00:00.${ns}Z`.replace('.', '.').slice(0, 30);
}

export function cri(msg: string, opts: { stream?: 'stdout' | 'stderr'; tag?: 'F' | 'P'; ts?: string } = {}): string {
  return `${opts.ts ?? nextTs()} ${opts.stream ?? 'stdout'} ${opts.tag ?? 'F'} ${msg}\n`;
}

export function docker(
  log: string,
  stream: 'stdout' | 'stderr' = 'stdout',
  time = '2026-11-25T12:00:00.123456789Z',
): string {
  return JSON.stringify({ log, stream, time }) + '\n';
}

export async function tempDir(t: { teardown(fn: () => unknown): void }, prefix = 'agent-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Appends text to a file (creating it), like a runtime writing lines. */
export async function append(path: string, text: string | Buffer): Promise<void> {
  const fh = await open(path, 'a');
  try {
    await fh.write(typeof text === 'string' ? Buffer.from(text) : text);
  } finally {
    await fh.close();
  }
}

/** The fileKey the agent derives for this file as it is on disk now. */
export async function keyOf(path: string, cluster = 'test-cluster', node = 'test-node'): Promise<string> {
  const st = await stat(path, { bigint: true });
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(FINGERPRINT_BYTES);
    const { bytesRead } = await fh.read(buf, 0, FINGERPRINT_BYTES, 0);
    const fp = fingerprintOf(buf, bytesRead);
    if (fp === null) throw new Error(`no fingerprint yet for ${path}`);
    return fileKey(cluster, node, { dev: st.dev, ino: st.ino, fingerprint: fp });
  } finally {
    await fh.close();
  }
}

/** Ids of records starting at the given offsets. */
export function idsAt(key: string, offsets: readonly number[]): string[] {
  return offsets.map((o) => fileRecordId(key, o));
}

/** Start offsets of each line in `text` starting at `base`. */
export function lineOffsets(text: string, base = 0): number[] {
  const out: number[] = [];
  let pos = 0;
  const b = Buffer.from(text);
  while (pos < b.length) {
    out.push(base + pos);
    const nl = b.indexOf(0x0a, pos);
    if (nl < 0) break;
    pos = nl + 1;
  }
  return out;
}

export interface TestAgentOptions {
  dir: string;
  sink: IngestSink;
  config?: Partial<AgentConfig>;
  deps?: AgentDeps;
}

/** Fast timings for tests; everything else default. */
export function testConfig(o: TestAgentOptions): AgentConfig {
  return defineConfig({
    logPath: join(o.dir, 'logs'),
    dataDir: join(o.dir, 'data'),
    aggregatorUrl: o.sink.url,
    token: o.sink.token,
    cluster: 'test-cluster',
    node: 'test-node',
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    maxBatchAgeMs: 50,
    pollIntervalMs: 20,
    rescanIntervalMs: 200,
    rotateWaitMs: 300,
    checkpointIntervalMs: 50,
    retryBaseMs: 20,
    retryMaxMs: 200,
    partialFlushMs: 1000,
    multilineFlushMs: 200,
    configPollIntervalMs: 200,
    heartbeatIntervalMs: 0,
    shutdownGraceMs: 5000,
    kubernetes: 'off',
    logLevel: 'silent',
    ...o.config,
  });
}

export async function runAgent(o: TestAgentOptions): Promise<RunningAgent> {
  const config = testConfig(o);
  return startAgent(config, {
    logger: createLogger(process.env['AGENT_TEST_LOG'] ?? 'silent', {}),
    processMetrics: false,
    ...o.deps,
  });
}

export async function startSink(
  t: { teardown(fn: () => unknown): void },
  opts: ConstructorParameters<typeof IngestSink>[0] = {},
): Promise<IngestSink> {
  const sink = await IngestSink.start(opts);
  t.teardown(() => sink.close());
  return sink;
}

/** Poll `pred` until true or throw after `timeoutMs` (the agent tests' spelling of {@link waitFor}). */
export async function until(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  await waitFor(pred, { timeoutMs, what, intervalMs: 10 });
}

/** Value of an unlabelled or labelled counter/gauge from the agent's registry. */
export async function metricValue(
  agent: RunningAgent,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = agent.registry.getSingleMetric(name);
  if (m === undefined) throw new Error(`no metric ${name}`);
  const data = await m.get();
  let sum = 0;
  for (const v of data.values) {
    const l = v.labels as Record<string, string>;
    if (Object.entries(labels).every(([k, val]) => l[k] === val)) sum += v.value;
  }
  return sum;
}

/** The fileKey of a file identity whose first line is `firstLine`. */
export function keyFor(
  dev: bigint,
  ino: bigint,
  firstLine: string | Buffer,
  cluster = 'test-cluster',
  node = 'test-node',
): string {
  const b = typeof firstLine === 'string' ? Buffer.from(firstLine) : firstLine;
  const fp = fingerprintOf(b, b.length);
  if (fp === null) throw new Error('first line has no newline');
  return fileKey(cluster, node, { dev, ino, fingerprint: fp });
}

/** Runs `agent/main.ts` as a child process (crash and memory tests). */
/** Environment of a child-process agent reading `logs` into `sink`, as the CLI takes it. */
export function childAgentEnv(dir: string, logs: string, sink: { url: string; token: string }): Record<string, string> {
  return {
    K8S_LOGS_AGENT_LOG_PATH: logs,
    K8S_LOGS_AGENT_DATA_DIR: join(dir, 'data'),
    K8S_LOGS_AGENT_AGGREGATOR_URL: sink.url,
    K8S_LOGS_AGENT_TOKEN: sink.token,
    K8S_LOGS_AGENT_CLUSTER: 'test-cluster',
    K8S_LOGS_AGENT_NODE: 'test-node',
    K8S_LOGS_AGENT_METRICS_PORT: '0',
    K8S_LOGS_AGENT_METRICS_HOST: '127.0.0.1',
  };
}

export function spawnAgent(env: Record<string, string>): {
  child: ChildProcess;
  exited: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  metricsPort: () => Promise<number>;
} {
  const child = spawnChild(process.execPath, [new URL('../../agent/main.ts', import.meta.url).pathname], {
    env: {
      PATH: process.env['PATH'] ?? '',
      K8S_LOGS_AGENT_KUBERNETES: 'off',
      K8S_LOGS_AGENT_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    metricsPort: async () => {
      let port = 0;
      await until(
        () => {
          const m = /"msg":"agent started".*?"metrics_port":(\d+)|"metrics_port":(\d+).*?"msg":"agent started"/.exec(
            out,
          );
          if (m !== null) port = Number(m[1] ?? m[2]);
          return port > 0;
        },
        // A failure bound, not a wait: a child's start (Node + type stripping + the first
        // config poll) took over 10 s at a load average of 20 on two cores.
        30_000,
        'agent child to start',
      );
      return port;
    },
  };
}

/** Resident set size of a process, bytes (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m === null ? 0 : Number(m[1]) * 1024;
}
