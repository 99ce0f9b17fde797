import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { podMetaOf } from '../../../agent/enrich/pod-watch.ts';
import { recordLabels } from '../../../agent/enrich/pod-metadata.ts';
import { append, cri, metricValue, runAgent, startSink, tempDir, until } from '../helpers.ts';
import { testKube, type TestKube } from '../../helpers/kube.ts';
import { agentServiceAccount } from '../../helpers/chart-rbac.ts';
import { startTcpGate, type TcpGate } from '../../helpers/tcp-gate.ts';
import { compactEtcd } from '../../helpers/etcd.ts';

const CID = 'c'.repeat(64);

t.test('podMetaOf resolves ReplicaSet → Deployment by the pod-template-hash rule', async (t) => {
  const m = podMetaOf({
    metadata: {
      uid: 'u1',
      labels: { app: 'web', 'pod-template-hash': '7d9c6b8f5' },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9c6b8f5', uid: 'rs', controller: true },
      ],
    },
  });
  t.match(m, { uid: 'u1', ownerKind: 'Deployment', ownerName: 'web' });
  const bare = podMetaOf({
    metadata: {
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'solo', uid: 'x', controller: true }],
    },
  });
  t.match(bare, { ownerKind: 'ReplicaSet', ownerName: 'solo' });
  t.same(recordLabels({ ...m, annotations: { team: 'a', other: 'b' } }, ['team']), {
    app: 'web',
    'pod-template-hash': '7d9c6b8f5',
    team: 'a',
    owner_kind: 'Deployment',
    owner_name: 'web',
  });
});

/**
 * The real API server (an own one: the test restarts it), the chart's agent ServiceAccount
 * token, and a TCP gate in between for network outages; returns the agent's kubeconfig.
 */
async function cluster(t: {
  teardown(fn: () => unknown): void;
  comment(msg: string): void;
}): Promise<{ kube: TestKube; gate: TcpGate; kubeconfig: string } | undefined> {
  const kube = await testKube(t, { private: true });
  if (!kube) return undefined;
  const home = await kube.namespace('k8s-logs');
  const agent = await agentServiceAccount(t, kube.driver.api, home);
  const gate = await startTcpGate({ host: '127.0.0.1', port: Number(new URL(kube.access.url).port) });
  t.teardown(() => gate.close());
  const kubeconfig = await kube.kubeconfigFile({ ...agent.access, url: `https://127.0.0.1:${gate.port}` });
  return { kube, gate, kubeconfig };
}

t.test('enrichment from one node-scoped pod watch, annotations, 410s, outages, deletion grace', async (t) => {
  const c = await cluster(t);
  if (!c?.kube.apiServer || !c.kube.etcdUrl) return;
  const { kube, gate } = c;
  const { driver } = kube;
  const apiServer = c.kube.apiServer;
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);

  const shop = await kube.namespace('shop');
  const web = await driver.addPod({
    namespace: shop,
    nodeName: kube.node,
    owner: { kind: 'Deployment', name: 'web' },
    labels: { app: 'web', tier: 'front' },
    annotations: { team: 'payments' },
  });
  await driver.addNode(`${kube.node}-other`);
  await driver.addPod({ namespace: shop, name: 'elsewhere', nodeName: `${kube.node}-other` });
  const webFile = join(logs, `${web.metadata.name}_${shop}_nginx-${CID}.log`);
  await writeFile(webFile, cri('hello from web'));
  const agent = await runAgent({
    dir,
    sink,
    config: { node: kube.node, kubernetes: c.kubeconfig, includeAnnotations: ['team'] },
  });
  t.teardown(() => agent.stop());

  await sink.waitFor(() => sink.records.some((r) => r.message === 'hello from web'), 15_000, 'web record');
  t.match(
    sink.records.find((r) => r.message === 'hello from web'),
    {
      namespace: shop,
      pod: web.metadata.name,
      pod_uid: web.metadata.uid,
      labels: { app: 'web', tier: 'front', team: 'payments', owner_kind: 'Deployment', owner_name: 'web' },
    },
  );
  t.equal(await metricValue(agent, 'k8s_logs_agent_pod_cache_pods'), 1, 'only pods of this node are cached');

  // A file whose pod is not known: identity from the path, never waits.
  const unknownFile = join(logs, `ghost-0_${shop}_app-${CID}.log`);
  await writeFile(unknownFile, cri('ghost line'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'ghost line'), 5000, 'ghost record');
  t.notOk(sink.records.find((r) => r.message === 'ghost line')?.labels, 'no labels for an unknown pod');

  // Exclusion annotation on the pod takes effect within seconds.
  await driver.patchPod(shop, web.metadata.name, { metadata: { annotations: { 'k8s-logs.io/exclude': 'true' } } });
  const excludedBefore = await metricValue(agent, 'k8s_logs_agent_discarded_records_total', {
    reason: 'excluded_by_annotation',
  });
  const t0 = Date.now();
  await until(
    async () => {
      await append(webFile, cri('probe'));
      return (
        (await metricValue(agent, 'k8s_logs_agent_discarded_records_total', { reason: 'excluded_by_annotation' })) >
        excludedBefore
      );
    },
    10_000,
    'pod annotation applied',
  );
  t.ok(Date.now() - t0 < 10_000);

  // Watch expiry (410): the agent is cut off, the history it would resume from is compacted
  // and the API server restarted (its watch cache rebuilt); a pod added meanwhile is still seen.
  await gate.refuse();
  const api = await driver.addPod({ namespace: shop, nodeName: kube.node, owner: { kind: 'StatefulSet', name: 'db' } });
  await compactEtcd(c.kube.etcdUrl);
  await apiServer.stop();
  await apiServer.start();
  await gate.open();
  const apiFile = join(logs, `${api.metadata.name}_${shop}_pg-${CID}.log`);
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_pod_cache_pods')) === 2,
    30_000,
    'pod seen after 410',
  );
  t.ok(
    (await metricValue(agent, 'k8s_logs_agent_kube_watch_restarts_total', { reason: 'relist' })) >= 1,
    'relisted after 410',
  );
  await writeFile(apiFile, cri('db up'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'db up'), 5000, 'db record');
  t.match(sink.records.find((r) => r.message === 'db up')?.labels, { owner_kind: 'StatefulSet', owner_name: 'db' });

  // API outage (network): lines keep flowing; metadata catches up afterwards.
  const resumesBefore = await metricValue(agent, 'k8s_logs_agent_kube_watch_restarts_total', { reason: 'resume' });
  await gate.refuse();
  await append(apiFile, cri('during outage'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'during outage'), 5000, 'line during API outage');
  const ops = await kube.namespace('ops');
  const late = await driver.addPod({
    namespace: ops,
    nodeName: kube.node,
    owner: { kind: 'DaemonSet', name: 'agent' },
  });
  await gate.open();
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_pod_cache_pods')) === 3,
    30_000,
    'pod added during the outage',
  );
  t.ok(
    (await metricValue(agent, 'k8s_logs_agent_kube_watch_restarts_total', { reason: 'resume' })) > resumesBefore,
    'watch resumed after the outage',
  );

  // Namespace annotation excludes the whole namespace.
  await driver.ensureNamespace(ops, { annotations: { 'k8s-logs.io/exclude': 'true' } });
  const opsFile = join(logs, `${late.metadata.name}_${ops}_agent-${CID}.log`);
  const nsBefore = await metricValue(agent, 'k8s_logs_agent_discarded_records_total', {
    reason: 'excluded_by_annotation',
  });
  const nsExcluded = () =>
    metricValue(agent, 'k8s_logs_agent_discarded_records_total', { reason: 'excluded_by_annotation' });
  // Probes written before the agent has seen the namespace may be shipped; once one is
  // discarded, every later line of the namespace must be.
  let opsLines = 0;
  await until(
    async () => {
      await append(opsFile, cri('ops probe'));
      opsLines++;
      return (await nsExcluded()) > nsBefore;
    },
    10_000,
    'namespace annotation applied',
  );
  await append(opsFile, cri('ops line'));
  opsLines++;
  // Every line of the file decided: shipped or discarded.
  await until(
    async () =>
      new Set(sink.records.filter((r) => r.namespace === ops).map((r) => r.id)).size +
        (await nsExcluded()) -
        nsBefore ===
      opsLines,
    10_000,
    'every ops line shipped or discarded',
  );
  t.notOk(sink.records.some((r) => r.message === 'ops line'));

  // Deletion: metadata kept for the grace period, so late lines are still labelled.
  await driver.deletePod(shop, api.metadata.name, { graceful: true });
  await until(async () => (await metricValue(agent, 'k8s_logs_agent_pod_cache_pods')) === 2, 15_000, 'deletion seen');
  await append(apiFile, cri('last words'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'last words'), 5000, 'late line');
  t.match(
    sink.records.find((r) => r.message === 'last words'),
    { pod_uid: api.metadata.uid, labels: { owner_name: 'db' } },
  );
});

t.test('the pod watch comes back after the API server was stopped for a while', async (t) => {
  const c = await cluster(t);
  if (!c?.kube.apiServer) return;
  const { kube } = c;
  const apiServer = c.kube.apiServer;
  const dir = await tempDir(t);
  await mkdir(join(dir, 'logs'));
  const sink = await startSink(t);
  const a = await kube.namespace('a');
  await kube.driver.addPod({ namespace: a, name: 'one', nodeName: kube.node });
  const agent = await runAgent({ dir, sink, config: { node: kube.node, kubernetes: c.kubeconfig } });
  t.teardown(() => agent.stop());
  await until(async () => (await metricValue(agent, 'k8s_logs_agent_pod_cache_pods')) === 1, 15_000, 'first pod');
  await apiServer.stop();
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_kube_watch_restarts_total', { reason: 'error' })) >= 1,
    15_000,
    'errors while the API server is down',
  );
  await apiServer.start();
  await kube.driver.addPod({ namespace: a, name: 'two', nodeName: kube.node });
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_pod_cache_pods')) === 2,
    30_000,
    'pod added after the restart',
  );
  t.pass('the watch caught up after the restart');
});
