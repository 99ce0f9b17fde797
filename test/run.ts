/**
 * `npm test`: starts the real services once (embedded OpenSearch, the S3 server, a
 * Kubernetes control plane: etcd + kube-apiserver) unless OPENSEARCH_URL / S3_ENDPOINT /
 * KUBECONFIG point elsewhere, runs every test file with tap against
 * them, always stops them (also on failure or Ctrl-C), and ends with one line
 * `N passed, N failed` counted from tap's own summary.
 *
 *   npm test                      # static checks + every test file
 *   npm test -- test/aggregator   # some files or folders (no static checks)
 *
 * The static checks (`npm run typecheck`, `npm run lint`) count as one test each.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOpenSearch, type RunningOpenSearch } from '../dev/opensearch/opensearch-process.ts';
import { ensureS3ServerInstalled, startS3Server, type RunningS3Server } from '../dev/s3/s3-server.ts';
import { startControlPlane, type ControlPlane } from '../dev/kube/control-plane.ts';
import { KUBE_ENV } from './helpers/kube-env.ts';
import { buildUi, uiIsStale } from '../ui/build.ts';
import { failureRecap } from './helpers/failure-recap.ts';

const log = (msg: string) => process.stderr.write(`[test] ${msg}\n`);
const workDir = await mkdtemp(path.join(tmpdir(), 'k8s-logs-test-'));
let opensearch: RunningOpenSearch | undefined;
let s3: RunningS3Server | undefined;
let kube: ControlPlane | undefined;
let stopping: Promise<void> | undefined;

function stopServices(): Promise<void> {
  stopping ??= (async () => {
    await Promise.allSettled([opensearch?.stop(), s3?.stop(), kube?.stop()]);
    await rm(workDir, { recursive: true, force: true });
  })();
  return stopping;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    void stopServices().then(() => process.exit(130));
  });
}

const env: Record<string, string | undefined> = { ...process.env };
// Static checks run while the services start; their results join the count.
const staticChecks = process.argv.length > 2 ? Promise.resolve({ pass: 0, fail: 0 }) : runStaticChecks();
let exitCode = 1;
try {
  const started = Date.now();
  await Promise.all([
    // tap compiles its plugin set on first use after `npm ci`; our config drops its
    // TypeScript plugin (Node 24 strips types itself), so build that set up front.
    runQuiet(path.join(import.meta.dirname, '..', 'node_modules', '.bin', 'tap'), ['build'], 'tap build').then((ok) => {
      if (!ok) throw new Error('tap build failed');
    }),
    // The UI's end-to-end tests (test/ui/) and the /ui route serve ui/dist: build it when missing or stale.
    (async () => {
      if (!(await uiIsStale())) return;
      const ui = await buildUi();
      log(`web UI built: app.js ${ui.jsBytes} B, app.css ${ui.cssBytes} B`);
    })(),
    (async () => {
      if (env['OPENSEARCH_URL']) return;
      opensearch = await startOpenSearch({
        dataDir: path.join(workDir, 'opensearch'),
        heapMb: 1024,
        log: (m) => log(`opensearch: ${m}`),
      });
      env['OPENSEARCH_URL'] = opensearch.url;
    })(),
    (async () => {
      if (env['S3_ENDPOINT']) return;
      await ensureS3ServerInstalled((m) => log(`s3: ${m}`));
      s3 = await startS3Server({ dataDir: path.join(workDir, 's3') });
      Object.assign(env, {
        S3_ENDPOINT: s3.endpoint,
        S3_REGION: s3.region,
        S3_ACCESS_KEY_ID: s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      });
    })(),
    (async () => {
      // An existing cluster (KUBECONFIG) is used as it is; otherwise a control plane of our
      // own, built once into ~/.cache/k8s-logs/kube (about 10 minutes the first time).
      if (env['KUBECONFIG']) {
        env[KUBE_ENV.kubeconfig] = env['KUBECONFIG'].split(path.delimiter)[0];
        return;
      }
      const dataDir = path.join(workDir, 'kube');
      kube = await startControlPlane({ dataDir, log: (m) => log(`kube: ${m}`) });
      Object.assign(env, { [KUBE_ENV.kubeconfig]: kube.adminKubeconfigPath, [KUBE_ENV.dir]: dataDir });
    })(),
  ]);
  log(
    `services up in ${Date.now() - started} ms: OpenSearch ${env['OPENSEARCH_URL']}, S3 ${env['S3_ENDPOINT']}, Kubernetes ${kube?.apiServer.url ?? env[KUBE_ENV.kubeconfig]}`,
  );
  // tap matches folders against its include pattern only for the default run, so expand
  // folders given on the command line to their test files here.
  const files = await expandTestArgs(process.argv.slice(2));
  const checks = files.length > 0 ? { pass: 0, fail: 0 } : await staticChecks;
  exitCode = await runTap(files, env, checks);
} catch (err) {
  log(`could not run the tests: ${(err as Error).stack ?? String(err)}`);
  process.stdout.write('0 passed, 1 failed\n');
} finally {
  await stopServices();
}
process.exit(exitCode);

/** Runs tap, passing its output through, and prints the closing count line. */
function runTap(
  files: string[],
  childEnv: Record<string, string | undefined>,
  checks: { pass: number; fail: number },
): Promise<number> {
  return new Promise((resolve) => {
    const tapBin = path.join(import.meta.dirname, '..', 'node_modules', '.bin', 'tap');
    const child = spawn(tapBin, [`--jobs=${testJobs()}`, ...files], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let summary: { pass: number; fail: number; skip: number } | undefined;
    const failures = failureRecap();
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        summary = parseSummary(line) ?? summary;
        failures.read(line);
      }
    });
    child.on('close', (code) => {
      summary = parseSummary(pending) ?? summary;
      // A long run's log is often read from its tail only: repeat each failure there.
      const recap = failures.render();
      if (recap) process.stdout.write(recap);
      if (!summary) {
        process.stdout.write(`${checks.pass} passed, ${checks.fail + 1} failed\n`);
        resolve(code || 1);
        return;
      }
      const failed = summary.fail + (code !== 0 && summary.fail === 0 ? 1 : 0) + checks.fail;
      process.stdout.write(
        `${summary.pass + checks.pass} passed, ${failed} failed${summary.skip ? `, ${summary.skip} skipped` : ''}\n`,
      );
      resolve(failed > 0 ? 1 : 0);
    });
  });
}

/**
 * How many test files run at once: one by default (tap's own default on 2 cores). Four at
 * once on a loaded 2-core machine starved the API fuzz past its deadline (measured in a
 * clean-clone run), so parallel files wait for the slow files to be made lighter.
 * K8S_LOGS_TEST_JOBS overrides.
 */
function testJobs(): number {
  const asked = Number(process.env['K8S_LOGS_TEST_JOBS']);
  return Number.isInteger(asked) && asked > 0 ? asked : 1;
}

async function expandTestArgs(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    const info = await stat(arg).catch(() => undefined);
    if (!info?.isDirectory()) {
      out.push(arg);
      continue;
    }
    const entries = await readdir(arg, { recursive: true });
    out.push(
      ...entries
        .filter((e) => e.endsWith('.test.ts'))
        .map((e) => path.join(arg, e))
        .sort(),
    );
  }
  return out;
}

async function runStaticChecks(): Promise<{ pass: number; fail: number }> {
  const results = await Promise.all(
    ['typecheck', 'lint'].map((script) => runQuiet('npm', ['run', '--silent', script], script)),
  );
  return { pass: results.filter(Boolean).length, fail: results.filter((ok) => !ok).length };
}

/** Runs a command; prints its output only when it fails. */
function runQuiet(cmd: string, args: string[], name: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => {
      if (code === 0) log(`${name}: ok`);
      else process.stdout.write(`not ok - ${name}\n${out}\n`);
      resolve(code === 0);
    });
  });
}

/** tap's closing line: `# { total: 12, pass: 11, fail: 1, skip: 0 }` (zero fields omitted). */
function parseSummary(line: string): { pass: number; fail: number; skip: number } | undefined {
  const m = /^# \{ total: \d+(.*)\}\s*$/.exec(line.trim());
  if (!m) return undefined;
  const field = (name: string) => Number(new RegExp(`${name}: (\\d+)`).exec(m[1] ?? '')?.[1] ?? 0);
  return { pass: field('pass'), fail: field('fail'), skip: field('skip') + field('todo') };
}
