/**
 * The thin path end to end, on real services: CRI files on disk → agent → aggregator
 * ingest → OpenSearch → GET /v1/k8s/logs/. Nothing here is faked but the cluster.
 */
import t from 'tap';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { defineConfig } from '../../agent/config.ts';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { getJson } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait-for.ts';
import type { LogRecord } from '../../shared/record.ts';

const agg = await startTestAggregator(t, { name: 'e2e' });
const ingestToken = await agg.ingestToken('e2e');
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });

const PODS = [
  { ns: 'shop', pod: 'web-5d8f7-abcde', container: 'nginx', id: '1'.repeat(64) },
  { ns: 'shop', pod: 'web-5d8f7-abcde', container: 'envoy', id: '2'.repeat(64) },
  { ns: 'payments', pod: 'ledger-0', container: 'postgres', id: '3'.repeat(64) },
];
const LINES_PER_FILE = 400;

/** Every record of the cluster in the window, through the public API, following cursors. */
async function readAll(query: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ start: '2026-11-25T00:00:00Z', end: '2026-11-26T00:00:00Z', limit: '1000' });
    for (const [k, v] of new URLSearchParams(query)) params.set(k, v);
    if (cursor) params.set('cursor', cursor);
    const res = await getJson(`${agg.url}/v1/k8s/logs/?${params}`, reader);
    if (res.status !== 200) throw new Error(`GET failed: ${res.status} ${JSON.stringify(res.body)}`);
    out.push(...(res.body['logs'] as LogRecord[]));
    cursor = res.body['next_cursor'] as string | null;
  } while (cursor);
  return out;
}

const work = await mkdtemp(path.join(tmpdir(), 'k8s-logs-e2e-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const logDir = path.join(work, 'containers');
await mkdir(logDir);

function agentConfig(dataDir: string) {
  return defineConfig({
    aggregatorUrl: agg.url,
    token: ingestToken,
    cluster: 'e2e',
    node: 'node-a',
    dataDir,
    logPath: logDir,
    kubernetes: 'off',
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    maxBatchAgeMs: 200,
    configPollIntervalMs: 1000,
    heartbeatIntervalMs: 0,
    logLevel: 'silent',
  });
}

// Lines one second apart, so the expected newest-first order is unambiguous.
const written: Array<{ ns: string; pod: string; container: string; message: string; timestamp: string; stream: string }> = [];
for (const [fi, p] of PODS.entries()) {
  let text = '';
  for (let i = 0; i < LINES_PER_FILE; i++) {
    const ts = new Date(Date.parse('2026-11-25T10:00:00Z') + (i * PODS.length + fi) * 1000).toISOString().replace('.000Z', '.123456789Z');
    const stream = i % 5 === 0 ? 'stderr' : 'stdout';
    const message = i % 7 === 0 ? `{"level":"error","msg":"payment ${i} declined"}` : `INFO ${p.container} handled request ${i}`;
    text += `${ts} ${stream} F ${message}\n`;
    written.push({ ns: p.ns, pod: p.pod, container: p.container, message, timestamp: ts, stream });
  }
  await writeFile(path.join(logDir, `${p.pod}_${p.ns}_${p.container}-${p.id}.log`), text);
}

let agent: RunningAgent | undefined = await startAgent(agentConfig(path.join(work, 'agent-1')), { processMetrics: false });
t.teardown(async () => agent?.stop(2000));

t.test('lines written to files come back through the API, newest first, with their metadata', async (t) => {
  await waitFor(async () => {
    await agg.refresh();
    const page = await getJson(`${agg.url}/v1/k8s/logs/?start=2026-11-25T00:00:00Z&end=2026-11-26T00:00:00Z&limit=1`, reader);
    return (page.body['total'] as number) >= written.length;
  }, { what: 'all lines searchable', timeoutMs: 60_000, intervalMs: 200 });
  const all = await readAll('');
  t.equal(all.length, written.length, 'every line once');
  t.equal(new Set(all.map((r) => r.id)).size, written.length, 'ids are unique');
  const expected = [...written].sort((a, b) => (a.timestamp < b.timestamp ? 1 : -1));
  t.same(all.map((r) => r.message), expected.map((w) => w.message), 'newest first, nothing missing');
  const one = all.find((r) => r.message === 'INFO envoy handled request 3');
  t.match(one, { cluster: 'e2e', node: 'node-a', namespace: 'shop', pod: 'web-5d8f7-abcde', container: 'envoy', container_id: '2'.repeat(64), stream: 'stdout', level: 'info' });
  t.equal(all.find((r) => r.message === '{"level":"error","msg":"payment 7 declined"}')?.level, 'error');

  const ledger = await readAll('namespace=payments&pod=ledger-0&container=postgres');
  t.equal(ledger.length, LINES_PER_FILE);
  t.ok(ledger.every((r) => r.namespace === 'payments' && r.container === 'postgres'));
  const windowed = await readAll('namespace=shop&container=nginx&start=2026-11-25T10:00:00Z&end=2026-11-25T10:01:00Z');
  t.same(windowed.map((r) => r.timestamp), expected.filter((w) => w.container === 'nginx' && w.timestamp <= '2026-11-25T10:01:00.000000000Z').map((w) => w.timestamp));
});

t.test('a second agent that re-reads every file from scratch stores nothing twice', async (t) => {
  // A fresh data dir has no checkpoints, so every line is sent again: the same ids, so
  // the aggregator's create-only bulk answers "duplicate" and the store is unchanged.
  await agent?.stop(5000);
  agent = undefined;
  const before = Number(/k8s_logs_aggregator_indexed_records_total\{cluster="e2e",result="duplicate"\} (\d+)/.exec(await (await fetch(`${agg.url}/metrics`)).text())?.[1] ?? 0);
  agent = await startAgent(agentConfig(path.join(work, 'agent-2')), { processMetrics: false });
  await waitFor(async () => {
    const m = /k8s_logs_aggregator_indexed_records_total\{cluster="e2e",result="duplicate"\} (\d+)/.exec(await (await fetch(`${agg.url}/metrics`)).text());
    return Number(m?.[1] ?? 0) - before >= written.length;
  }, { what: 'the resend to be acknowledged as duplicates', timeoutMs: 60_000, intervalMs: 200 });
  await agg.refresh();
  const all = await readAll('');
  t.equal(all.length, written.length, 'still every line exactly once');
});
