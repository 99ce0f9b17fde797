/**
 * The collection configuration API drives the agents, end to end through the real
 * aggregator: after each kind of change — create, update, delete, bulk update, disable a
 * namespace, disable the cluster — the agent applies the merged config within 10 s and what
 * it ships changes accordingly (proven by what is stored and by the agent's discard counts).
 */
import t, { type Test } from 'tap';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { defineConfig } from '../../agent/config.ts';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { getJson } from '../helpers/records.ts';
import { waitFor, waitForValue } from '../helpers/wait-for.ts';
import { metricValue } from '../agent/helpers.ts';
import type { LogRecord } from '../../shared/record.ts';

const agg = await startTestAggregator(t, { name: 'cfg' });
const token = await agg.ingestToken('cfg');
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
const writer = await agg.createToken({ name: 'writer', scopes: ['logs:write'] });
const work = await mkdtemp(path.join(tmpdir(), 'k8s-logs-cfg-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const logDir = path.join(work, 'containers');
await mkdir(logDir);
const files = {
  shop: path.join(logDir, `web-0_shop_app-${'a'.repeat(64)}.log`),
  payments: path.join(logDir, `api-0_payments_app-${'b'.repeat(64)}.log`),
};
type Ns = keyof typeof files;
let n = 0;
/** Appends one JSON line; returns its `msg`. */
async function write(ns: Ns, level: string, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> {
  const ts = new Date().toISOString().replace('Z', '000000Z');
  const msg = `${ns} ${level} ${stream} ${n++}`;
  await appendFile(files[ns], `${ts} ${stream} F {"level":"${level}","msg":"${msg}"}\n`);
  return msg;
}
async function stored(ns: Ns): Promise<LogRecord[]> {
  await agg.refresh();
  const res = await getJson(`${agg.url}/v1/k8s/logs/?namespace=${ns}&start=now-1h&limit=1000`, reader);
  // A loaded run once got a non-200 here and only said "cannot read 'find'": say what it was.
  if (res.status !== 200) throw new Error(`GET / for ${ns}: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
  return res.body['logs'] as LogRecord[];
}
const isStored = async (ns: Ns, msg: string) => (await stored(ns)).find((r) => r.message.includes(`"msg":"${msg}"`));
async function api(method: string, p: string, body?: unknown) {
  const res = await fetch(`${agg.url}/v1/k8s/logs${p}`, {
    method,
    headers: {
      authorization: `Bearer ${writer}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
}

const agent = await startAgent(
  defineConfig({
    aggregatorUrl: agg.url,
    token,
    cluster: 'cfg',
    node: 'n1',
    dataDir: path.join(work, 'agent'),
    logPath: logDir,
    kubernetes: 'off',
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    maxBatchAgeMs: 200,
    heartbeatIntervalMs: 0,
    configPollIntervalMs: 2000,
    logLevel: 'silent',
  }),
  { processMetrics: false },
);
t.teardown(() => agent.stop(2000));
const discarded = (a: RunningAgent, reason: string) =>
  metricValue(a, 'k8s_logs_agent_discarded_records_total', { reason });
const configChanges = () => metricValue(agent, 'k8s_logs_agent_config_polls_total', { outcome: 'changed' });

/** Makes a change through the API and waits for the agent to apply a new config (goal: 10 s). */
async function change(t: Test, what: string, fn: () => Promise<void>) {
  const before = await configChanges();
  await fn();
  const at = Date.now();
  // The agent applies a config before it counts the change; lines read after that obey it.
  await waitForValue(
    () => configChanges(),
    (v) => v > before,
    { what: `the agent to apply: ${what}`, timeoutMs: 20_000 },
  );
  t.ok(Date.now() - at <= 10_000, `${what}: applied after ${Date.now() - at} ms (poll every 2 s, goal 10 s)`);
}

/** Waits until `reason` was counted `by` more times than `from`, and checks it is exactly that. */
async function discardedBy(t: Test, reason: string, from: number, by: number, what: string) {
  await waitForValue(
    () => discarded(agent, reason),
    (v) => v >= from + by,
    { what, timeoutMs: 15_000 },
  );
  t.equal(await discarded(agent, reason), from + by, what);
}

const first = { shop: await write('shop', 'info'), payments: await write('payments', 'info') };
await waitFor(
  async () =>
    (await isStored('shop', first.shop)) !== undefined && (await isStored('payments', first.payments)) !== undefined,
  {
    what: 'both namespaces collected under the defaults',
    timeoutMs: 30_000,
    intervalMs: 300,
  },
);

t.test('create: a disabled namespace configuration stops that namespace only', async (t) => {
  await change(t, 'create', () => api('POST', '/config', { cluster: 'cfg', namespace: 'payments', enabled: false }));
  const ex = await discarded(agent, 'excluded_by_config');
  await write('payments', 'error');
  const shop = await write('shop', 'info');
  await waitFor(() => isStored('shop', shop), { what: 'shop still collected', timeoutMs: 15_000, intervalMs: 200 });
  await discardedBy(t, 'excluded_by_config', ex, 1, 'the payments line was excluded');
});

t.test('update: PUT re-enables the namespace with a minimum level', async (t) => {
  await change(t, 'update', () => api('PUT', '/config?id=cfg:payments', { enabled: true, min_level: 'error' }));
  const below = await discarded(agent, 'below_min_level');
  await write('payments', 'info');
  const err = await write('payments', 'error');
  await waitFor(() => isStored('payments', err), {
    what: 'the payments error line',
    timeoutMs: 15_000,
    intervalMs: 200,
  });
  await discardedBy(t, 'below_min_level', below, 1, 'the payments info line was below the new minimum');
});

t.test('delete: the namespace falls back to the cluster-wide configuration', async (t) => {
  await change(t, 'delete', () => api('DELETE', '/config?id=cfg:payments'));
  const info = await write('payments', 'info');
  await waitFor(() => isStored('payments', info), {
    what: 'payments info collected again',
    timeoutMs: 15_000,
    intervalMs: 200,
  });
  t.pass('info lines are collected again');
});

t.test('bulk update: stream selection and JSON fields on the cluster-wide configuration', async (t) => {
  // A cluster-wide configuration of defaults only: the effective config (and its ETag) stays the same.
  await api('POST', '/config', { cluster: 'cfg' });
  await change(t, 'bulk update', () =>
    api('POST', '/config/bulk-update', {
      items: [{ id: 'cfg', set: { streams: ['stderr'], parse_json_fields: true } }],
    }),
  );
  const ex = await discarded(agent, 'excluded_by_config');
  await write('shop', 'info', 'stdout');
  const kept = await write('shop', 'warn', 'stderr');
  const rec = await waitFor(() => isStored('shop', kept), {
    what: 'the stderr line',
    timeoutMs: 15_000,
    intervalMs: 200,
  });
  t.same(rec?.fields, { level: 'warn', msg: kept }, 'JSON keys are in fields');
  await discardedBy(t, 'excluded_by_config', ex, 1, 'the stdout line was not collected');
});

t.test('disable a namespace, then the whole cluster', async (t) => {
  await change(t, 'disable namespace', () => api('POST', '/config/disable', { cluster: 'cfg', namespace: 'shop' }));
  let ex = await discarded(agent, 'excluded_by_config');
  await write('shop', 'error', 'stderr');
  const pay = await write('payments', 'error', 'stderr');
  await waitFor(() => isStored('payments', pay), {
    what: 'payments still collected',
    timeoutMs: 15_000,
    intervalMs: 200,
  });
  await discardedBy(t, 'excluded_by_config', ex, 1, 'the shop line was excluded');

  await change(t, 'disable cluster', () => api('POST', '/config/disable/cluster', { cluster: 'cfg' }));
  ex = await discarded(agent, 'excluded_by_config');
  await write('payments', 'error', 'stderr');
  await write('shop', 'error', 'stderr');
  await discardedBy(t, 'excluded_by_config', ex, 2, 'nothing of the cluster is collected');
  t.notOk(
    (await stored('payments')).some((r) => r.message.includes(`"msg":"payments error stderr ${n - 2}"`)),
    'the payments line was not stored',
  );
});
