/**
 * `npm run bench`: runs benchmark files one after another (never in parallel: they would
 * measure each other), each in its own Node process with the arguments that follow.
 *
 *   npm run bench                                   # every *.bench.ts under bench/agent and bench/aggregator
 *                                                   # (the chaos run is `npm run chaos`: it takes an hour)
 *   npm run bench -- bench/aggregator               # the ones in a folder
 *   npm run bench -- bench/aggregator/query-latency.bench.ts --lines 200000
 *
 * Arguments that name an existing file or folder select benchmarks; the rest are passed to
 * each benchmark. Every benchmark prints one JSON result line on stdout (progress goes to
 * stderr); this runner passes stdout through and exits non-zero if any benchmark failed.
 */
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const root = import.meta.dirname;
/** The fault-injection run is long and judged by loss, not speed: it runs only when named. */
const DEFAULT_SUITES = ['agent', 'aggregator'].map((d) => path.join(root, d));

async function benchFiles(target: string): Promise<string[]> {
  const s = await stat(target);
  if (s.isFile()) return [target];
  const out: string[] = [];
  for (const entry of await readdir(target, { withFileTypes: true })) {
    const p = path.join(target, entry.name);
    if (entry.isDirectory()) out.push(...(await benchFiles(p)));
    else if (entry.name.endsWith('.bench.ts')) out.push(p);
  }
  return out.sort();
}

const targets: string[] = [];
const passThrough: string[] = [];
for (const arg of process.argv.slice(2)) {
  const exists = await stat(arg).then(() => true, () => false);
  (exists && !arg.startsWith('-') ? targets : passThrough).push(arg);
}
const files = (await Promise.all((targets.length ? targets : DEFAULT_SUITES).map(benchFiles))).flat();
if (files.length === 0) {
  process.stderr.write('no *.bench.ts files found\n');
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  process.stderr.write(`[bench] ${path.relative(process.cwd(), file)} ${passThrough.join(' ')}\n`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [file, ...passThrough], { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    child.on('exit', (c, sig) => {
      process.off('SIGINT', forward).off('SIGTERM', forward);
      resolve(c ?? (sig ? 1 : 0));
    });
  });
  if (code !== 0) {
    failed++;
    process.stderr.write(`[bench] ${file} failed (exit ${code})\n`);
  }
}
process.exit(failed ? 1 : 0);
