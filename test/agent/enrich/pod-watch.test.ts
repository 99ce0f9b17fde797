import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeKubeApi } from '../../../dev/fake-cluster/fake-kube-api.ts';
import { podMetaOf } from '../../../agent/enrich/pod-watch.ts';
import { recordLabels } from '../../../agent/enrich/pod-metadata.ts';
import { append, cri, metricValue, runAgent, startSink, tempDir, until } from '../helpers.ts';

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

t.test('enrichment from one node-scoped pod watch, annotations, 410s, outages, deletion grace', async (t) => {
  const kube = await startFakeKubeApi({ defaultNodeName: 'test-node', bookmarkIntervalMs: 500 });
  t.teardown(() => kube.close());
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kube.kubeConfig().exportConfig());
  const sink = await startSink(t);

  const web = kube.addPod({
    namespace: 'shop',
    owner: { kind: 'Deployment', name: 'web' },
    labels: { app: 'web', tier: 'front' },
    annotations: { team: 'payments' },
  });
  kube.addPod({ namespace: 'shop', name: 'elsewhere', nodeName: 'other-node' });
  const webFile = join(logs, `${web.metadata.name}_shop_nginx-${CID}.log`);
  await writeFile(webFile, cri('hello from web'));
  const agent = await runAgent({ dir, sink, config: { kubernetes: kubeconfig, includeAnnotations: ['team'] } });
  t.teardown(() => agent.stop());

  await sink.waitFor(() => sink.records.some((r) => r.message === 'hello from web'), 10_000, 'web record');
  t.match(
    sink.records.find((r) => r.message === 'hello from web'),
    {
      namespace: 'shop',
      pod: web.metadata.name,
      pod_uid: web.metadata.uid,
      labels: { app: 'web', tier: 'front', team: 'payments', owner_kind: 'Deployment', owner_name: 'web' },
    },
  );
  t.equal(await metricValue(agent, 'k8s_logs_agent_pod_cache_pods'), 1, 'only pods of this node are cached');

  // A file whose pod is not known: identity from the path, never waits.
  const unknownFile = join(logs, `ghost-0_shop_app-${CID}.log`);
  await writeFile(unknownFile, cri('ghost line'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'ghost line'), 5000, 'ghost record');
  t.notOk(sink.records.find((r) => r.message === 'ghost line')?.labels, 'no labels for an unknown pod');

  // Exclusion annotation on the pod takes effect within seconds.
  kube.updatePod('shop', web.metadata.name, (p) => {
    p.metadata.annotations = { ...p.metadata.annotations, 'k8s-logs.io/exclude': 'true' };
  });
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

  // Watch expiry (410) → relist; a pod added afterwards is still seen.
  kube.expireWatches();
  const api = kube.addPod({ namespace: 'shop', owner: { kind: 'StatefulSet', name: 'db' } });
  const apiFile = join(logs, `${api.metadata.name}_shop_pg-${CID}.log`);
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_pod_cache_pods')) === 2,
    10_000,
    'pod seen after 410',
  );
  t.ok(
    (await metricValue(agent, 'k8s_logs_agent_kube_watch_restarts_total', { reason: 'relist' })) >= 1,
    'relisted after 410',
  );
  await writeFile(apiFile, cri('db up'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'db up'), 5000, 'db record');
  t.match(sink.records.find((r) => r.message === 'db up')?.labels, { owner_kind: 'StatefulSet', owner_name: 'db' });

  // API outage: lines keep flowing; metadata catches up afterwards.
  await kube.setOffline(true);
  await append(apiFile, cri('during outage'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'during outage'), 5000, 'line during API outage');
  const late = kube.addPod({ namespace: 'ops', owner: { kind: 'DaemonSet', name: 'agent' } });
  await kube.setOffline(false);
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_pod_cache_pods')) === 3,
    15_000,
    'pod added during the outage',
  );
  t.ok(
    (await metricValue(agent, 'k8s_logs_agent_kube_watch_restarts_total', { reason: 'resume' })) >= 1,
    'watch resumed after the outage',
  );

  // Namespace annotation excludes the whole namespace.
  kube.addNamespace('ops', { annotations: { 'k8s-logs.io/exclude': 'true' } });
  const opsFile = join(logs, `${late.metadata.name}_ops_agent-${CID}.log`);
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
      new Set(sink.records.filter((r) => r.namespace === 'ops').map((r) => r.id)).size +
        (await nsExcluded()) -
        nsBefore ===
      opsLines,
    10_000,
    'every ops line shipped or discarded',
  );
  t.notOk(sink.records.some((r) => r.message === 'ops line'));

  // Deletion: metadata kept for the grace period, so late lines are still labelled.
  kube.deletePod('shop', api.metadata.name);
  await until(async () => (await metricValue(agent, 'k8s_logs_agent_pod_cache_pods')) === 2, 5000, 'deletion seen');
  await append(apiFile, cri('last words'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'last words'), 5000, 'late line');
  t.match(
    sink.records.find((r) => r.message === 'last words'),
    { pod_uid: api.metadata.uid, labels: { owner_name: 'db' } },
  );
});

t.test('the pod watch comes back after the API refused connections for a while', async (t) => {
  const kube = await startFakeKubeApi({ defaultNodeName: 'test-node', bookmarkIntervalMs: 500 });
  t.teardown(() => kube.close());
  const dir = await tempDir(t);
  await mkdir(join(dir, 'logs'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kube.kubeConfig().exportConfig());
  const sink = await startSink(t);
  kube.addPod({ namespace: 'a', name: 'one' });
  const agent = await runAgent({ dir, sink, config: { kubernetes: kubeconfig } });
  t.teardown(() => agent.stop());
  await until(async () => (await metricValue(agent, 'k8s_logs_agent_pod_cache_pods')) === 1, 5000, 'first pod');
  await kube.setOffline(true, 'refuse');
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_kube_watch_restarts_total', { reason: 'error' })) >= 1,
    10_000,
    'errors while refused',
  );
  kube.addPod({ namespace: 'a', name: 'two' });
  await kube.setOffline(false);
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_pod_cache_pods')) === 2,
    20_000,
    'pod added during the outage',
  );
});
