/**
 * Starts and stops the embedded single-node OpenSearch (dev/opensearch/, a Maven project
 * that runs OpenSearch 2.19 from the Maven Central jars) as a child JVM.
 *
 * Owns: building the launcher jar when its sources changed, the JVM's lifecycle, the pid
 * file `<dataDir>/opensearch.pid`, and the logs under `<dataDir>/logs/` (`opensearch.log`
 * from log4j, `console.log` for the JVM's stdout/stderr).
 *
 * Concurrency: several processes may call startOpenSearch at once with *different*
 * data dirs (tap runs test files in parallel); the Maven build is serialised by a lock
 * file. Two nodes on the same data dir are not supported: the second start kills the
 * first (see killStaleOpenSearch), which is what `npm start` after a crash wants.
 *
 * Only Node built-ins are used, so this works before anything else in the repo builds.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isAlive } from '../process-alive.ts';

/** Directory of the Maven project (this file's directory). */
export const OPENSEARCH_PROJECT_DIR = import.meta.dirname;
const TARGET_DIR = path.join(OPENSEARCH_PROJECT_DIR, 'target');
/** The runnable launcher jar; its manifest Class-Path points at target/lib/*.jar. */
export const LAUNCHER_JAR = path.join(TARGET_DIR, 'embedded-opensearch.jar');
const LIB_DIR = path.join(TARGET_DIR, 'lib');
const BUILD_LOCK = path.join(OPENSEARCH_PROJECT_DIR, 'target', '.build.lock');

/** Line the launcher prints on stdout once HTTP is bound (see EmbeddedOpenSearch.java). */
const READY_LINE = /^EMBEDDED_OPENSEARCH_HTTP (\S+):(\d+)$/m;
const PID_FILE = 'opensearch.pid';
const LOG_TAIL_LINES = 40;

export interface StartOpenSearchOptions {
  /** Home of this node: data, logs, pid file. Created if missing. Required. */
  dataDir: string;
  /** HTTP port on 127.0.0.1. Default: a free port chosen by the OS when binding. */
  port?: number;
  /** Maximum heap (-Xmx) in MiB. Default 1024; -Xms is min(512, heapMb). */
  heapMb?: number;
  /** cluster.name. Default "k8s-logs-dev". */
  clusterName?: string;
  /** Deadline for build-free startup until the cluster is yellow, in ms. Default 120000. */
  startTimeoutMs?: number;
  /** Time stop() waits after SIGTERM before SIGKILL, in ms. Default 30000. */
  stopTimeoutMs?: number;
  /**
   * The JVM exits by itself when this Node process is gone (checked every second), so a
   * crashed test run leaves no JVM behind. Default true.
   */
  exitWithParent?: boolean;
  /** Java executable. Default "java" from PATH. */
  javaBin?: string;
  /** Maven executable, used only when the launcher jar must be (re)built. Default "mvn". */
  mvnBin?: string;
  /** Progress messages (build output, readiness). Default: discarded. */
  log?: (msg: string) => void;
}

export interface RunningOpenSearch {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:9200 */
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** log4j output of the node. */
  logFile: string;
  /** Time spent building the launcher (0 when the cached build was used), in ms. */
  buildMs: number;
  /** Time from spawning the JVM to a yellow cluster, in ms. */
  readyMs: number;
  /** Resolves with the exit code (or null when killed by a signal) once the JVM is gone. */
  exited: Promise<number | null>;
  /** SIGTERM, wait up to stopTimeoutMs, then SIGKILL. Idempotent; resolves once the JVM is gone. */
  stop(): Promise<void>;
}

export type OpenSearchErrorCode =
  'DEV_ERR_OPENSEARCH_BUILD' | 'DEV_ERR_OPENSEARCH_EXITED' | 'DEV_ERR_OPENSEARCH_TIMEOUT';

/** Startup or build failure; `message` ends with the relevant log tail. */
export class OpenSearchProcessError extends Error {
  readonly code: OpenSearchErrorCode;
  constructor(code: OpenSearchErrorCode, message: string) {
    super(message);
    this.name = 'OpenSearchProcessError';
    this.code = code;
  }
}

/**
 * Builds the launcher with `mvn package` unless target/ is newer than pom.xml and src/.
 * Safe to call concurrently from several processes (lock file). Returns build time in ms
 * (0 when nothing was built).
 */
export async function ensureOpenSearchBuilt(
  opts: { mvnBin?: string; log?: (msg: string) => void } = {},
): Promise<number> {
  if (await isBuildFresh()) return 0;
  const log = opts.log ?? noop;
  await fsp.mkdir(TARGET_DIR, { recursive: true });
  const release = await acquireLock(BUILD_LOCK, log);
  try {
    // Another process may have built it while we waited for the lock.
    if (await isBuildFresh()) return 0;
    log('building embedded OpenSearch launcher (first run downloads ~80 jars from Maven Central)');
    const started = performance.now();
    await runMaven(opts.mvnBin ?? 'mvn', log);
    // Maven may leave an up-to-date jar untouched (e.g. only pom.xml was touched); mark
    // the build as covering every source it has just seen.
    const now = new Date();
    await fsp.utimes(LAUNCHER_JAR, now, now).catch(() => undefined);
    if (!(await isBuildFresh())) {
      throw new OpenSearchProcessError(
        'DEV_ERR_OPENSEARCH_BUILD',
        `mvn package finished but ${LAUNCHER_JAR} is missing or stale`,
      );
    }
    const ms = Math.round(performance.now() - started);
    log(`embedded OpenSearch launcher built in ${ms} ms`);
    return ms;
  } finally {
    await release();
  }
}

/**
 * Starts a node on `dataDir` and resolves once `GET /_cluster/health?wait_for_status=yellow`
 * succeeds. Kills a node left running on the same dataDir by an earlier crashed run.
 * On failure the JVM is killed and the error carries the tail of the node's logs.
 */
export async function startOpenSearch(opts: StartOpenSearchOptions): Promise<RunningOpenSearch> {
  const log = opts.log ?? noop;
  const dataDir = path.resolve(opts.dataDir);
  const heapMb = opts.heapMb ?? 1024;
  const startTimeoutMs = opts.startTimeoutMs ?? 120_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
  const logsDir = path.join(dataDir, 'logs');
  const logFile = path.join(logsDir, 'opensearch.log');
  const consoleFile = path.join(logsDir, 'console.log');
  const pidFile = path.join(dataDir, PID_FILE);

  const buildMs = await ensureOpenSearchBuilt({ mvnBin: opts.mvnBin, log });
  await killStaleOpenSearch(dataDir, { log });
  await fsp.mkdir(logsDir, { recursive: true });

  const javaArgs = [
    `-Xms${Math.min(512, heapMb)}m`,
    `-Xmx${heapMb}m`,
    // As in the distribution's jvm.options: date parsing relies on OpenSearch's
    // CalendarDataProvider (SPI) and JDK 8-compatible locale data.
    '-Djava.locale.providers=SPI,COMPAT',
    '-Dfile.encoding=UTF-8',
    '-XX:+ExitOnOutOfMemoryError',
    '-jar',
    LAUNCHER_JAR,
    '--data-dir',
    dataDir,
    '--http-port',
    String(opts.port ?? 0),
    '--cluster-name',
    opts.clusterName ?? 'k8s-logs-dev',
  ];
  if (opts.exitWithParent ?? true) javaArgs.push('--parent-pid', String(process.pid));

  // stdout/stderr go to a file, not a pipe: the JVM must not depend on this process
  // draining a pipe (it may outlive us when exitWithParent is false).
  const consoleFd = fs.openSync(consoleFile, 'w');
  let child: ChildProcess;
  const spawnedAt = performance.now();
  try {
    child = spawn(opts.javaBin ?? 'java', javaArgs, {
      cwd: dataDir,
      stdio: ['ignore', consoleFd, consoleFd],
      // Own process group: Ctrl-C in a terminal reaches only us, and we stop the JVM in order.
      detached: true,
    });
  } finally {
    fs.closeSync(consoleFd);
  }
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
  // 'error' after a successful spawn (a failed kill) must not crash the caller.
  const spawnError = new Promise<Error>((resolve) => child.on('error', resolve));
  const pid = await Promise.race([
    new Promise<number>((resolve) => child.once('spawn', () => resolve(child.pid ?? -1))),
    spawnError.then((err) => {
      throw new OpenSearchProcessError(
        'DEV_ERR_OPENSEARCH_EXITED',
        `cannot run java: ${err.message}`,
      );
    }),
  ]);
  await fsp.writeFile(pidFile, `${pid}\n`);
  log(`embedded OpenSearch starting (pid ${pid}, data ${dataDir})`);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        // Cancel the timer once the JVM is gone: a pending timer would hold the caller's
        // event loop open for the whole stopTimeoutMs.
        const timer = new AbortController();
        const graceful = await Promise.race([
          exited.then(() => true),
          delay(stopTimeoutMs, false, { signal: timer.signal }).catch(() => true),
        ]);
        timer.abort();
        if (!graceful) {
          log(
            `embedded OpenSearch (pid ${pid}) ignored SIGTERM for ${stopTimeoutMs} ms, sending SIGKILL`,
          );
          child.kill('SIGKILL');
        }
      }
      await exited;
      await removePidFile(pidFile, pid);
    })();
    return stopping;
  };

  const deadline = Date.now() + startTimeoutMs;
  const logTail = async (): Promise<string> =>
    `\n--- ${consoleFile} (tail) ---\n${await tailFile(consoleFile)}` +
    `\n--- ${logFile} (tail) ---\n${await tailFile(logFile)}`;
  const fail = async (code: OpenSearchErrorCode, why: string): Promise<never> => {
    await stop();
    throw new OpenSearchProcessError(code, `embedded OpenSearch ${why}${await logTail()}`);
  };

  // 1. Wait for the launcher's "HTTP bound" line (it carries the OS-chosen port).
  let host = '';
  let port = 0;
  while (port === 0) {
    if (child.exitCode !== null || child.signalCode !== null) {
      return fail('DEV_ERR_OPENSEARCH_EXITED', `exited during startup (${describeExit(child)})`);
    }
    if (Date.now() > deadline) {
      return fail('DEV_ERR_OPENSEARCH_TIMEOUT', `did not bind HTTP within ${startTimeoutMs} ms`);
    }
    const match = READY_LINE.exec(await readText(consoleFile));
    if (match) {
      host = match[1] ?? '127.0.0.1';
      port = Number(match[2]);
    } else {
      await Promise.race([delay(100), exited]);
    }
  }
  const url = `http://${host}:${port}`;

  // 2. Wait for a usable cluster (primary shards of existing indices allocated).
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      return fail('DEV_ERR_OPENSEARCH_EXITED', `exited during startup (${describeExit(child)})`);
    }
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) {
      return fail(
        'DEV_ERR_OPENSEARCH_TIMEOUT',
        `was not yellow at ${url} within ${startTimeoutMs} ms`,
      );
    }
    if (await isYellow(url, remainingMs)) break;
    await Promise.race([delay(250), exited]);
  }
  const readyMs = Math.round(performance.now() - spawnedAt);
  log(`embedded OpenSearch ready at ${url} in ${readyMs} ms`);

  return { url, port, pid, dataDir, logFile, buildMs, readyMs, exited, stop };
}

/**
 * Kills a node left running on `dataDir` by an earlier run (crash, kill -9 of `npm start`),
 * found through its pid file. The pid is only signalled when that process's command line
 * is our launcher with this data dir, so a recycled pid is never hit. Returns the pid that
 * was stopped, or undefined when there was none.
 */
export async function killStaleOpenSearch(
  dataDir: string,
  opts: { timeoutMs?: number; log?: (msg: string) => void } = {},
): Promise<number | undefined> {
  const log = opts.log ?? noop;
  const absDataDir = path.resolve(dataDir);
  const pidFile = path.join(absDataDir, PID_FILE);
  const pid = Number.parseInt(await readText(pidFile), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const cmdline = await processCommandLine(pid);
  if (cmdline === undefined || !cmdline.includes(LAUNCHER_JAR) || !cmdline.includes(absDataDir)) {
    await removePidFile(pidFile, pid);
    return undefined;
  }
  log(`stopping stale embedded OpenSearch (pid ${pid}) on ${absDataDir}`);
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (isAlive(pid) && Date.now() < deadline) await delay(100);
  if (isAlive(pid)) {
    signal(pid, 'SIGKILL');
    while (isAlive(pid)) await delay(50);
  }
  await removePidFile(pidFile, pid);
  return pid;
}

async function isBuildFresh(): Promise<boolean> {
  const jar = await statOrUndefined(LAUNCHER_JAR);
  const lib = await statOrUndefined(LIB_DIR);
  if (!jar || !lib?.isDirectory()) return false;
  const newestSource = await newestMtimeMs([
    path.join(OPENSEARCH_PROJECT_DIR, 'pom.xml'),
    path.join(OPENSEARCH_PROJECT_DIR, 'src'),
  ]);
  return jar.mtimeMs >= newestSource;
}

async function newestMtimeMs(paths: string[]): Promise<number> {
  let newest = 0;
  for (const p of paths) {
    const st = await statOrUndefined(p);
    if (!st) continue;
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) {
      const entries = await fsp.readdir(p);
      newest = Math.max(newest, await newestMtimeMs(entries.map((e) => path.join(p, e))));
    }
  }
  return newest;
}

async function runMaven(mvnBin: string, log: (msg: string) => void): Promise<void> {
  const tail: string[] = [];
  const child = spawn(mvnBin, ['-B', '-Dstyle.color=never', 'package', '-DskipTests'], {
    cwd: OPENSEARCH_PROJECT_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onLine = (line: string): void => {
    tail.push(line);
    if (tail.length > LOG_TAIL_LINES) tail.shift();
    log(`mvn: ${line}`);
  };
  splitLines(child.stdout, onLine);
  splitLines(child.stderr, onLine);
  const result = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  if (result.error || result.code !== 0) {
    const why = result.error
      ? `cannot run ${mvnBin}: ${result.error.message}`
      : `exit code ${result.code}`;
    throw new OpenSearchProcessError(
      'DEV_ERR_OPENSEARCH_BUILD',
      `building the embedded OpenSearch launcher failed (${why})\n${tail.join('\n')}`,
    );
  }
}

function splitLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      onLine(pending.slice(0, nl).trimEnd());
      pending = pending.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    if (pending) onLine(pending.trimEnd());
  });
}

/**
 * Cross-process mutex: exclusive create of `lockFile` holding our pid. A lock whose
 * owner is dead is taken over, so a killed build does not block later ones.
 */
async function acquireLock(
  lockFile: string,
  log: (msg: string) => void,
): Promise<() => Promise<void>> {
  let announced = false;
  for (;;) {
    try {
      await fsp.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
      return async () => {
        await fsp.rm(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number.parseInt(await readText(lockFile), 10);
    if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) {
      await fsp.rm(lockFile, { force: true });
      continue;
    }
    if (!announced) {
      log(`waiting for the embedded OpenSearch build running in pid ${owner}`);
      announced = true;
    }
    await delay(500);
  }
}

async function isYellow(url: string, remainingMs: number): Promise<boolean> {
  const waitS = Math.max(1, Math.min(10, Math.floor(remainingMs / 1000)));
  try {
    const res = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=${waitS}s`, {
      signal: AbortSignal.timeout(waitS * 1000 + 2000),
    });
    const body = (await res.json()) as { status?: string; timed_out?: boolean };
    return (
      res.ok && body.timed_out === false && (body.status === 'yellow' || body.status === 'green')
    );
  } catch {
    return false;
  }
}

async function processCommandLine(pid: number): Promise<string | undefined> {
  if (!isAlive(pid)) return undefined;
  const procFile = `/proc/${pid}/cmdline`;
  if (fs.existsSync('/proc/self/cmdline')) {
    const raw = await readText(procFile);
    return raw === '' ? undefined : raw.replaceAll('\0', ' ');
  }
  // No procfs (macOS): ask ps.
  return new Promise((resolve) => {
    const ps = spawn('ps', ['-o', 'args=', '-p', String(pid)], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    ps.stdout.setEncoding('utf8');
    ps.stdout.on('data', (chunk: string) => (out += chunk));
    ps.once('error', () => resolve(undefined));
    ps.once('close', (code) => resolve(code === 0 && out.trim() !== '' ? out.trim() : undefined));
  });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Removes the pid file only if it still names `pid` (a newer node may own it by now). */
async function removePidFile(pidFile: string, pid: number): Promise<void> {
  if (Number.parseInt(await readText(pidFile), 10) === pid) await fsp.rm(pidFile, { force: true });
}

function describeExit(child: ChildProcess): string {
  return child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`;
}

async function readText(file: string): Promise<string> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch {
    return '';
  }
}

async function tailFile(file: string, maxBytes = 16_384): Promise<string> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    const lines = buf.toString('utf8').split('\n');
    return lines.slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    return '(no output)';
  } finally {
    await handle?.close();
  }
}

async function statOrUndefined(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fsp.stat(p);
  } catch {
    return undefined;
  }
}

function noop(): void {}
