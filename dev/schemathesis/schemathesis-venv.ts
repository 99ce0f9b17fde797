/**
 * schemathesis (PyPI), the API fuzzer behind `npm run fuzz` and test/aggregator/api-fuzz,
 * installed once into a per-user Python virtualenv with a pinned version, like the Go
 * tools in dev/go-tool.ts:
 *
 *   $XDG_CACHE_HOME/k8s-logs/schemathesis-venv/schemathesis-<version>/   (default ~/.cache/...)
 *
 * Only `python3` (with its venv module) and PyPI are needed. A venv cannot be moved after
 * it is made (its scripts carry absolute paths), so instead of a rename into place the
 * install writes a marker file last: a directory without the marker is a broken install
 * and is made again. Concurrent installers are serialised by a lock directory.
 *
 * Only Node built-ins are used.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../process-alive.ts';

/** The pinned version (checked with `pip index versions schemathesis` on 2026-12-01). */
export const SCHEMATHESIS_VERSION = '4.32.5';
const MARKER = '.k8s-logs-installed';
const OUTPUT_TAIL_CHARS = 4_000;

export function schemathesisVenvDir(version = SCHEMATHESIS_VERSION): string {
  const cacheHome = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(cacheHome, 'k8s-logs', 'schemathesis-venv', `schemathesis-${version}`);
}

/** The `schemathesis` executable of the venv (it may not be installed yet). */
export function schemathesisBinary(version = SCHEMATHESIS_VERSION): string {
  return join(schemathesisVenvDir(version), 'bin', 'schemathesis');
}

/** The executable when the venv is completely installed, else undefined. Never installs. */
export async function findSchemathesis(version = SCHEMATHESIS_VERSION): Promise<string | undefined> {
  const marker = await stat(join(schemathesisVenvDir(version), MARKER)).catch(() => undefined);
  return marker?.isFile() ? schemathesisBinary(version) : undefined;
}

/** Installs the venv unless it is there; returns the executable. Idempotent, safe concurrently. */
export async function ensureSchemathesis(
  log: (msg: string) => void = () => {},
  version = SCHEMATHESIS_VERSION,
): Promise<string> {
  const found = await findSchemathesis(version);
  if (found) return found;
  const dir = schemathesisVenvDir(version);
  await mkdir(join(dir, '..'), { recursive: true });
  const release = await lock(`${dir}.lock`, log);
  try {
    const again = await findSchemathesis(version);
    if (again) return again;
    await rm(dir, { recursive: true, force: true });
    const started = Date.now();
    log(`installing schemathesis ${version} into ${dir} (first time only; ~20 s with PyPI reachable)`);
    const python = process.env['PYTHON'] || 'python3';
    await run(python, ['-m', 'venv', dir]);
    await run(join(dir, 'bin', 'python'), [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `schemathesis==${version}`,
    ]);
    await run(schemathesisBinary(version), ['--version']);
    await writeFile(join(dir, MARKER), `schemathesis ${version}\n`);
    log(`installed schemathesis ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return schemathesisBinary(version);
  } finally {
    await release();
  }
}

async function lock(dir: string, log: (msg: string) => void): Promise<() => Promise<void>> {
  const owner = join(dir, 'pid');
  let announced = false;
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(owner, `${process.pid}\n`);
      return () => rm(dir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const { readFile } = await import('node:fs/promises');
    const pid = Number.parseInt(await readFile(owner, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      log(`waiting for the schemathesis install running in pid ${pid}`);
      announced = true;
    }
    await sleep(500);
  }
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new Error(`\`${cmd}\` not found; schemathesis needs python3 with the venv module`)
          : err,
      ),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${out.slice(-OUTPUT_TAIL_CHARS)}`));
    });
  });
}
