/**
 * The store refuses new writes at request level, and no line is lost: the real agent's
 * sender against the real aggregator on a real OpenSearch.
 *
 * 1. `cluster.max_shards_per_node` is reached, so the new day index cannot be created (what
 *    happens at 00:00 UTC when every cluster's day index is created at once). The
 *    aggregator must answer 503 + Retry-After, never 400 (which makes the agent bisect the
 *    batch and discard every line); once the limit is lifted every line arrives, once.
 * 2. With `action.auto_create_index` off, the day index is deleted behind the aggregator's
 *    back (another replica's retention, an operator): the aggregator creates it again with
 *    its alias, and every new line arrives.
 *
 * Both are cluster-wide settings, so this file runs its own OpenSearch node (small heap)
 * rather than the shared one other tests are using.
 */
import t from 'tap';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOpenSearch } from '../../dev/opensearch/opensearch-process.ts';
import { buildApp } from '../../aggregator/app.ts';
import { configWith } from '../../aggregator/config.ts';
import { startAgent } from '../../agent/agent.ts';
import { defineConfig } from '../../agent/config.ts';
import { waitFor } from '../helpers/wait-for.ts';

const work = await mkdtemp(path.join(tmpdir(), 'k8s-logs-refusal-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const os = await startOpenSearch({ dataDir: path.join(work, 'opensearch'), heapMb: 512 });
t.teardown(() => os.stop());

const admin = 'admin-refusal-' + 'x'.repeat(20);
// The real acceptance window (default config): the lines carry current timestamps.
const app = await buildApp(configWith({ opensearchUrl: os.url, adminToken: admin, indexPrefix: 'refusal' }));
t.teardown(() => app.close());
await app.prepareStore();
await app.listen({ host: '127.0.0.1', port: 0 });
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const created = await fetch(`${url}/v1/k8s/logs/tokens`, {
  method: 'POST',
  headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'agent', scopes: ['ingest'], clusters: ['refusal'] }),
});
const token = ((await created.json()) as { token: string }).token;

const logDir = path.join(work, 'containers');
await mkdir(logDir);
const file = path.join(logDir, `api-0_prod_main-${'c'.repeat(64)}.log`);
// Minute-aligned and a little in the past: every line (i ms later) falls in one day index.
const baseMs = Math.floor((Date.now() - 120_000) / 60_000) * 60_000;
const day = new Date(baseMs).toISOString().slice(0, 10).replaceAll('-', '.');
const dayIndex = `refusal-refusal-${day}`;
let written = 0;
async function writeLines(n: number) {
  let text = '';
  for (let i = 0; i < n; i++, written++) {
    text += `${new Date(baseMs + written).toISOString().replace('Z', '000001Z')} stdout F line ${written}\n`;
  }
  await appendFile(file, text);
}

async function openSearch(pathAndQuery: string, method = 'GET', body?: object) {
  const res = await fetch(`${os.url}/${pathAndQuery}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (res.status >= 300 && res.status !== 404) throw new Error(`${method} ${pathAndQuery}: ${res.status} ${text}`);
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
const clusterSetting = (settings: Record<string, unknown>) =>
  openSearch('_cluster/settings', 'PUT', { transient: settings });
t.teardown(() =>
  clusterSetting({ 'cluster.max_shards_per_node': null, 'action.auto_create_index': null }).catch(() => {}),
);

/** Stored lines; 0 while the index is missing or its shard is still starting. */
async function storedCount(): Promise<number> {
  await fetch(`${os.url}/refusal-*/_refresh`, { method: 'POST' });
  const res = await fetch(`${os.url}/refusal-refusal-*/_count`);
  return res.status === 200 ? ((await res.json()) as { count: number }).count : 0;
}

/** Sum of a Prometheus metric's samples whose labels include `match`. */
function metricSum(text: string, name: string, match = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (match && !line.includes(match)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
const aggregatorMetrics = async () => (await fetch(`${url}/metrics`)).text();

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number) {
  await waitFor(cond, { what, timeoutMs, intervalMs: 200 });
}

const agent = await startAgent(
  defineConfig({
    aggregatorUrl: url,
    token,
    cluster: 'refusal',
    node: 'n1',
    dataDir: path.join(work, 'agent'),
    logPath: logDir,
    kubernetes: 'off',
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    maxBatchAgeMs: 100,
    maxBatchRecords: 50,
    retryBaseMs: 100,
    retryMaxMs: 1000,
    heartbeatIntervalMs: 0,
    logLevel: 'silent',
  }),
  { processMetrics: false },
);
t.teardown(() => agent.stop(2000));
const agentMetrics = () => agent.registry.metrics();

t.test(
  'a refused day index creation (shard limit) is retried, never discarded, and every line arrives once it is lifted',
  async (t) => {
    // One shard per node: the cluster already holds more, so no new index can be created.
    await clusterSetting({ 'cluster.max_shards_per_node': 1 });
    await writeLines(300);
    // Either outcome ends the wait: the agent retrying (right) or discarding (wrong).
    await until(
      'the agent to retry or discard the refused batches',
      async () => {
        const m = await agentMetrics();
        return (
          metricSum(m, 'k8s_logs_agent_send_retries_total') >= 2 ||
          metricSum(m, 'k8s_logs_agent_discarded_records_total') > 0
        );
      },
      60_000,
    );
    const agg = await aggregatorMetrics();
    t.ok(
      metricSum(agg, 'k8s_logs_aggregator_ingest_store_refusals_total', 'cause="index_create_refused"') >= 1,
      'counted as a store refusal',
    );
    t.equal(
      metricSum(agg, 'k8s_logs_aggregator_http_request_duration_seconds_count', 'status="400"'),
      0,
      "never a 400 for the store's refusal",
    );
    t.ok(
      metricSum(agg, 'k8s_logs_aggregator_http_request_duration_seconds_count', 'status="503"') >= 2,
      'answered 503',
    );
    let m = await agentMetrics();
    t.equal(metricSum(m, 'k8s_logs_agent_discarded_records_total'), 0, 'no line discarded while refused');
    t.equal(metricSum(m, 'k8s_logs_agent_rejected_records_total'), 0, 'no line rejected while refused');
    t.equal((await openSearch(dayIndex)).status, 404, 'the day index could not be created');

    await clusterSetting({ 'cluster.max_shards_per_node': null });
    await until('every line stored', async () => (await storedCount()) >= 300, 90_000);
    t.equal(await storedCount(), 300, 'each of the 300 lines exactly once');
    m = await agentMetrics();
    t.equal(metricSum(m, 'k8s_logs_agent_discarded_records_total'), 0, 'still nothing discarded');
    const alias = await openSearch(`${dayIndex}/_alias`);
    t.ok(JSON.stringify(alias.body).includes('"refusal-refusal"'), 'the day index joined its cluster alias');
  },
);

t.test('with auto-create off, a day index deleted behind the aggregator is created again with its alias', async (t) => {
  await clusterSetting({ 'action.auto_create_index': false });
  // Another replica's retention or an operator deletes it; this replica still believes it exists.
  await openSearch(dayIndex, 'DELETE');
  await writeLines(200);
  await until('the new lines stored', async () => (await storedCount()) >= 200, 90_000);
  t.equal(await storedCount(), 200, 'each of the 200 new lines exactly once');
  const alias = await openSearch(`${dayIndex}/_alias`);
  t.ok(
    JSON.stringify(alias.body).includes('"refusal-refusal"'),
    'the recreated index is in its alias, so retention and queries find it',
  );
  const m = await agentMetrics();
  t.equal(metricSum(m, 'k8s_logs_agent_discarded_records_total'), 0, 'nothing discarded');
  t.equal(metricSum(m, 'k8s_logs_agent_rejected_records_total'), 0, 'nothing rejected');
});
