/**
 * A collection configuration's `label_selector`, end to end: the real aggregator serves the
 * configuration, the agent reads pod labels from the real API server (with the chart's agent
 * ServiceAccount) and ships only the pods the selector matches — counting the rest as
 * `excluded_by_config` — and follows a pod relabelled to match.
 */
import t from 'tap';
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { startAgent } from '../../agent/agent.ts';
import { defineConfig } from '../../agent/config.ts';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { getJson } from '../helpers/records.ts';
import { waitFor, waitForValue } from '../helpers/wait-for.ts';
import { metricValue, tempDir } from '../agent/helpers.ts';
import { testKube } from '../helpers/kube.ts';
import { agentServiceAccount } from '../helpers/chart-rbac.ts';
import type { LogRecord } from '../../shared/record.ts';

t.test('label_selector: only matching pods are shipped, the rest counted; a relabelled pod is picked up', async (t) => {
  const kube = await testKube(t);
  if (!kube) return;
  const cluster = 'lsel';
  const agg = await startTestAggregator(t, { name: 'lsel' });
  const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
  const writer = await agg.createToken({ name: 'writer', scopes: ['logs:write'] });
  const ns = await kube.namespace('lsel');
  const home = await kube.namespace('k8s-logs');
  const sa = await agentServiceAccount(t, kube.driver.api, home);
  const web = await kube.driver.addPod({
    namespace: ns,
    name: 'web-0',
    nodeName: kube.node,
    labels: { app: 'web', tier: 'front' },
  });
  const batch = await kube.driver.addPod({
    namespace: ns,
    name: 'batch-0',
    nodeName: kube.node,
    labels: { app: 'batch' },
  });

  const dir = await tempDir(t);
  const logDir = path.join(dir, 'logs');
  await mkdir(logDir);
  const fileOf = (pod: string, c: string) => path.join(logDir, `${pod}_${ns}_main-${c.repeat(64)}.log`);
  const files = {
    [web.metadata.name]: fileOf(web.metadata.name, 'a'),
    [batch.metadata.name]: fileOf(batch.metadata.name, 'b'),
  };
  let n = 0;
  const write = async (pod: string) => {
    const msg = `${pod} line ${n++}`;
    await appendFile(files[pod]!, `${new Date().toISOString()} stdout F ${msg}\n`);
    return msg;
  };
  const storedMessages = async () => {
    await agg.refresh();
    const res = await getJson(`${agg.url}/v1/k8s/logs/?namespace=${ns}&start=now-1h&limit=1000`, reader);
    if (res.status !== 200) throw new Error(`GET /: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    return new Set((res.body['logs'] as LogRecord[]).map((r) => r.message));
  };
  const stored = async (msg: string) => (await storedMessages()).has(msg);

  const agent = await startAgent(
    defineConfig({
      aggregatorUrl: agg.url,
      token: await agg.ingestToken(cluster),
      cluster,
      node: kube.node,
      dataDir: path.join(dir, 'data'),
      logPath: logDir,
      kubernetes: await kube.kubeconfigFile(sa.access),
      metricsPort: 0,
      metricsHost: '127.0.0.1',
      maxBatchAgeMs: 200,
      heartbeatIntervalMs: 0,
      configPollIntervalMs: 500,
      logLevel: 'silent',
    }),
    { processMetrics: false },
  );
  t.teardown(() => agent.stop(2000));
  const excluded = () => metricValue(agent, 'k8s_logs_agent_discarded_records_total', { reason: 'excluded_by_config' });
  const changes = () => metricValue(agent, 'k8s_logs_agent_config_polls_total', { outcome: 'changed' });

  // Defaults: both pods are collected, with their labels from the API server.
  const w0 = await write('web-0');
  const b0 = await write('batch-0');
  await waitFor(async () => (await stored(w0)) && (await stored(b0)), {
    what: 'both pods under the defaults',
    timeoutMs: 30_000,
    intervalMs: 300,
  });

  const before = await changes();
  const res = await fetch(`${agg.url}/v1/k8s/logs/config`, {
    method: 'POST',
    headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ cluster, namespace: ns, label_selector: 'app in (web,api),tier!=batch' }),
  });
  t.equal(res.status, 201, await res.text());
  await waitForValue(changes, (v) => v > before, { what: 'the agent to apply the selector', timeoutMs: 20_000 });

  const ex = await excluded();
  const b1 = await write('batch-0');
  const w1 = await write('web-0');
  await waitFor(() => stored(w1), { what: 'the matching pod still shipped', timeoutMs: 15_000, intervalMs: 200 });
  await waitForValue(excluded, (v) => v >= ex + 1, { what: 'the batch line counted as excluded', timeoutMs: 15_000 });
  t.equal(await excluded(), ex + 1, 'exactly the one batch line excluded');
  t.notOk(await stored(b1), 'the non-matching pod is not shipped');

  // Relabelled to match: lines written once the agent knows the new labels are shipped.
  await kube.driver.patchPod(ns, 'batch-0', { metadata: { labels: { app: 'api' } } });
  // A line written before the agent's pod watch delivers the change is still excluded; keep
  // writing until one is shipped.
  const afterPatch: string[] = [];
  const shipped = await waitFor(
    async () => {
      const all = await storedMessages();
      const found = afterPatch.find((m) => all.has(m));
      if (found === undefined) afterPatch.push(await write('batch-0'));
      return found;
    },
    { what: 'the relabelled pod to be shipped', timeoutMs: 30_000, intervalMs: 300 },
  );
  const all = await storedMessages();
  t.ok(all.has(shipped), `the relabelled pod ships (${shipped})`);
  const later = afterPatch.slice(afterPatch.indexOf(shipped));
  await waitFor(
    async () => {
      const now = await storedMessages();
      return later.every((m) => now.has(m));
    },
    {
      what: 'every line written after the first shipped one',
      timeoutMs: 15_000,
      intervalMs: 300,
    },
  );
  t.pass(`the ${later.length} line(s) from the first shipped one on are all stored`);
  t.notOk(all.has(b1), 'what was excluded stays excluded (never sent late)');
});
