import t from 'tap';
import { fetch } from 'undici';
import { buildApp } from '../../aggregator/app.ts';
import { loadConfig } from '../../aggregator/config.ts';
import { testKube } from '../helpers/kube.ts';
import { apiReaderServiceAccount } from '../helpers/chart-rbac.ts';
import { startTcpGate } from '../helpers/tcp-gate.ts';
import type { LogRecord } from '../../shared/record.ts';
import { openSearchUrl, uniquePrefix } from '../helpers/services.ts';

import { waitForValue } from '../helpers/wait-for.ts';
import { getJson, ingest, ndjson, record } from '../helpers/records.ts';
import { compactEtcd } from '../helpers/etcd.ts';

// A real aggregator whose live view of cluster "alpha" is a real kube-apiserver (one of this
// test's own: an empty cluster whose namespaces the test knows), reached through a
// kubeconfig file, as K8S_LOGS_KUBECONFIG configures it in production, with the token of the
// chart's `apiReader` ServiceAccount (helm-rendered RBAC: get/list/watch pods and
// namespaces, get pods/log), and through a TCP gate that the last test closes.
const opensearchUrl = await openSearchUrl(t);
const kube = await testKube(t, { private: true });
if (!kube?.apiServer || !kube.etcdUrl) {
  t.pass('skipped: needs an API server of its own (KUBECONFIG points at an external cluster)');
} else {
  const { driver } = kube;
  const apiServer = kube.apiServer;
  const etcdUrl = kube.etcdUrl;
  // The API server creates these at start; created here too so the listing below is certain.
  for (const ns of ['default', 'kube-node-lease', 'kube-public', 'kube-system', 'k8s-logs'])
    await driver.ensureNamespace(ns);
  const liveView = (await apiReaderServiceAccount(t, driver.api, 'k8s-logs')).access.token;
  const gate = await startTcpGate({ host: '127.0.0.1', port: apiServer.port });
  t.teardown(() => gate.close());
  const kubeconfigPath = await kube.kubeconfigFile({
    url: `https://127.0.0.1:${gate.port}`,
    caPem: kube.access.caPem,
    token: liveView,
  });
  /** LISTs of pods across all namespaces (the live view's informer) since the API server started, from its own metrics. */
  async function podLists(): Promise<number> {
    const text = (await driver.api.raw('GET', '/metrics')).text;
    let n = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      if (line.includes('verb="LIST"') && line.includes('resource="pods"') && line.includes('scope="cluster"'))
        n += Number(line.split(' ').at(-1));
    }
    return n;
  }

  function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
    return waitForValue(get, ok, { what, timeoutMs: ms, intervalMs: 50 });
  }

  const prefix = uniquePrefix('discovery');
  const adminToken = 'discovery-test-admin-token';
  const app = await buildApp({
    ...loadConfig([], {
      OPENSEARCH_URL: opensearchUrl,
      K8S_LOGS_INDEX_PREFIX: prefix,
      K8S_LOGS_ADMIN_TOKEN: adminToken,
      K8S_LOGS_LOG_LEVEL: 'silent',
      K8S_LOGS_RATE_LIMIT_STANDARD: '0',
      K8S_LOGS_RATE_LIMIT_HEAVY: '0',
      K8S_LOGS_KUBECONFIG: kubeconfigPath,
      K8S_LOGS_KUBE_CLUSTER: 'alpha',
      K8S_LOGS_KUBE_TIMEOUT_MS: '2000',
    }),
    port: 0,
    host: '127.0.0.1',
  });
  t.teardown(async () => {
    await app.close();
    await fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
  });
  await app.prepareStore();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const api = `${url}/v1/k8s/logs`;

  async function token(body: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${api}/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`token: ${res.status}`);
    return ((await res.json()) as { token: string }).token;
  }
  const reader = await token({ name: 'reader', scopes: ['logs:read'] });
  const shopOnly = await token({ name: 'shop', scopes: ['logs:read'], namespaces: ['shop'] });
  const betaOnly = await token({ name: 'beta', scopes: ['logs:read'], clusters: ['beta'] });

  // Live cluster alpha: shop/api-1 (main + sidecar), payments/pay-1, and the namespaces of a
  // new cluster (default, kube-*) plus the live view's own, all without logs.
  for (const node of ['node-a', 'node-b']) await driver.addNode(node);
  for (const ns of ['shop', 'payments']) await driver.ensureNamespace(ns);
  const api1 = await driver.addPod({
    namespace: 'shop',
    name: 'api-1',
    containers: ['main', 'sidecar'],
    nodeName: 'node-a',
  });
  await driver.addPod({
    namespace: 'payments',
    name: 'pay-1',
    containers: ['main'],
    phase: 'Pending',
    nodeName: 'node-b',
  });
  const emptyNamespaces = ['default', 'k8s-logs', 'kube-node-lease', 'kube-public', 'kube-system'];

  // Logs. Times are within the last day (the default window) except one line 3 days old.
  const nowMs = Date.now();
  const at = (agoMs: number, i: number) =>
    new Date(nowMs - agoMs).toISOString().replace('Z', `${String(i % 1000).padStart(3, '0')}789Z`);
  const seed: LogRecord[] = [];
  const add = (cluster: string, namespace: string, pod: string, container: string, n: number, agoMs: number) => {
    for (let i = 0; i < n; i++)
      seed.push(record({ cluster, namespace, pod, container, timestamp: at(agoMs - i * 60_000, i) }));
  };
  add('alpha', 'shop', 'api-1', 'main', 3, 3_600_000);
  add('alpha', 'shop', 'api-1', 'sidecar', 2, 7_200_000);
  add('alpha', 'shop', 'worker-1', 'main', 1, 600_000); // a pod that no longer exists
  add('alpha', 'payments', 'pay-1', 'main', 4, 1_800_000);
  add('alpha', 'shop', 'api-1', 'main', 1, 3 * 86_400_000); // outside the default 24 h window
  add('beta', 'platform', 'ingress-1', 'nginx', 2, 900_000);
  for (const cluster of ['alpha', 'beta']) {
    const res = await ingest(
      url,
      await token({ name: `agent ${cluster}`, scopes: ['ingest'], clusters: [cluster] }),
      ndjson(seed.filter((r) => r.cluster === cluster)),
    );
    if (res.status !== 200) throw new Error(`seed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await fetch(`${opensearchUrl}/${prefix}-*/_refresh`, { method: 'POST' });

  /** Millisecond-precision ISO time of the oldest/newest seeded record matching `pred` in the last 24 h. */
  function seen(pred: (r: LogRecord) => boolean, from = nowMs - 86_400_000) {
    const ts = seed
      .filter((r) => pred(r) && Date.parse(r.timestamp) >= from)
      .map((r) => r.timestamp)
      .sort();
    const ms = (s: string | undefined) => (s ? new Date(Date.parse(s)).toISOString() : null);
    return { log_count: ts.length, first_seen: ms(ts[0]), last_seen: ms(ts[ts.length - 1]) };
  }
  const none = { log_count: 0, first_seen: null, last_seen: null };

  t.test('namespaces: index counts merged with the live cluster', async (t) => {
    const got = await getJson(`${api}/namespaces`, reader);
    t.equal(got.status, 200);
    t.same(got.body['namespaces'], [
      ...emptyNamespaces.map((name) => ({ cluster: 'alpha', name, live: true, ...none })),
      { cluster: 'alpha', name: 'payments', live: true, ...seen((r) => r.namespace === 'payments') },
      { cluster: 'alpha', name: 'shop', live: true, ...seen((r) => r.namespace === 'shop') },
      { cluster: 'beta', name: 'platform', live: false, ...seen((r) => r.cluster === 'beta') },
    ]);
    t.equal(got.body['namespaces'][6].log_count, 6, 'the 3-day-old line is outside the default window');
    t.same(got.body['live_clusters'], [{ cluster: 'alpha', connected: true }]);
    t.equal(got.body['has_more'], false);
    t.equal(got.body['next_cursor'], null);
    const wider = await getJson(`${api}/namespaces?cluster=alpha&start=now-4d`, reader);
    t.same(
      wider.body['namespaces'].map((n: { name: string; log_count: number }) => [n.name, n.log_count]),
      [...emptyNamespaces.map((n) => [n, 0]), ['payments', 4], ['shop', 7]],
    );
  });

  t.test('pods: live pods carry phase and node; gone pods are live=false', async (t) => {
    const got = await getJson(`${api}/pods?namespace=shop`, reader);
    t.equal(got.status, 200);
    t.same(got.body['pods'], [
      {
        cluster: 'alpha',
        namespace: 'shop',
        name: 'api-1',
        live: true,
        phase: 'Running',
        node: 'node-a',
        ...seen((r) => r.pod === 'api-1'),
      },
      { cluster: 'alpha', namespace: 'shop', name: 'worker-1', live: false, ...seen((r) => r.pod === 'worker-1') },
    ]);
    const all = await getJson(`${api}/pods`, reader);
    t.same(
      all.body['pods'].map((p: { namespace: string; name: string; live: boolean; phase?: string }) => [
        p.namespace,
        p.name,
        p.live,
        p.phase ?? null,
      ]),
      [
        ['payments', 'pay-1', true, 'Pending'],
        ['shop', 'api-1', true, 'Running'],
        ['shop', 'worker-1', false, null],
        ['platform', 'ingress-1', false, null],
      ],
    );
  });

  t.test('containers of one pod', async (t) => {
    const got = await getJson(`${api}/containers?namespace=shop&pod=api-1`, reader);
    t.equal(got.status, 200);
    t.same(got.body['containers'], [
      {
        cluster: 'alpha',
        namespace: 'shop',
        pod: 'api-1',
        name: 'main',
        live: true,
        ...seen((r) => r.pod === 'api-1' && r.container === 'main'),
      },
      {
        cluster: 'alpha',
        namespace: 'shop',
        pod: 'api-1',
        name: 'sidecar',
        live: true,
        ...seen((r) => r.pod === 'api-1' && r.container === 'sidecar'),
      },
    ]);
  });

  t.test('many requests read one cached list; live changes arrive by watch', async (t) => {
    const before = await podLists();
    const answers = await Promise.all(Array.from({ length: 12 }, () => getJson(`${api}/pods?namespace=shop`, reader)));
    t.ok(
      answers.every((a) => a.status === 200 && a.body['live_clusters'][0].connected === true),
      '12 concurrent requests answered live',
    );
    t.equal(await podLists(), 1, 'exactly one LIST of pods since the start, however many requests');
    t.equal(await podLists(), before, 'none for these requests');
    await driver.addPod({ namespace: 'shop', name: 'api-2', containers: ['main'], nodeName: 'node-b' });
    await driver.deletePod('shop', api1.metadata.name);
    const names = (got: { body: Record<string, any> }) =>
      got.body['pods'].map((p: { name: string; live: boolean; log_count: number }) => [p.name, p.live, p.log_count]);
    const want = JSON.stringify([
      ['api-1', false, 5],
      ['api-2', true, 0],
      ['worker-1', false, 1],
    ]);
    const got = await until(
      'the watch to deliver the new and the deleted pod',
      () => getJson(`${api}/pods?namespace=shop`, reader),
      (g) => JSON.stringify(names(g)) === want,
    );
    t.same(names(got), JSON.parse(want));
    t.equal(await podLists(), 1, 'the changes came by watch, not by another LIST');
    await driver.deletePod('shop', 'api-2');
    await driver.addPod({ namespace: 'shop', name: 'api-1', containers: ['main', 'sidecar'], nodeName: 'node-a' });
    await until(
      'the restored pod',
      () => getJson(`${api}/pods?namespace=shop`, reader),
      (g) =>
        JSON.stringify(names(g)) ===
        JSON.stringify([
          ['api-1', true, 5],
          ['worker-1', false, 1],
        ]),
    );
  });

  t.test('an expired watch (410 Gone) relists and keeps answering live', async (t) => {
    // The history the watch would resume from is compacted away and the API server restarted
    // (its watch cache rebuilt): the watch gets 410 Gone. The restart also resets the
    // server's request counters, so any LIST of pods counted afterwards is a relist.
    await compactEtcd(etcdUrl);
    await apiServer.stop();
    await apiServer.start();
    await driver.addPod({ namespace: 'payments', name: 'pay-2', containers: ['main'], nodeName: 'node-b' });
    const got = await until(
      'the relisted cache to show pay-2',
      () => getJson(`${api}/pods?namespace=payments`, reader),
      (g) => g.body['pods'].some((p: { name: string }) => p.name === 'pay-2'),
    );
    t.equal(got.body['live_clusters'][0].connected, true);
    t.ok((await podLists()) >= 1, 'relisted after 410');
    await driver.deletePod('payments', 'pay-2');
    await until(
      'pay-2 gone',
      () => getJson(`${api}/pods?namespace=payments`, reader),
      (g) => !g.body['pods'].some((p: { name: string; live: boolean }) => p.name === 'pay-2' && p.live),
    );
  });

  t.test('restricted tokens see only their namespaces and clusters, from both sources', async (t) => {
    const ns = await getJson(`${api}/namespaces`, shopOnly);
    t.same(
      ns.body['namespaces'].map((n: { cluster: string; name: string }) => `${n.cluster}/${n.name}`),
      ['alpha/shop'],
    );
    const pods = await getJson(`${api}/pods`, shopOnly);
    t.same(
      pods.body['pods'].map((p: { name: string }) => p.name),
      ['api-1', 'worker-1'],
    );
    const containers = await getJson(`${api}/containers`, shopOnly);
    t.ok(
      containers.body['containers'].length > 0 &&
        containers.body['containers'].every((c: { namespace: string }) => c.namespace === 'shop'),
    );
    for (const q of [
      'pods?namespace=payments',
      'containers?namespace=payments&pod=pay-1',
      'namespaces?cluster=gamma&x=1',
    ]) {
      const denied = await getJson(`${api}/${q}`, shopOnly);
      t.ok(denied.status === 403 || denied.status === 400, q);
    }
    t.equal((await getJson(`${api}/pods?namespace=payments`, shopOnly)).status, 403);
    const beta = await getJson(`${api}/namespaces`, betaOnly);
    t.same(
      beta.body['namespaces'].map((n: { cluster: string; name: string }) => `${n.cluster}/${n.name}`),
      ['beta/platform'],
    );
    t.same(beta.body['live_clusters'], [], 'a cluster outside the token scope is not even listed live');
    t.equal((await getJson(`${api}/namespaces?cluster=alpha`, betaOnly)).status, 403);
    t.equal((await getJson(`${api}/namespaces`, undefined)).status, 401);
  });

  t.test('paging with limit and cursor visits every item once, in order', async (t) => {
    const full = (await getJson(`${api}/containers`, reader)).body['containers'] as Array<Record<string, unknown>>;
    t.equal(full.length, 5); // api-1: main, sidecar; worker-1; pay-1; ingress-1
    for (const limit of [1, 2, 4]) {
      const pages: Array<Record<string, unknown>> = [];
      let cursor: string | null = null;
      let n = 0;
      do {
        const got = await getJson(`${api}/containers?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, reader);
        t.equal(got.status, 200);
        pages.push(...got.body['containers']);
        cursor = got.body['next_cursor'];
        t.equal(got.body['has_more'], cursor !== null);
        n++;
      } while (cursor && n < 20);
      t.same(pages, full, `limit ${limit}`);
    }
    const first = await getJson(`${api}/containers?limit=2`, reader);
    const foreign = await getJson(`${api}/containers?namespace=shop&cursor=${first.body['next_cursor']}`, reader);
    t.equal(foreign.status, 400, 'a cursor only continues its own query');
  });

  t.test('an unreachable cluster API degrades to the index view', async (t) => {
    await gate.refuse();
    t.teardown(() => gate.open());
    // The cache notices when its watch drops; until then it may still answer live.
    const got = await until(
      'the view to report alpha unreachable',
      () => getJson(`${api}/namespaces?cluster=alpha`, reader),
      (g) => g.body['live_clusters']?.[0]?.connected === false,
    );
    t.equal(got.status, 200);
    t.same(got.body['live_clusters'], [{ cluster: 'alpha', connected: false }]);
    t.same(
      got.body['namespaces'].map((n: { name: string; live: boolean }) => [n.name, n.live]),
      [
        ['payments', false],
        ['shop', false],
      ],
    );
  });

  t.test('bad input gives a 400 envelope', async (t) => {
    for (const q of [
      'namespaces?limit=0',
      'namespaces?limit=1001',
      'namespaces?cursor=garbage',
      'namespaces?unknown=1',
      'pods?start=2026-03-10T00:00:00Z&end=2026-03-09T00:00:00Z',
      'containers?start=yesterday',
      'pods?cursor=' + Buffer.from('["d1",["a","b","c","d"],"1","2","x"]').toString('base64url'),
    ]) {
      const got = await getJson(`${api}/${q}`, reader);
      t.equal(got.status, 400, q);
      t.equal(got.body['error']?.code, q.includes('cursor=') ? 'invalid_cursor' : 'invalid_request', q);
    }
  });
}
