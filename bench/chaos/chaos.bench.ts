/**
 * Fault injection on the real services (`npm run chaos`; never part of `npm test`): an
 * agent tails container log files written at a steady rate with both rotation kinds,
 * while the agent is SIGKILLed at random moments, the aggregator is SIGKILLed, and
 * OpenSearch is stopped for a while and restarted on the same data. Then every written
 * line is looked for by content in what `GET /v1/k8s/logs/` returns.
 *
 *   npm run chaos -- [--seconds 360] [--rate 10000] [--files 4] [--rotate-every-s 5]
 *                    [--agent-kills N] [--aggregator-kills N] [--opensearch-outage-s 120]
 *                    [--seed 1] [--heap 1024] [--drain-stall-s 180] [--drain-max-s 3600] [--keep]
 *
 * Reports lines written, lost, duplicated (goal 0 and 0) and the write → stored delay, as
 * one JSON line on stdout and a table on stderr. Lines that copytruncate itself destroyed
 * (written between the copy and the truncate, absent from the copy) are counted apart;
 * every other missing line is loss. Exit code 1 when lost or duplicated lines are found.
 *
 * It starts its own OpenSearch (in the work dir, so it can be stopped; the shared one is
 * never touched), the aggregator and the agent as child processes, and the writer
 * (log-writer.ts) as a third. Everything is stopped at the end and on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { planChaos, type ChaosEvent } from './chaos-schedule.ts';
import { NodeService, OwnOpenSearch, waitForHttp } from './chaos-stack.ts';
import { pickFreePort } from '../../dev/free-port.ts';
import { compareLines, newTally, type Findings } from './compare-lines.ts';
import { seqsInCriText } from './line-format.ts';
import { idsOfSeq, storedDelaysMs, tallyStoredLines, type ExportQuery } from './stored-lines.ts';
import type { WriterJournal, WriterSettings } from './writer-journal.ts';
import { formatReport } from './chaos-report.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '360' },
    rate: { type: 'string', default: '10000' },
    files: { type: 'string', default: '4' },
    'rotate-every-s': { type: 'string', default: '5' },
    'agent-kills': { type: 'string' },
    'aggregator-kills': { type: 'string' },
    'opensearch-outage-s': { type: 'string', default: '120' },
    seed: { type: 'string', default: '1' },
    heap: { type: 'string', default: '1024' },
    'drain-stall-s': { type: 'string', default: '180' },
    'drain-max-s': { type: 'string', default: '3600' },
    keep: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const settings = {
  seconds: SECONDS,
  rate: Number(values.rate),
  files: Number(values.files),
  rotateEveryS: Number(values['rotate-every-s']),
  agentKills:
    values['agent-kills'] !== undefined ? Number(values['agent-kills']) : Math.max(1, Math.ceil(SECONDS / 30)),
  aggregatorKills:
    values['aggregator-kills'] !== undefined
      ? Number(values['aggregator-kills'])
      : Math.max(1, Math.ceil(SECONDS / 120)),
  opensearchOutageS: Number(values['opensearch-outage-s']),
  seed: Number(values.seed),
  heapMb: Number(values.heap),
  drainStallS: Number(values['drain-stall-s']),
  drainMaxS: Number(values['drain-max-s']),
};
for (const [k, v] of Object.entries(settings)) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k}: not a non-negative number`);
}
const CLUSTER = 'chaos';
const commandLine = `node bench/chaos/chaos.bench.ts ${process.argv.slice(2).join(' ')}`.trim();
const log = (msg: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

const work = await mkdtemp(path.join(tmpdir(), 'k8s-logs-chaos-'));
const logDir = path.join(work, 'containers');
await mkdir(logDir);
const opensearch = new OwnOpenSearch(path.join(work, 'opensearch'), settings.heapMb, (m) => {
  if (!m.startsWith('mvn: ')) log(`opensearch: ${m}`);
});
let writer: ChildProcess | null = null;
let agent: NodeService | null = null;
let aggregator: NodeService | null = null;

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    writer?.kill('SIGKILL');
    await Promise.allSettled([agent?.kill(), aggregator?.kill()]);
    await opensearch.stop().catch(() => undefined);
    if (values.keep) log(`work dir kept: ${work}`);
    else await rm(work, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping everything`);
    void cleanup().then(() => process.exit(130));
  });
}

let exitCode: number;
try {
  log(`${commandLine}\n  work dir ${work}`);
  await opensearch.start();
  const adminToken = `chaos-admin-${randomBytes(12).toString('hex')}`;
  const aggPort = await pickFreePort();
  const apiUrl = `http://127.0.0.1:${aggPort}`;
  aggregator = new NodeService({
    name: 'aggregator',
    args: [path.join('aggregator', 'server.ts')],
    env: {
      OPENSEARCH_URL: opensearch.url,
      K8S_LOGS_HOST: '127.0.0.1',
      K8S_LOGS_PORT: String(aggPort),
      K8S_LOGS_ADMIN_TOKEN: adminToken,
      K8S_LOGS_RATE_LIMIT_STANDARD: '0',
      K8S_LOGS_RATE_LIMIT_HEAVY: '0',
      K8S_LOGS_LOG_LEVEL: 'warn',
    },
    logFile: path.join(work, 'aggregator.log'),
    readyUrl: `${apiUrl}/healthz`,
  });
  await aggregator.start();
  await waitForHttp(`${apiUrl}/readyz`, 120_000, 'aggregator store');
  const ingestToken = await createToken(apiUrl, adminToken, {
    name: 'chaos agent',
    scopes: ['ingest'],
    clusters: [CLUSTER],
  });

  const metricsPort = await pickFreePort();
  agent = new NodeService({
    name: 'agent',
    args: ['--max-semi-space-size=2', path.join('agent', 'main.ts')],
    env: {
      K8S_LOGS_AGENT_LOG_PATH: logDir,
      K8S_LOGS_AGENT_DATA_DIR: path.join(work, 'agent'),
      K8S_LOGS_AGENT_AGGREGATOR_URL: apiUrl,
      K8S_LOGS_AGENT_TOKEN: ingestToken,
      K8S_LOGS_AGENT_CLUSTER: CLUSTER,
      K8S_LOGS_AGENT_NODE: 'chaos-node',
      K8S_LOGS_AGENT_METRICS_PORT: String(metricsPort),
      K8S_LOGS_AGENT_METRICS_HOST: '127.0.0.1',
      K8S_LOGS_AGENT_KUBERNETES: 'off',
      K8S_LOGS_AGENT_LOG_LEVEL: 'info',
    },
    logFile: path.join(work, 'agent.log'),
    readyUrl: `http://127.0.0.1:${metricsPort}/healthz`,
  });
  await agent.start();

  const writeMs = settings.seconds * 1000;
  const events = planChaos({
    writeMs,
    seed: settings.seed,
    agentKills: settings.agentKills,
    aggregatorKills: settings.aggregatorKills,
    opensearchOutageMs: settings.opensearchOutageS * 1000,
  });
  const writerSettings: WriterSettings = {
    dir: logDir,
    files: settings.files,
    rate: settings.rate,
    writeMs,
    rotateEveryMs: settings.rotateEveryS * 1000,
    journalPath: path.join(work, 'writer-journal.json'),
  };
  log(
    `writing ${settings.rate} lines/s to ${settings.files} files for ${settings.seconds} s; chaos: ${events.length} events (seed ${settings.seed})`,
  );
  const t0 = Date.now();
  const writerDone = runWriter(writerSettings);
  const executed = await runChaos(events, t0, agent, aggregator, opensearch);
  await writerDone;
  const journal = JSON.parse(await readFile(writerSettings.journalPath, 'utf8')) as WriterJournal;
  const achievedRate = journal.written / ((journal.endedAtMs - journal.startedAtMs) / 1000);
  log(
    `writer done: ${journal.written} lines (${Math.round(achievedRate)} lines/s), ${journal.rotations.length} rotations`,
  );

  const drainStart = Date.now();
  const caughtUp = await waitForCatchUp(
    metricsPort,
    opensearch.url,
    settings.drainStallS * 1000,
    settings.drainMaxS * 1000,
  );
  const drainS = (Date.now() - drainStart) / 1000;
  log(
    caughtUp
      ? `agent caught up in ${drainS.toFixed(1)} s`
      : `agent had NOT caught up after ${drainS.toFixed(1)} s; comparing anyway`,
  );
  const agentMetrics = await scrape(metricsPort).catch(() => new Map<string, number>());

  const query: ExportQuery = {
    apiUrl,
    token: adminToken,
    cluster: CLUSTER,
    startIso: new Date(journal.startedAtMs - 60_000).toISOString(),
    endIso: new Date(Date.now() + 60_000).toISOString(),
  };
  const storedCount = await countStored(opensearch.url);
  const tally = newTally(journal.written);
  log(`reading ${storedCount} stored records back through GET /v1/k8s/logs/ (NDJSON export)`);
  await tallyStoredLines(query, settings.files, tally);
  for (const [seq, ids] of tally.duplicateIds) {
    const all = await idsOfSeq(query, seq, settings.files);
    if (all.length > 0) tally.duplicateIds.set(seq, all);
    else tally.duplicateIds.set(seq, ids);
  }
  const copies = new Map<number, Set<number>>();
  for (const [i, r] of journal.rotations.entries()) {
    if (r.kind === 'copytruncate')
      copies.set(i, new Set(seqsInCriText(await readFile(r.copyPath, 'utf8'), settings.files)));
  }
  const findings: Findings = compareLines(journal, tally, copies);
  const delays = await storedDelaysMs(opensearch.url, `k8s-logs-${CLUSTER}-*`);
  const pct = (p: number) =>
    delays.length ? Math.round(delays[Math.min(delays.length - 1, Math.ceil((p / 100) * delays.length) - 1)]!) : null;
  const ct = journal.rotations.filter((r) => r.kind === 'copytruncate');
  const result = {
    bench: 'chaos',
    command: commandLine,
    settings,
    writer: {
      written: journal.written,
      achieved_lines_per_s: Math.round(achievedRate),
      rotations_rename: journal.rotations.length - ct.length,
      rotations_copytruncate: ct.length,
      copytruncate_window_ms_max: ct.length ? Math.round(Math.max(...ct.map((r) => r.windowMs))) : 0,
    },
    chaos: executed,
    restarts: { agent: agent.starts - 1, aggregator: aggregator.starts - 1, opensearch_stops: opensearch.stops },
    caught_up: caughtUp,
    drain_s: Math.round(drainS),
    stored_in_opensearch: storedCount,
    read_through_api: tally.records,
    lines_written: findings.written,
    lines_lost: findings.lostUnexplained,
    lines_lost_copytruncate_window: findings.lostInCopyTruncateWindow,
    copytruncate_window_lines_saved: findings.windowLinesSaved,
    lines_duplicated: findings.duplicatedLines,
    extra_copies: findings.extraCopies,
    corrupted: findings.corrupted,
    foreign: findings.foreign,
    delay_ms: { p50: pct(50), p99: pct(99), max: delays.length ? Math.round(delays[delays.length - 1]!) : null },
    agent_final_metrics: Object.fromEntries(
      [...agentMetrics].filter(([k]) => /rotations|discarded|rejected|file_errors|anomalies/.test(k)),
    ),
    agent_log_events: await agentLogEvents(path.join(work, 'agent.log')),
    lost_runs: findings.lostRuns,
    duplicate_samples: findings.duplicateSamples,
    goal_met: findings.lostUnexplained === 0 && findings.duplicatedLines === 0 && findings.corrupted === 0,
  };
  process.stderr.write(formatReport(result));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  exitCode = result.goal_met ? 0 : 1;
} catch (err) {
  log(`run failed: ${(err as Error).stack ?? String(err)}`);
  values.keep = true;
  exitCode = 2;
} finally {
  await cleanup();
}
process.exit(exitCode);

async function createToken(apiUrl: string, adminToken: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${apiUrl}/v1/k8s/logs/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

function runWriter(s: WriterSettings): Promise<void> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'log-writer.ts'), JSON.stringify(s)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  writer = child;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) {
      const m = JSON.parse(line) as { progress?: { written: number; elapsedMs: number } };
      if (m.progress && m.progress.elapsedMs % 30_000 < 5000)
        log(`writer: ${m.progress.written} lines in ${Math.round(m.progress.elapsedMs / 1000)} s`);
    }
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code, sig) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code ?? sig}`))));
  });
}

interface ExecutedEvent {
  kind: ChaosEvent['kind'];
  planned_s: number;
  at_s: number;
  back_s: number | null;
}

/**
 * Runs the schedule. Each component has its own chain, so a kill waits for that
 * component's previous restart, while kills of different components may overlap.
 */
async function runChaos(
  events: ChaosEvent[],
  t0: number,
  ag: NodeService,
  agg: NodeService,
  os: OwnOpenSearch,
): Promise<ExecutedEvent[]> {
  const chains = { agent: Promise.resolve(), aggregator: Promise.resolve(), opensearch: Promise.resolve() };
  const done: ExecutedEvent[] = [];
  const s = () => Math.round((Date.now() - t0) / 100) / 10;
  for (const ev of events) {
    const wait = t0 + ev.atMs - Date.now();
    if (wait > 0) await sleep(wait);
    const rec: ExecutedEvent = { kind: ev.kind, planned_s: ev.atMs / 1000, at_s: 0, back_s: null };
    done.push(rec);
    const which = ev.kind === 'kill-agent' ? 'agent' : ev.kind === 'kill-aggregator' ? 'aggregator' : 'opensearch';
    chains[which] = chains[which].then(async () => {
      rec.at_s = s();
      if (which === 'opensearch') {
        log(`stopping OpenSearch for ${ev.restartAfterMs / 1000} s`);
        await os.stop();
      } else {
        log(`SIGKILL ${which}`);
        await (which === 'agent' ? ag : agg).kill();
      }
      await sleep(ev.restartAfterMs);
      if (which === 'opensearch') await os.start();
      else await (which === 'agent' ? ag : agg).start();
      rec.back_s = s();
      log(`${which} back (down ${(rec.back_s - rec.at_s).toFixed(1)} s)`);
    });
  }
  await Promise.all(Object.values(chains));
  return done;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

async function countStored(opensearchUrl: string): Promise<number> {
  await fetch(`${opensearchUrl}/k8s-logs-${CLUSTER}-*/_refresh`, { method: 'POST' });
  const res = await fetch(`${opensearchUrl}/k8s-logs-${CLUSTER}-*/_count`);
  return res.ok ? ((await res.json()) as { count: number }).count : -1;
}

/**
 * Caught up: the agent reports nothing behind and nothing queued, and the stored count has
 * not moved, on three polls in a row. The drain may take long on a loaded machine, so the
 * deadline is on progress: false when the stored count has not grown for `stallMs`, or
 * after `maxMs` in all.
 */
async function waitForCatchUp(
  metricsPort: number,
  opensearchUrl: string,
  stallMs: number,
  maxMs: number,
): Promise<boolean> {
  const end = Date.now() + maxMs;
  let lastGrowth = Date.now();
  let stable = 0;
  let last = -1;
  let lastLog = 0;
  while (Date.now() < end && Date.now() - lastGrowth < stallMs) {
    const m = await scrape(metricsPort).catch(() => new Map<string, number>());
    const behind = m.get('k8s_logs_agent_bytes_behind') ?? NaN;
    const queued = m.get('k8s_logs_agent_queue_bytes') ?? NaN;
    const count = await countStored(opensearchUrl);
    if (count > last) lastGrowth = Date.now();
    stable = behind === 0 && queued === 0 && count === last ? stable + 1 : 0;
    if (stable >= 3) return true;
    if (Date.now() - lastLog > 15_000) {
      lastLog = Date.now();
      log(`draining: ${count} stored, agent ${behind} bytes behind, ${queued} queued`);
    }
    last = count;
    await sleep(2000);
  }
  return false;
}

/** How often the agents logged the file-lifecycle events that explain loss (agent.log). */
async function agentLogEvents(file: string): Promise<Record<string, number>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/"msg":"([^"]+)"/g)) {
    const msg = m[1]!;
    if (/rotat|truncat|checkpoint|gone|drain|copy|discard|refused|reject/i.test(msg))
      counts[msg] = (counts[msg] ?? 0) + 1;
  }
  return counts;
}
