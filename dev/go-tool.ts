// Builds a Go program from the module proxy with `go install <module>@<version>` into a
// per-user cache, once: used for the local S3 server (dev/s3) and the chart tests' helm
// (chart/tests/helm-binary.ts). Only `go` is needed; the module proxy is the sole source.
//
// Cache layout: `$XDG_CACHE_HOME/k8s-logs/<cacheName>/<binary>-<version>/<binary>` (default
// `~/.cache/k8s-logs/...`), one directory per version, so bumping a version rebuilds and an
// old binary is never picked up by mistake.
//
// Concurrency: safe to call from several processes at once. Each build goes to its own
// temporary directory and the binary is moved into place with an atomic rename; the
// loser of a race overwrites the winner's file with an identical one.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export type Log = (msg: string) => void;

export interface GoTool {
  /** Directory under `~/.cache/k8s-logs/`. */
  cacheName: string;
  /** Package path of the main package, e.g. `helm.sh/helm/v3/cmd/helm`. */
  module: string;
  /** Module version, e.g. `v3.22.0`. */
  version: string;
  /** Name of the built binary (the last path element of `module`). */
  binary: string;
  /** Extra `-X importpath.name=value` linker settings (version stamps); `-s -w` are always set. */
  linkerVars?: Readonly<Record<string, string>>;
  /** Shown while building, e.g. "about 2 minutes on 2 cores". */
  expectedDuration?: string;
  /** Shown in messages, e.g. "S3 server". */
  label?: string;
}

const FALLBACK_GO = '/usr/local/go/bin/go';
const OUTPUT_TAIL_CHARS = 4_000;

export function goToolInstallDir(tool: GoTool): string {
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheHome, 'k8s-logs', tool.cacheName, `${tool.binary}-${tool.version}`);
}

export function goToolBinaryPath(tool: GoTool): string {
  return join(goToolInstallDir(tool), tool.binary);
}

export async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const s = await stat(path);
    return s.isFile() && (s.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Returns the cached binary's path, building it first when it is missing. Needs `go` on
 * PATH (or at /usr/local/go/bin); a Go older than the module's `go` line fetches the newer
 * toolchain from the proxy (GOTOOLCHAIN=auto).
 */
export async function ensureGoTool(tool: GoTool, log: Log = () => {}): Promise<string> {
  const binary = goToolBinaryPath(tool);
  if (await isExecutableFile(binary)) return binary;

  const label = tool.label ?? tool.binary;
  const installDir = goToolInstallDir(tool);
  await mkdir(installDir, { recursive: true });
  const tmpBin = await mkdtemp(join(installDir, '.build-'));
  const target = `${tool.module}@${tool.version}`;
  const ldflags = ['-s', '-w', ...Object.entries(tool.linkerVars ?? {}).map(([k, v]) => `-X ${k}=${v}`)].join(' ');
  log(
    `installing ${label}: go install ${target} (first time only${tool.expectedDuration ? `; ${tool.expectedDuration}` : ''})`,
  );
  const started = Date.now();
  try {
    const output = await runCommand(
      await findGo(),
      ['install', '-trimpath', `-ldflags=${ldflags}`, target],
      {
        ...process.env,
        GOBIN: tmpBin,
        CGO_ENABLED: '0',
        // Allow a Go older than the module's `go` line to fetch a newer toolchain from the proxy.
        GOTOOLCHAIN: process.env.GOTOOLCHAIN || 'auto',
      },
      tmpBin,
      label,
    );
    const built = join(tmpBin, tool.binary);
    if (!(await isExecutableFile(built))) {
      throw new Error(`go install succeeded but ${built} is missing\n${output}`);
    }
    await chmod(built, 0o755);
    await rename(built, binary);
    log(`installed ${label} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${binary}`);
    return binary;
  } finally {
    await rm(tmpBin, { recursive: true, force: true });
  }
}

/** `go` from PATH, else the usual tarball location (CI shells may not have it on PATH). */
export async function findGo(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutableFile(join(dir, 'go')))) return join(dir, 'go');
  }
  return (await isExecutableFile(FALLBACK_GO)) ? FALLBACK_GO : 'go';
}

export function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, label: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      reject(err);
      return;
    }
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => chunks.push(c));
    child.stderr?.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new Error(`\`${cmd}\` not found on PATH; the ${label} is built with Go`) : err);
    });
    child.on('close', (code, signal) => {
      const output = Buffer.concat(chunks).toString('utf8');
      if (code === 0) resolvePromise(output);
      else {
        const tail = output.length <= OUTPUT_TAIL_CHARS ? output : `…${output.slice(-OUTPUT_TAIL_CHARS)}`;
        reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail}`));
      }
    });
  });
}
