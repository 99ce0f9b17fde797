// Local S3-compatible server for `npm start` and the tests: Versity S3 Gateway
// (versitygw) with its posix backend, built from the Go module proxy with `go install`.
//
// Why versitygw (see dev/s3/README.md for the comparison): it accepts the AWS SDK v3's
// default checksum behaviour (CRC32 trailers on `aws-chunked` bodies) unchanged, stores
// each object as a plain file under the data directory (so data survives restarts and can
// be inspected with `ls`), is a single static binary that starts in well under a second,
// and installs from the Go module proxy in about two minutes on two cores (seconds when
// the Go caches are warm).
//
// Ownership: startS3Server() spawns one child process per call and owns it until stop()
// resolves. The data directory is owned by one server at a time; the pid file in it lets a
// later run kill a server left behind by a crashed parent (killStaleS3Server).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { ensureGoTool, goToolBinaryPath, goToolInstallDir, isExecutableFile, type GoTool, type Log } from '../go-tool.ts';
import { isAlive } from '../process-alive.ts';
import { pickFreePort } from '../free-port.ts';

/** Go module and version that is built; bump both together with the README. */
export const S3_SERVER_MODULE = 'github.com/versity/versitygw/cmd/versitygw';
export const S3_SERVER_VERSION = 'v1.8.0';

const BINARY_NAME = 'versitygw';
const HEALTH_PATH = '/healthz';
const PID_FILE = 's3-server.pid';
const LOG_FILE = 's3-server.log';
/** Sub-directory of the data dir that versitygw serves; each directory below it is a bucket. */
const ROOT_DIR = 'buckets';

/** Fixed development credentials; the server listens on loopback only. */
const DEV_ACCESS_KEY_ID = 'k8s-logs-dev';
const DEV_SECRET_ACCESS_KEY = 'k8s-logs-dev-secret';
const DEV_REGION = 'us-east-1';

const DEFAULT_READY_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_TIMEOUT_MS = 5_000;
const LOG_TAIL_BYTES = 4_000;

export type { Log };

export interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RunningS3Server extends S3Endpoint {
  pid: number;
  /** Data directory given to startS3Server (absolute). */
  dataDir: string;
  /** File the server's stdout and stderr are appended to. */
  logFile: string;
  /** SIGTERM, then SIGKILL after the stop timeout. Idempotent; resolves once the process is gone. */
  stop(): Promise<void>;
}

export interface StartS3ServerOptions {
  /** Directory holding the objects, the pid file and the server log. Created if missing. */
  dataDir: string;
  /** Loopback port; a free one is picked when omitted. */
  port?: number;
  log?: Log;
  /** How long to wait for the health endpoint to answer; default 30 000 ms. */
  readyTimeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL in stop(); default 5 000 ms. */
  stopTimeoutMs?: number;
}

const noop: Log = () => {};

/** The S3 server as a Go tool built into the cache (dev/go-tool.ts). */
const S3_SERVER_TOOL: GoTool = {
  cacheName: 's3',
  module: S3_SERVER_MODULE,
  version: S3_SERVER_VERSION,
  binary: BINARY_NAME,
  label: 'S3 server',
  expectedDuration: 'about 2 minutes on 2 cores',
};

/**
 * Where the binary is cached between runs: `$XDG_CACHE_HOME/k8s-logs/s3` or
 * `~/.cache/k8s-logs/s3`, one directory per version.
 */
export function s3ServerInstallDir(): string {
  return goToolInstallDir(S3_SERVER_TOOL);
}

export function s3ServerBinaryPath(): string {
  return goToolBinaryPath(S3_SERVER_TOOL);
}

/**
 * Builds the server with `go install` into the cache directory unless it is already there.
 * Needs `go` (1.25 or newer, or a Go that may fetch that toolchain from the module proxy)
 * on PATH. Safe to run concurrently (see dev/go-tool.ts).
 */
export async function ensureS3ServerInstalled(log: Log = noop): Promise<void> {
  await ensureGoTool(S3_SERVER_TOOL, log);
}

function tail(text: string, bytes = LOG_TAIL_BYTES): string {
  return text.length <= bytes ? text : `…${text.slice(-bytes)}`;
}

/** The end of what the server wrote to its log since byte `from` (this run's part). */
async function readLogTail(path: string, from: number): Promise<string> {
  try {
    const text = (await readFile(path)).subarray(from).toString('utf8');
    return text.trim() === '' ? '(no log output)' : tail(text);
  } catch {
    return '(no log output)';
  }
}

export { pickFreePort };

/** True if the process is (still) our S3 server binary; guards against pid reuse. */
async function isOurServer(pid: number): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0')[0]?.endsWith(BINARY_NAME) ?? false;
  } catch {
    // No /proc (not Linux) or the process is gone: fall back to liveness only.
    return isAlive(pid);
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

/**
 * Kills a server left running by an earlier run on the same data directory (pid file),
 * SIGTERM first, SIGKILL after the timeout. Returns the pid it stopped, or undefined when
 * there was none. A pid that now belongs to another program is left alone.
 */
export async function killStaleS3Server(
  dataDir: string,
  opts: { log?: Log; timeoutMs?: number } = {},
): Promise<number | undefined> {
  const log = opts.log ?? noop;
  const pidFile = join(resolve(dataDir), PID_FILE);
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(pidFile, 'utf8')).trim(), 10);
  } catch {
    return undefined;
  }
  let stopped: number | undefined;
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (await isOurServer(pid))) {
    log(`stopping stale S3 server pid ${pid} (from ${pidFile})`);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    if (!(await waitForExit(pid, opts.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await waitForExit(pid, 2_000);
    }
    stopped = pid;
  }
  await rm(pidFile, { force: true });
  return stopped;
}

function httpStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolvePromise(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts the server on 127.0.0.1 with `dataDir` as its storage and waits until it answers.
 * Installs nothing: call ensureS3ServerInstalled() first. Kills a stale server recorded in
 * the data dir's pid file. Rejects with the tail of the server log when the process exits
 * early or is not ready before the deadline (and then leaves no process behind).
 */
export async function startS3Server(opts: StartS3ServerOptions): Promise<RunningS3Server> {
  const log = opts.log ?? noop;
  const binary = s3ServerBinaryPath();
  if (!(await isExecutableFile(binary))) {
    throw new Error(
      `S3 server not installed at ${binary}; run \`node dev/s3/cli.ts install\` ` +
        'or call ensureS3ServerInstalled() first',
    );
  }
  const dataDir = resolve(opts.dataDir);
  const rootDir = join(dataDir, ROOT_DIR);
  await mkdir(rootDir, { recursive: true });
  await killStaleS3Server(dataDir, { log });

  // A picked port can be taken by someone else before the server binds it: retry then.
  const attempts = opts.port === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await pickFreePort());
    try {
      return await startOnce({ ...opts, log, binary, dataDir, rootDir, port });
    } catch (err) {
      if (attempt < attempts && err instanceof PortInUseError) {
        log(`port ${port} was taken, retrying with another`);
        continue;
      }
      throw err;
    }
  }
}

class PortInUseError extends Error {}

async function startOnce(
  o: StartS3ServerOptions & {
    log: Log;
    binary: string;
    dataDir: string;
    rootDir: string;
    port: number;
  },
): Promise<RunningS3Server> {
  const logFile = join(o.dataDir, LOG_FILE);
  const pidFile = join(o.dataDir, PID_FILE);
  const endpoint = `http://127.0.0.1:${o.port}`;
  const logFd = openSync(logFile, 'a');
  const logStart = fstatSync(logFd).size;
  let child: ChildProcess;
  try {
    child = spawn(
      o.binary,
      [
        '--port',
        `127.0.0.1:${o.port}`,
        '--access',
        DEV_ACCESS_KEY_ID,
        '--secret',
        DEV_SECRET_ACCESS_KEY,
        '--region',
        DEV_REGION,
        '--health',
        HEALTH_PATH,
        '--quiet',
        'posix',
        o.rootDir,
      ],
      // Credentials are passed as flags; keep the environment's ROOT_*/VGW_* out of it.
      { stdio: ['ignore', logFd, logFd], env: { PATH: process.env.PATH ?? '' } },
    );
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    await once(child, 'error').catch(() => {});
    throw new Error(`could not spawn ${o.binary}\n${await readLogTail(logFile, logStart)}`);
  }
  await writeFile(pidFile, `${pid}\n`);

  let exited = child.exitCode !== null || child.signalCode !== null;
  const exitedPromise = new Promise<void>((r) => {
    if (exited) r();
    child.once('exit', () => {
      exited = true;
      r();
    });
  });

  // If this process exits without calling stop() (a crashed test, an uncaught error), do not
  // leave the server behind. Removed again by stop().
  const killOnExit = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stopTimeoutMs = o.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (!exited) {
        child.kill('SIGTERM');
        const timer = sleep(stopTimeoutMs).then(() => 'timeout' as const);
        if ((await Promise.race([exitedPromise, timer])) === 'timeout' && !exited) {
          o.log(`S3 server pid ${pid} ignored SIGTERM for ${stopTimeoutMs} ms; sending SIGKILL`);
          child.kill('SIGKILL');
          await exitedPromise;
        }
      }
      await rm(pidFile, { force: true });
    })();
    return stopping;
  };

  const started = Date.now();
  const deadline = started + (o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
  for (;;) {
    if (exited) {
      process.removeListener('exit', killOnExit);
      await rm(pidFile, { force: true });
      const logTail = await readLogTail(logFile, logStart);
      const Err = /address already in use/i.test(logTail) ? PortInUseError : Error;
      throw new Err(
        `S3 server exited during startup (code ${child.exitCode}, signal ${child.signalCode}); ` +
          `log ${logFile}:\n${logTail}`,
      );
    }
    try {
      if ((await httpStatus(`${endpoint}${HEALTH_PATH}`, 1_000)) === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `S3 server not ready on ${endpoint} within ${o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS} ms; ` +
          `log ${logFile}:\n${await readLogTail(logFile, logStart)}`,
      );
    }
    await sleep(50);
  }
  o.log(
    `S3 server ready on ${endpoint} in ${Date.now() - started} ms (pid ${pid}, data ${o.dataDir})`,
  );

  return {
    endpoint,
    region: DEV_REGION,
    accessKeyId: DEV_ACCESS_KEY_ID,
    secretAccessKey: DEV_SECRET_ACCESS_KEY,
    pid,
    dataDir: o.dataDir,
    logFile,
    stop,
  };
}

/**
 * SDK client settings for the local server. Only endpoint, region, credentials and
 * path-style addressing: checksums and everything else stay at the SDK defaults.
 */
export function s3ClientConfig(server: S3Endpoint): S3ClientConfig {
  return {
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    forcePathStyle: true,
  };
}

/** Creates the bucket unless this account already owns it. */
export async function ensureBucket(server: S3Endpoint, bucket: string): Promise<void> {
  const client = new S3Client(s3ClientConfig(server));
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if ((err as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw err;
  } finally {
    client.destroy();
  }
}
