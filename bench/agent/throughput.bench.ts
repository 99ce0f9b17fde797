/**
 * Agent throughput benchmark (issue #3): 2,000,000 CRI lines of about 200 bytes (half JSON,
 * half plain text, 10% split into P+F pieces) read from head and delivered, gzip on, to a
 * loopback HTTP sink that acknowledges (test/helpers/ingest-sink.ts, in its own process).
 * Reports lines/s, CPU seconds per million lines, lines per CPU-second, peak RSS (VmHWM) of
 * the agent process, and the ratio of the agent's CPU to a same-run baseline that only reads
 * the same bytes and gzips them (bench/agent/baseline-process.ts).
 *
 *   node bench/agent/throughput.bench.ts [--lines 2000000] [--files 4] [--dir <workload dir>]
 *                                        [--source] [--gzip-level 1] [--node-flags "..."] [--keep]
 *                                        [--agent-dist <dir with agent/main.js, built, node_modules linked>]
 *                                        [--no-shipped-env]
 *
 * By default the agent runs as built JavaScript (tsc -p tsconfig.build.json into a temp
 * dir), as `k8s-logs-agent` runs in production; `--source` runs agent/main.ts through Node's
 * type stripping instead (slower start, ~20 MiB more RSS). CPU is the agent process's user +
 * system time from /proc (all threads: main, libuv pool for reads and gzip), measured from
 * spawn to the moment the sink has acknowledged every record. Goals: ≥ 100,000 lines per
 * CPU-second, peak RSS ≤ 96 MiB. Prints one JSON result line on stdout.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { ensureWorkload } from './workload.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '2000000' },
    files: { type: 'string', default: '4' },
    dir: { type: 'string', default: join(tmpdir(), 'k8s-logs-agent-bench-workload') },
    source: { type: 'boolean', default: false },
    'gzip-level': { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    'node-flags': { type: 'string' },
    'agent-dist': { type: 'string' },
    'no-shipped-env': { type: 'boolean', default: false },
  },
});

const root = new URL('../../', import.meta.url).pathname;
const log = (msg: string): void => {
  process.stderr.write(`[agent-bench] ${msg}\n`);
};
const CLK_TCK = 100;
const READ_BYTES = 262_144;
const BATCH_BYTES = 1_048_576;

async function procCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
}

async function procStatus(pid: number, key: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(status);
  return m === null ? 0 : Number(m[1]) * 1024;
}

function runJson(args: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`${args[0]} exited ${code}`)),
    );
  });
}

const lines = Number(values.lines);
const gzipLevel = Number(values['gzip-level']);
log(`workload: ${lines} lines in ${values.files} files under ${values.dir}`);
const w = await ensureWorkload(values.dir!, lines, Number(values.files));
log(`workload ready: ${w.physicalLines} physical lines, ${(w.bytes / 1e6).toFixed(0)} MB`);

// Warm the page cache for both runs alike.
await runJson([
  join(root, 'bench/agent/baseline-process.ts'),
  String(READ_BYTES),
  String(BATCH_BYTES),
  '1',
  ...w.files,
]);

log('baseline: read + gzip the same bytes');
const baseline = await runJson([
  join(root, 'bench/agent/baseline-process.ts'),
  String(READ_BYTES),
  String(BATCH_BYTES),
  String(gzipLevel),
  ...w.files,
]);
log(`baseline: ${baseline['cpu_s']!.toFixed(2)} CPU s, ${baseline['wall_s']!.toFixed(2)} s`);

let mainPath = join(root, 'agent/main.ts');
const work = await mkdtemp(join(tmpdir(), 'k8s-logs-agent-bench-'));
if (values['agent-dist'] !== undefined) {
  // A prebuilt tree (e.g. another branch's build, for a same-run comparison).
  mainPath = join(values['agent-dist'], 'agent/main.js');
} else if (!values.source) {
  log('building the agent (tsc -p tsconfig.build.json)');
  await promisify(execFile)(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(root, 'tsconfig.build.json'),
      '--outDir',
      join(work, 'dist'),
      '--sourceMap',
      'false',
    ],
    { cwd: root },
  );
  await symlink(join(root, 'node_modules'), join(work, 'dist/node_modules'));
  await symlink(join(root, 'package.json'), join(work, 'dist/package.json'));
  mainPath = join(work, 'dist/agent/main.js');
}

const sink: ChildProcess = spawn(process.execPath, [join(root, 'bench/agent/sink-process.ts')], {
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
});
const sinkPort = await new Promise<number>((resolve) => {
  sink.stdout!.once('data', (d: Buffer) =>
    resolve((JSON.parse(d.toString().split('\n')[0]!) as { port: number }).port),
  );
});
const stats = (): Promise<{ received: number; unique: number; requests: number; bodyBytes: number }> =>
  new Promise((resolve) => {
    sink.once('message', (m) =>
      resolve(m as { received: number; unique: number; requests: number; bodyBytes: number }),
    );
    sink.send('stats');
  });

// Run the agent with the environment and V8 flags of its interpreter line
// (`#!/usr/bin/env -S NAME=value … node …`), as the installed `k8s-logs-agent` binary runs;
// `--node-flags` overrides the flags, `--no-shipped-env` drops the environment (a baseline).
const shebang = (await readFile(join(root, 'agent/main.ts'), 'utf8')).split('\n')[0]!;
const interp = /^#!\/usr\/bin\/env -S ((?:\w+=\S* )*)node ?(.*)$/.exec(shebang);
const shippedFlags = interp?.[2]?.split(' ').filter(Boolean) ?? [];
const shippedEnv: Record<string, string> = values['no-shipped-env']
  ? {}
  : Object.fromEntries((interp?.[1] ?? '').split(' ').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const nodeFlags = values['node-flags'] !== undefined ? values['node-flags'].split(' ').filter(Boolean) : shippedFlags;
log(`agent: ${Object.entries(shippedEnv).map(([k, v]) => `${k}=${v} `).join('')}node ${nodeFlags.join(' ')} ${mainPath}`);
const t0 = performance.now();
const agent = spawn(process.execPath, [...nodeFlags, mainPath], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: {
    PATH: process.env['PATH'] ?? '',
    ...shippedEnv,
    K8S_LOGS_AGENT_LOG_PATH: join(w.dir, '*.log'),
    K8S_LOGS_AGENT_DATA_DIR: join(work, 'data'),
    K8S_LOGS_AGENT_AGGREGATOR_URL: `http://127.0.0.1:${sinkPort}`,
    K8S_LOGS_AGENT_TOKEN: 'bench-token',
    K8S_LOGS_AGENT_CLUSTER: 'bench',
    K8S_LOGS_AGENT_NODE: 'bench-node',
    K8S_LOGS_AGENT_KUBERNETES: 'off',
    K8S_LOGS_AGENT_METRICS_PORT: '0',
    K8S_LOGS_AGENT_METRICS_HOST: '127.0.0.1',
    K8S_LOGS_AGENT_GZIP_LEVEL: String(gzipLevel),
    K8S_LOGS_AGENT_HEARTBEAT_INTERVAL_MS: '0',
    K8S_LOGS_AGENT_LOG_LEVEL: 'warn',
    // Experiments: extra agent settings / Node flags from the environment of the bench.
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('K8S_LOGS_AGENT_'))),
    ...(process.env['AGENT_NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['AGENT_NODE_OPTIONS'] } : {}),
    ...(process.env['AGENT_MALLOC_ARENA_MAX'] ? { MALLOC_ARENA_MAX: process.env['AGENT_MALLOC_ARENA_MAX'] } : {}),
    // glibc malloc tunables and libuv's pool size of the experiment (e.g. MALLOC_MMAP_THRESHOLD_=131072).
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_') || k === 'UV_THREADPOOL_SIZE')),
  },
});
const pid = agent.pid!;
let lastLog = 0;
let s = await stats();
let peak = 0;
while (s.unique < w.records) {
  await new Promise((r) => setTimeout(r, 100));
  if (agent.exitCode !== null) throw new Error(`agent exited ${agent.exitCode}`);
  s = await stats();
  peak = Math.max(peak, await procStatus(pid, 'VmRSS'));
  if (performance.now() - lastLog > 5000) {
    lastLog = performance.now();
    log(`  ${s.unique} / ${w.records} records acknowledged`);
  }
}
const wall = (performance.now() - t0) / 1000;
const cpu = await procCpuSeconds(pid);
const hwm = await procStatus(pid, 'VmHWM');
agent.kill('SIGTERM');
await new Promise((r) => agent.once('exit', r));
sink.send('exit');
if (!values.keep) await rm(work, { recursive: true, force: true });

const result = {
  bench: 'agent-throughput',
  agent: values.source ? 'source (type stripping)' : 'built js',
  node_flags: nodeFlags.join(' '),
  env: shippedEnv,
  records: w.records,
  physical_lines: w.physicalLines,
  input_bytes: w.bytes,
  gzip_level: gzipLevel,
  wall_s: +wall.toFixed(2),
  lines_per_s: Math.round(w.records / wall),
  cpu_s: +cpu.toFixed(2),
  cpu_s_per_million_lines: +((cpu * 1e6) / w.records).toFixed(2),
  lines_per_cpu_s: Math.round(w.records / cpu),
  peak_rss_mib: +(Math.max(hwm, peak) / 1048576).toFixed(1),
  baseline_cpu_s: +baseline['cpu_s']!.toFixed(2),
  cpu_ratio_vs_baseline: +(cpu / baseline['cpu_s']!).toFixed(2),
  sent_body_bytes: s.bodyBytes,
  requests: s.requests,
  resent_records: s.received - s.unique,
  goals: { lines_per_cpu_s: 100_000, peak_rss_mib: 96 },
};
process.stdout.write(JSON.stringify(result) + '\n');
