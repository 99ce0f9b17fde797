/**
 * Builds the web UI (ui/src) into static files under ui/dist, which the aggregator serves
 * under /ui (aggregator/plugins/ui.ts): one minified ES module bundle (Preact + our code),
 * its stylesheet and index.html. esbuild ships as a prebuilt binary package, so the build
 * needs no compiler install step and takes well under a second.
 *
 *   node ui/build.ts            build (always)
 *   node ui/build.ts --if-stale build only when a source is newer than the last build
 *
 * `npm run build`, `npm start` and `npm test` call it; test/run.ts uses --if-stale.
 */
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const UI_ROOT = import.meta.dirname;
export const UI_DIST = path.join(UI_ROOT, 'dist');
const STAMP = path.join(UI_DIST, 'build.json');

async function newestSourceMs(): Promise<number> {
  let newest = 0;
  const files = [path.join(UI_ROOT, 'index.html'), path.join(UI_ROOT, 'build.ts')];
  for (const e of await readdir(path.join(UI_ROOT, 'src'), { recursive: true, withFileTypes: true })) {
    if (e.isFile()) files.push(path.join(e.parentPath, e.name));
  }
  for (const f of files) newest = Math.max(newest, (await stat(f)).mtimeMs);
  return newest;
}

/** True when ui/dist is missing or older than any source file. */
export async function uiIsStale(): Promise<boolean> {
  const built = await stat(STAMP).catch(() => undefined);
  return !built || built.mtimeMs < (await newestSourceMs());
}

/** Builds ui/dist; returns the bundle's sizes in bytes. */
export async function buildUi(): Promise<{ jsBytes: number; cssBytes: number; totalBytes: number }> {
  await mkdir(UI_DIST, { recursive: true });
  const result = await build({
    entryPoints: [path.join(UI_ROOT, 'src', 'main.tsx')],
    outfile: path.join(UI_DIST, 'app.js'),
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    sourcemap: 'linked',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  await copyFile(path.join(UI_ROOT, 'index.html'), path.join(UI_DIST, 'index.html'));
  const size = async (f: string) => (await stat(path.join(UI_DIST, f)).catch(() => ({ size: 0 }))).size;
  const jsBytes = await size('app.js');
  const cssBytes = await size('app.css');
  await writeFile(
    STAMP,
    JSON.stringify(
      { builtAt: new Date().toISOString(), jsBytes, cssBytes, inputs: Object.keys(result.metafile.inputs).length },
      null,
      2,
    ),
  );
  return { jsBytes, cssBytes, totalBytes: jsBytes + cssBytes + (await size('index.html')) };
}

if (import.meta.filename === process.argv[1]) {
  const ifStale = process.argv.includes('--if-stale');
  if (ifStale && !(await uiIsStale())) process.exit(0);
  const started = Date.now();
  const s = await buildUi();
  process.stderr.write(
    `ui: built ui/dist in ${Date.now() - started} ms: app.js ${s.jsBytes} B, app.css ${s.cssBytes} B\n`,
  );
}
