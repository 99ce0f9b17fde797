/**
 * `npm test`: starts the real services once (embedded OpenSearch, the S3 server, a
 * Kubernetes control plane: etcd + kube-apiserver) unless OPENSEARCH_URL / S3_ENDPOINT /
 * KUBECONFIG point elsewhere, runs every test file with tap against them (two at a time,
 * the RUN_ALONE files alone after the rest), always stops them (also on failure or Ctrl-C),
 * and ends with one line `N passed, N failed` counted from tap's own summary.
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
import { ensureHelm } from '../chart/tests/helm-binary.ts';

/**
 * Files that run on their own, after the others: the API fuzz (schemathesis and the
 * aggregator keep both cores busy for minutes, against a deadline) and the store outage
 * (it starts, stops and restarts an OpenSearch node of its own). Sharing the machine with
 * another file under load is what starved them before.
 */
const RUN_ALONE = ['test/aggregator/api-fuzz.test.ts', 'test/e2e/store-outage.test.ts'];

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
    // helm (built from the Go module proxy the first time, ~1–4 min) before any file needs
    // it: files running at once would each build it, inside their own test timeout.
    ensureHelm((m) => log(`helm: ${m}`)),
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
  const files = await expandTestArgs(process.argv.length > 2 ? process.argv.slice(2) : ['test']);
  const checks = await staticChecks;
  exitCode = await runTap(files, env, checks);
} catch (err) {
  log(`could not run the tests: ${(err as Error).stack ?? String(err)}`);
  process.stdout.write('0 passed, 1 failed\n');
} finally {
  await stopServices();
}
process.exit(exitCode);


interface TapSummary {
  pass: number;
  fail: number;
  skip: number;
}

/**
 * Runs the files in two tap runs (the others `testJobs()` at a time, then RUN_ALONE one by
 * one), passing their output through, and prints the closing count line over both.
 */
async function runTap(
  files: string[],
  childEnv: Record<string, string | undefined>,
  checks: { pass: number; fail: number },
): Promise<number> {
  const failures = failureRecap();
  const alone = files.filter((f) => RUN_ALONE.includes(path.normalize(f)));
  const together = files.filter((f) => !alone.includes(f));
  const runs: Array<{ files: string[]; jobs: number }> = [
    { files: together, jobs: testJobs() },
    { files: alone, jobs: 1 },
  ].filter((r) => r.files.length > 0);
  const total = { pass: checks.pass, fail: checks.fail, skip: 0 };
  for (const run of runs) {
    const { summary, code } = await runTapOnce(run.files, run.jobs, childEnv, failures);
    if (!summary) {
      total.fail += 1;
      continue;
    }
    total.pass += summary.pass;
    total.skip += summary.skip;
    // A non-zero exit with every assertion passing (a crashed file) still counts as a failure.
    total.fail += summary.fail + (code !== 0 && summary.fail === 0 ? 1 : 0);
  }
  // A long run's log is often read from its tail only: repeat each failure there.
  const recap = failures.render();
  if (recap) process.stdout.write(recap);
  process.stdout.write(`${total.pass} passed, ${total.fail} failed${total.skip ? `, ${total.skip} skipped` : ''}\n`);
  return total.fail > 0 ? 1 : 0;
}

/** One tap run over `files`; its output passes through, its failures go to the recap. */
function runTapOnce(
  files: string[],
  jobs: number,
  childEnv: Record<string, string | undefined>,
  failures: ReturnType<typeof failureRecap>,
): Promise<{ summary: TapSummary | undefined; code: number }> {
  return new Promise((resolve) => {
    const tapBin = path.join(import.meta.dirname, '..', 'node_modules', '.bin', 'tap');
    const child = spawn(tapBin, [`--jobs=${jobs}`, ...files], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let summary: TapSummary | undefined;
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
      resolve({ summary, code: code ?? 1 });
    });
  });
}

/**
 * How many test files run at once (RUN_ALONE aside): two, one per core. Most files spend
 * their time waiting on the services (refreshes, watches, timers), so two at once take
 * ~60% of the serial time; every file has its own index prefix, namespaces and node.
 * K8S_LOGS_TEST_JOBS overrides.
 */
function testJobs(): number {
  const asked = Number(process.env['K8S_LOGS_TEST_JOBS']);
  return Number.isInteger(asked) && asked > 0 ? asked : 2;
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
