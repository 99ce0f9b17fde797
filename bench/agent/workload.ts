/**
 * The agent benchmark's workload (deterministic): CRI log files as containerd writes them,
 * about 200 bytes per line, half JSON (structured loggers) and half plain text, 10% of the
 * logical lines split by the runtime into a `P` and an `F` piece. Written once into
 * `dir` and reused when present with the same parameters.
 */
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Workload {
  dir: string;
  files: string[];
  /** Logical lines (records the agent must deliver). */
  records: number;
  /** Physical lines in the files. */
  physicalLines: number;
  bytes: number;
}

const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const PATHS = ['/api/v1/orders', '/api/v1/items', '/api/v1/users', '/healthz', '/api/v1/cart', '/api/v2/search'];
const LEVELS = ['info', 'info', 'info', 'info', 'debug', 'warn', 'error'];
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

function message(i: number, ts: string): string {
  const m = METHODS[i % METHODS.length]!;
  const p = PATHS[(i >> 3) % PATHS.length]!;
  const lvl = LEVELS[(i * 7) % LEVELS.length]!;
  const u = USERS[(i >> 5) % USERS.length]!;
  const status = i % 50 === 0 ? 500 : i % 13 === 0 ? 404 : 200;
  if (i % 2 === 0) {
    return `{"level":"${lvl}","ts":"${ts}","msg":"request handled","method":"${m}","path":"${p}/${i % 100000}","status":${status},"duration_ms":${i % 997},"user":"${u}"}`;
  }
  return `${ts.slice(0, 10)} ${ts.slice(11, 23)} ${lvl.toUpperCase().padEnd(5)} [http-nio-8080-exec-${i % 16}] c.e.shop.Controller - ${m} ${p}/${i % 100000} status=${status} in ${i % 997}ms user=${u}`;
}

/** Builds (or reuses) `records` logical lines spread over `files` container logs. */
export async function ensureWorkload(dir: string, records: number, fileCount: number): Promise<Workload> {
  await mkdir(dir, { recursive: true });
  const manifestPath = join(dir, 'workload.json');
  const want = { version: 2, records, fileCount };
  try {
    const m = JSON.parse(await readFile(manifestPath, 'utf8')) as Workload & { params: unknown };
    if (JSON.stringify(m.params) === JSON.stringify(want)) return m;
  } catch {
    // build it
  }
  const files: string[] = [];
  let physicalLines = 0;
  let bytes = 0;
  const perFile = Math.ceil(records / fileCount);
  const base = Date.parse('2026-11-25T12:00:00Z');
  let n = 0;
  for (let f = 0; f < fileCount; f++) {
    const cid = (f + 1).toString(16).padStart(64, 'b');
    const path = join(dir, `shop-web-7d9c6b8f5-x${f}q4k_shop_web-${cid}.log`);
    files.push(path);
    const fh = await open(path, 'w');
    let chunk: string[] = [];
    const count = Math.min(perFile, records - f * perFile);
    for (let i = 0; i < count; i++, n++) {
      const ms = base + Math.floor(n / 50);
      const ts =
        new Date(ms).toISOString().slice(0, 19) +
        '.' +
        pad((n % 50) * 20_000 + (ms % 1000) * 1_000_000, 9).slice(0, 9) +
        'Z';
      const stream = n % 10 === 3 ? 'stderr' : 'stdout';
      const msg = message(n, ts);
      if (n % 10 === 7) {
        const cut = msg.length >> 1;
        chunk.push(`${ts} ${stream} P ${msg.slice(0, cut)}\n${ts} ${stream} F ${msg.slice(cut)}\n`);
        physicalLines += 2;
      } else {
        chunk.push(`${ts} ${stream} F ${msg}\n`);
        physicalLines += 1;
      }
      if (chunk.length >= 10_000) {
        const text = chunk.join('');
        bytes += Buffer.byteLength(text);
        await fh.write(text);
        chunk = [];
      }
    }
    if (chunk.length > 0) {
      const text = chunk.join('');
      bytes += Buffer.byteLength(text);
      await fh.write(text);
    }
    await fh.close();
  }
  const w: Workload = { dir, files, records, physicalLines, bytes };
  await writeFile(manifestPath, JSON.stringify({ ...w, params: want }));
  return w;
}
