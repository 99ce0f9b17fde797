/**
 * Runs `schemathesis run` against a live aggregator and summarises its NDJSON event report:
 * every request it sent with the response status, the 5xx answers (with the request that
 * caused them) and the failed checks. Used by `npm run fuzz` (bench/fuzz/api-fuzz.ts) and
 * the bounded run in `npm test` (test/aggregator/api-fuzz.test.ts).
 *
 * The report, not the console text, is the source: each `ScenarioFinished` event carries
 * the scenario's `interactions` (request + response of every case) and `checks`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SchemathesisOptions {
  /** schemathesis executable (schemathesis-venv.ts). */
  binary: string;
  /** URL of the OpenAPI document, e.g. http://127.0.0.1:8080/docs/json */
  schemaUrl: string;
  /** Sent with every request, e.g. `Authorization: Bearer …`. */
  headers?: readonly string[];
  /** Test cases per operation (`--max-examples`). */
  maxExamples: number;
  /** `--seed`; ignored by schemathesis when `deterministic`. */
  seed?: number;
  /** `--generation-deterministic`: the same cases every run. */
  deterministic?: boolean;
  /** Checks to run (`--checks`). Default `not_a_server_error`. */
  checks?: readonly string[];
  /** `--phases`, e.g. examples,coverage,fuzzing,stateful. Default: schemathesis's. */
  phases?: readonly string[];
  /** `--include-path-regex`. */
  includePathRegex?: string;
  /** `--exclude-path-regex`. */
  excludePathRegex?: string;
  /** `--include-name` (operation names such as `DELETE /v1/k8s/logs/tokens`). */
  includeNames?: readonly string[];
  /** `--exclude-name`. */
  excludeNames?: readonly string[];
  /** `--workers`. Default 1 (deterministic order). */
  workers?: number;
  /** `--request-timeout`, seconds. Default 30. */
  requestTimeoutS?: number;
  /** Kill schemathesis after this long, ms. Default 600000. */
  timeoutMs?: number;
}

export interface Interaction {
  operation: string;
  phase: string;
  method: string;
  uri: string;
  status: number | null;
  requestBody?: string;
  responseBody?: string;
}

export interface CheckFailure {
  operation: string;
  check: string;
  code: string;
  title: string;
  message: string;
}

export interface SchemathesisSummary {
  exitCode: number | null;
  /** Requests sent (interactions recorded), by phase of the run. */
  requests: number;
  byStatus: Record<string, number>;
  serverErrors: Interaction[];
  failures: CheckFailure[];
  operations: string[];
  /** The tail of schemathesis's console output (its own summary). */
  outputTail: string;
}

export async function runSchemathesis(o: SchemathesisOptions): Promise<SchemathesisSummary> {
  const reportDir = await mkdtemp(join(tmpdir(), 'k8s-logs-schemathesis-'));
  try {
    const args = [
      'run',
      o.schemaUrl,
      '--checks',
      (o.checks ?? ['not_a_server_error']).join(','),
      '--max-examples',
      String(o.maxExamples),
      '--workers',
      String(o.workers ?? 1),
      '--request-timeout',
      String(o.requestTimeoutS ?? 30),
      '--report',
      'ndjson',
      '--report-dir',
      reportDir,
      '--no-color',
      '--output-truncate',
      'true',
      '--continue-on-failure',
    ];
    for (const h of o.headers ?? []) args.push('--header', h);
    // No example database in ~/.hypothesis: a run must not depend on earlier runs.
    if (o.deterministic) args.push('--generation-deterministic');
    else args.push('--generation-database', 'none', ...(o.seed !== undefined ? ['--seed', String(o.seed)] : []));
    if (o.phases) args.push('--phases', o.phases.join(','));
    if (o.includePathRegex) args.push('--include-path-regex', o.includePathRegex);
    if (o.excludePathRegex) args.push('--exclude-path-regex', o.excludePathRegex);
    for (const n of o.includeNames ?? []) args.push('--include-name', n);
    for (const n of o.excludeNames ?? []) args.push('--exclude-name', n);
    // Its working directory is the temp dir too: schemathesis keeps a crash cache in `./.schemathesis`.
    const { code, output } = await run(o.binary, args, reportDir, o.timeoutMs ?? 600_000);
    const report = (await readdir(reportDir)).find((f) => f.endsWith('.ndjson'));
    if (report === undefined) throw new Error(`schemathesis wrote no report (exit ${code}):\n${output.slice(-4000)}`);
    return {
      ...summarise(await readFile(join(reportDir, report), 'utf8')),
      exitCode: code,
      outputTail: output.slice(-4000),
    };
  } finally {
    await rm(reportDir, { recursive: true, force: true });
  }
}

interface RecordedInteraction {
  request: { method: string; uri: string; body?: { string?: string; $base64?: string } };
  response: { status_code: number; content?: { string?: string; $base64?: string } } | null;
}
interface RecordedCheck {
  name: string;
  status: string;
  failure_info?: { failure: { code?: string; title?: string; message?: string } };
}
interface ScenarioFinished {
  phase: string;
  recorder: {
    label: string;
    interactions?: Record<string, RecordedInteraction>;
    checks?: Record<string, RecordedCheck[]>;
  };
}

/** Pure: the summary of an NDJSON event report. */
export function summarise(ndjson: string): Omit<SchemathesisSummary, 'exitCode' | 'outputTail'> {
  let requests = 0;
  const byStatus: Record<string, number> = {};
  const serverErrors: Interaction[] = [];
  const failures: CheckFailure[] = [];
  const operations = new Set<string>();
  const seenFailures = new Set<string>();
  for (const line of ndjson.split('\n')) {
    if (!line.startsWith('{"ScenarioFinished"')) continue;
    const ev = (JSON.parse(line) as { ScenarioFinished: ScenarioFinished }).ScenarioFinished;
    const operation = ev.recorder.label;
    // Labels are `METHOD /path`, or a phase-wide name such as "Stateful tests".
    if (/^[A-Z]+ \//.test(operation)) operations.add(operation);
    for (const i of Object.values(ev.recorder.interactions ?? {})) {
      requests++;
      const status = i.response?.status_code ?? null;
      byStatus[String(status)] = (byStatus[String(status)] ?? 0) + 1;
      if (status !== null && status >= 500) {
        serverErrors.push({
          operation,
          phase: ev.phase,
          method: i.request.method,
          uri: i.request.uri,
          status,
          requestBody: text(i.request.body),
          responseBody: text(i.response?.content),
        });
      }
    }
    for (const list of Object.values(ev.recorder.checks ?? {})) {
      for (const c of list) {
        if (c.status !== 'failure') continue;
        const f = c.failure_info?.failure ?? {};
        const key = `${operation}|${c.name}|${f.code}|${f.message}`;
        if (seenFailures.has(key)) continue;
        seenFailures.add(key);
        failures.push({ operation, check: c.name, code: f.code ?? '', title: f.title ?? '', message: f.message ?? '' });
      }
    }
  }
  return { requests, byStatus, serverErrors, failures, operations: [...operations].sort() };
}

function text(body: { string?: string; $base64?: string } | undefined): string | undefined {
  if (body === undefined) return undefined;
  const s =
    body.string ?? (body.$base64 !== undefined ? Buffer.from(body.$base64, 'base64').toString('utf8') : undefined);
  return s === undefined ? undefined : s.length > 2000 ? `${s.slice(0, 2000)}…` : s;
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    const keep = (c: Buffer) => {
      output += c.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
