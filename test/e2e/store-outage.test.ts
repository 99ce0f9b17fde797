/**
 * OpenSearch goes away in the middle of a run: the aggregator answers 503 + Retry-After,
 * the agent keeps its lines and resends, and once OpenSearch is back every line written —
 * before, during and after the outage — is stored exactly once. Uses its own OpenSearch
 * node, since it stops it.
 */
import t from 'tap';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { startOpenSearch } from '../../dev/opensearch/opensearch-process.ts';
import { buildApp } from '../../aggregator/app.ts';
import { configWith } from '../../aggregator/config.ts';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { defineConfig } from '../../agent/config.ts';
import { ndjson, record } from '../helpers/records.ts';
import { FIXTURE_MAX_AGE_MS } from '../helpers/aggregator.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { metricValue } from '../agent/helpers.ts';

const work = await mkdtemp(path.join(tmpdir(), 'k8s-logs-outage-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const osDir = path.join(work, 'opensearch');
let os = await startOpenSearch({ dataDir: osDir, heapMb: 512 });
t.teardown(() => os.stop());
const port = os.port;

const admin = 'admin-outage-' + 'x'.repeat(20);
const app = await buildApp(configWith({ opensearchUrl: os.url, adminToken: admin, indexPrefix: 'outage', ingest: { maxRecordAgeMs: FIXTURE_MAX_AGE_MS } }));
t.teardown(() => app.close());
await app.prepareStore();
await app.listen({ host: '127.0.0.1', port: 0 });
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const created = await fetch(`${url}/v1/k8s/logs/tokens`, {
  method: 'POST',
  headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'agent', scopes: ['ingest'], clusters: ['outage'] }),
});
const token = ((await created.json()) as { token: string }).token;

const logDir = path.join(work, 'containers');
await mkdir(logDir);
const file = path.join(logDir, `api-0_prod_main-${'c'.repeat(64)}.log`);
let written = 0;
async function writeLines(n: number) {
  let text = '';
  for (let i = 0; i < n; i++, written++) {
    text += `${new Date(Date.UTC(2026, 10, 25, 12, 0, 0, written)).toISOString().replace('Z', '000001Z')} stdout F line ${written}\n`;
  }
  await appendFile(file, text);
}

async function storedCount(): Promise<number> {
  await fetch(`${os.url}/outage-*/_refresh`, { method: 'POST' });
  const res = await fetch(`${os.url}/outage-outage-*/_count`);
  return res.status === 200 ? ((await res.json()) as { count: number }).count : 0;
}

const until = (what: string, cond: () => Promise<boolean>, timeoutMs: number) => waitFor(cond, { what, timeoutMs, intervalMs: 250 });
const queueBytes = (agent: RunningAgent) => metricValue(agent, 'k8s_logs_agent_queue_bytes');

t.test('nothing accepted is lost when OpenSearch stops mid-run', async (t) => {
  const agent = await startAgent(
    defineConfig({
      aggregatorUrl: url, token, cluster: 'outage', node: 'n1', dataDir: path.join(work, 'agent'), logPath: logDir,
      kubernetes: 'off', metricsPort: 0, metricsHost: '127.0.0.1', maxBatchAgeMs: 100, retryBaseMs: 100, retryMaxMs: 1000,
      heartbeatIntervalMs: 0, logLevel: 'silent',
    }),
    { processMetrics: false },
  );
  t.teardown(() => agent.stop(2000));
  await writeLines(500);
  await until('first lines stored', async () => (await storedCount()) === 500, 120_000);

  await os.stop();
  await writeLines(500);
  // The aggregator tells senders to come back later, with the error envelope.
  const direct = await fetch(`${url}/v1/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
    body: gzipSync(ndjson([record({ cluster: 'outage' })])),
  });
  t.ok(direct.status === 503 || direct.status === 429, `ingest answers ${direct.status} while the store is down`);
  t.ok(Number(direct.headers.get('retry-after')) > 0, 'with Retry-After');
  t.notMatch(await direct.text(), /opensearch|Connection|ECONNREFUSED/i, 'no store internals in the body');
  await until('the agent to retry', async () => {
    const m = /k8s_logs_agent_send_retries_total(?:\{[^}]*\})? (\d+)/.exec(await agent.registry.metrics());
    return Number(m?.[1] ?? 0) > 0;
  }, 60_000);

  os = await startOpenSearch({ dataDir: osDir, port, heapMb: 512 });
  await writeLines(500);
  // Once every line is stored and the agent holds nothing unacknowledged, no write can
  // still be on its way: the count is final.
  await until('every line stored and acknowledged', async () => (await storedCount()) >= 1500 && (await queueBytes(agent)) === 0, 180_000);
  t.equal(await storedCount(), 1500, 'each of the 1,500 lines exactly once');
});
