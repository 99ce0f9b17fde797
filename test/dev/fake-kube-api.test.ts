// The fake Kubernetes API server, exercised through the real
// @kubernetes/client-node: if these pass, code written against the client
// library sees the fake as it would see a real cluster.

import t from 'tap';
import { PassThrough } from 'node:stream';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  ListWatch,
  Log,
  Watch,
  makeInformer,
  type LogOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { startFakeKubeApi, type FakeKubeApi } from '../../dev/fake-cluster/fake-kube-api.ts';
import { matchesLabels, parseFieldSelector, parseLabelSelector } from '../../dev/fake-cluster/selectors.ts';
import { containerLogFileName, populateDemoCluster } from '../../dev/fake-cluster/demo-cluster.ts';
import { waitFor } from '../helpers/wait-for.ts';

const RFC3339_NANO_PREFIX = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z /;

async function started(
  t: { teardown(fn: () => unknown): void },
  opts: Parameters<typeof startFakeKubeApi>[0] = {},
): Promise<FakeKubeApi> {
  const api = await startFakeKubeApi(opts);
  t.teardown(() => api.close());
  return api;
}

async function rejection(p: Promise<unknown>): Promise<ApiException<unknown>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException) return err;
    throw err;
  }
  throw new Error('expected the request to fail');
}

function statusCodeThrownBy(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { status?: { code?: number } }).status?.code;
  }
  return undefined;
}

/** Reads a whole (non-follow) log through the client's Log helper. */
async function logText(api: FakeKubeApi, ns: string, pod: string, container: string, opts: LogOptions): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const ended = new Promise((resolve) => out.on('end', resolve));
  await new Log(api.kubeConfig()).log(ns, pod, container, out, opts);
  await ended;
  return text;
}

function parseBody(body: unknown): Record<string, unknown> {
  return (typeof body === 'string' ? JSON.parse(body) : body) as Record<string, unknown>;
}

t.test('selectors follow the Kubernetes grammar', async (t) => {
  const labels = { app: 'web', tier: 'frontend', 'app.kubernetes.io/name': 'shop' };
  const cases: [string, boolean][] = [
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app!=api', true],
    ['missing!=x', true],
    ['app in (web,api)', true],
    ['app in (api)', false],
    ['tier notin (backend, db)', true],
    ['tier notin (frontend)', false],
    ['app.kubernetes.io/name', true],
    ['!app.kubernetes.io/name', false],
    ['!missing', true],
    ['app=web,tier in (frontend),!missing', true],
    ['app=web,tier=backend', false],
  ];
  for (const [selector, expected] of cases) {
    t.equal(matchesLabels(parseLabelSelector(selector), labels), expected, selector);
  }
  t.equal(statusCodeThrownBy(() => parseLabelSelector('app in (a b')), 400);
  t.same(parseFieldSelector('spec.nodeName=n1,metadata.name!=x', new Set(['spec.nodeName', 'metadata.name'])), [
    { field: 'spec.nodeName', op: '=', value: 'n1' },
    { field: 'metadata.name', op: '!=', value: 'x' },
  ]);
  t.equal(statusCodeThrownBy(() => parseFieldSelector('spec.bogus=1', new Set(['spec.nodeName']))), 400);
});

t.test('lists pods by node field selector and label selector', async (t) => {
  const api = await started(t);
  api.addPod({ namespace: 'shop', nodeName: 'node-a', owner: { kind: 'Deployment', name: 'web' }, labels: { app: 'web', tier: 'frontend' } });
  api.addPod({ namespace: 'shop', nodeName: 'node-b', owner: { kind: 'Deployment', name: 'web' }, labels: { app: 'web', tier: 'frontend' } });
  api.addPod({ namespace: 'shop', nodeName: 'node-a', owner: { kind: 'StatefulSet', name: 'db' }, labels: { app: 'db', tier: 'data' } });
  api.addPod({ namespace: 'payments', nodeName: 'node-a', owner: { kind: 'Job', name: 'settle' } });
  const core = api.kubeConfig().makeApiClient(CoreV1Api);

  const onA = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-a' });
  t.equal(onA.items.length, 3);
  t.ok(onA.items.every((p) => p.spec?.nodeName === 'node-a'));
  t.match(onA.metadata?.resourceVersion, /^\d+$/);

  const frontendOnA = await core.listPodForAllNamespaces({
    fieldSelector: 'spec.nodeName=node-a,metadata.namespace=shop',
    labelSelector: 'tier in (frontend),app.kubernetes.io/name notin (x),!missing',
  });
  t.equal(frontendOnA.items.length, 1);
  const web = frontendOnA.items[0] as V1Pod;
  t.match(web.metadata?.name, /^web-[a-z0-9]{10}-[a-z0-9]{5}$/);
  t.equal(web.metadata?.labels?.['pod-template-hash']?.length, 10);
  t.match(web.metadata?.ownerReferences?.[0], { kind: 'ReplicaSet', apiVersion: 'apps/v1', controller: true });
  t.match(web.status?.containerStatuses?.[0]?.containerID, /^containerd:\/\/[0-9a-f]{64}$/);
  t.equal(web.status?.phase, 'Running');

  const notShop = await core.listPodForAllNamespaces({ fieldSelector: 'metadata.namespace!=shop' });
  t.same(notShop.items.map((p) => p.metadata?.namespace), ['payments']);
  t.match(notShop.items[0]?.metadata?.labels, { 'job-name': 'settle' });

  const inShop = await core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app=db' });
  t.same(inShop.items.map((p) => p.metadata?.name), ['db-0']);

  const bad = await rejection(core.listPodForAllNamespaces({ fieldSelector: 'spec.nope=1' }));
  t.equal(bad.code, 400);
  t.match(parseBody(bad.body), { kind: 'Status', reason: 'BadRequest', message: 'field label not supported: spec.nope' });
});

t.test('resolves Deployment ← ReplicaSet owners and serves namespaces and nodes', async (t) => {
  const api = await started(t);
  api.addNamespace('shop', { labels: { team: 'storefront' } });
  const pod = api.addPod({ namespace: 'shop', owner: { kind: 'Deployment', name: 'web' } });
  const kc = api.kubeConfig();
  const rsName = pod.metadata.ownerReferences?.[0]?.name as string;
  const rs = await kc.makeApiClient(AppsV1Api).readNamespacedReplicaSet({ namespace: 'shop', name: rsName });
  t.match(rs.metadata?.ownerReferences?.[0], { kind: 'Deployment', name: 'web', apiVersion: 'apps/v1' });
  t.equal(rs.metadata?.uid, pod.metadata.ownerReferences?.[0]?.uid);

  const core = kc.makeApiClient(CoreV1Api);
  const ns = await core.readNamespace({ name: 'shop' });
  t.match(ns.metadata?.labels, { team: 'storefront', 'kubernetes.io/metadata.name': 'shop' });
  const namespaces = await core.listNamespace();
  t.same(namespaces.items.map((n) => n.metadata?.name), ['shop']);
  const nodes = await core.listNode();
  t.same(nodes.items.map((n) => n.metadata?.name), ['node-1']);
  const missing = await rejection(core.readNamespace({ name: 'nope' }));
  t.equal(missing.code, 404);
});

t.test('unknown pod is a 404 with a NotFound Status', async (t) => {
  const api = await started(t);
  const core = api.kubeConfig().makeApiClient(CoreV1Api);
  const err = await rejection(core.readNamespacedPod({ namespace: 'default', name: 'ghost' }));
  t.equal(err.code, 404);
  t.match(parseBody(err.body), {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    reason: 'NotFound',
    code: 404,
    message: 'pods "ghost" not found',
    details: { name: 'ghost', kind: 'pods' },
  });
  const logErr = await rejection(core.readNamespacedPodLog({ namespace: 'default', name: 'ghost' }));
  t.equal(logErr.code, 404);
});

t.test('paginates lists with limit and continue', async (t) => {
  const api = await started(t);
  for (let i = 0; i < 7; i++) api.addPod({ namespace: 'shop', name: `p${i}` });
  const core = api.kubeConfig().makeApiClient(CoreV1Api);
  const names: string[] = [];
  let cont: string | undefined;
  let pages = 0;
  let firstRv: string | undefined;
  do {
    const page = await core.listNamespacedPod({ namespace: 'shop', limit: 3, _continue: cont });
    pages++;
    firstRv ??= page.metadata?.resourceVersion;
    t.equal(page.metadata?.resourceVersion, firstRv, 'all pages share the first page resourceVersion');
    names.push(...page.items.map((p) => p.metadata?.name as string));
    cont = page.metadata?._continue;
    if (cont) t.equal(page.metadata?.remainingItemCount, 7 - names.length);
  } while (cont);
  t.equal(pages, 3);
  t.same(names, ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);

  const first = await core.listNamespacedPod({ namespace: 'shop', limit: 3 });
  api.expireWatches();
  const stale = await rejection(core.listNamespacedPod({ namespace: 'shop', limit: 3, _continue: first.metadata?._continue }));
  t.equal(stale.code, 410, 'a continue token from before a compaction is Expired');
});

t.test('node-scoped informer sees add, update and delete', async (t) => {
  const api = await started(t);
  const kc = api.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const fieldSelector = 'spec.nodeName=node-a';
  const informer = new ListWatch<V1Pod>(
    '/api/v1/pods',
    new Watch(kc),
    () => core.listPodForAllNamespaces({ fieldSelector }),
    false,
    undefined,
    fieldSelector,
  );
  const events: string[] = [];
  informer.on('add', (p) => events.push(`add ${p.metadata?.name}`));
  informer.on('update', (p) => events.push(`update ${p.metadata?.name} ${p.metadata?.labels?.['version']}`));
  informer.on('delete', (p) => events.push(`delete ${p.metadata?.name}`));
  informer.on('error', (err) => events.push(`error ${String(err)}`));
  api.addPod({ namespace: 'shop', name: 'before', nodeName: 'node-a' });
  await informer.start();
  t.teardown(() => informer.stop());
  await waitFor(() => api.openStreams('watch') === 1, { what: 'watch connected' });

  api.addPod({ namespace: 'shop', name: 'web', nodeName: 'node-a' });
  api.addPod({ namespace: 'shop', name: 'elsewhere', nodeName: 'node-b' });
  api.updatePod('shop', 'web', (p) => {
    p.metadata.labels = { ...p.metadata.labels, version: '2' };
  });
  api.deletePod('shop', 'web');
  await waitFor(() => events.length >= 4, { what: 'four events' });
  t.same(events, ['add before', 'add web', 'update web 2', 'delete web']);
  t.same(informer.list().map((p) => p.metadata?.name), ['before']);
  t.equal(informer.latestResourceVersion(), String(api.state.resourceVersion));
});

t.test('informer relists after expireWatches and keeps seeing changes', async (t) => {
  const api = await started(t);
  const kc = api.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  let lists = 0;
  const informer = makeInformer<V1Pod>(kc, '/api/v1/namespaces/shop/pods', () => {
    lists++;
    return core.listNamespacedPod({ namespace: 'shop' });
  });
  const added: string[] = [];
  const deleted: string[] = [];
  const errors: unknown[] = [];
  informer.on('add', (p) => added.push(p.metadata?.name as string));
  informer.on('delete', (p) => deleted.push(p.metadata?.name as string));
  informer.on('error', (err) => errors.push(err));
  api.addPod({ namespace: 'shop', name: 'a' });
  api.addPod({ namespace: 'shop', name: 'b' });
  await informer.start();
  t.teardown(() => informer.stop());
  await waitFor(() => api.openStreams('watch') === 1, { what: 'watch connected' });
  t.equal(lists, 1);

  // While the watch is down, history is compacted: resuming from the old
  // resourceVersion gets 410 Expired and the informer must relist.
  api.expireWatches();
  api.deletePod('shop', 'b');
  await waitFor(() => lists === 2 && api.openStreams('watch') === 1, { what: 'relist and new watch' });
  await waitFor(() => deleted.includes('b'), { what: 'relist notices b is gone' });

  api.addPod({ namespace: 'shop', name: 'c' });
  await waitFor(() => added.includes('c'), { what: 'pod added after recovery' });
  t.same(errors, []);
  t.same(informer.list().map((p) => p.metadata?.name).sort(), ['a', 'c']);
});

t.test('closeWatches makes clients resume from their resourceVersion without relisting', async (t) => {
  const api = await started(t);
  const kc = api.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  let lists = 0;
  const informer = makeInformer<V1Pod>(kc, '/api/v1/pods', () => {
    lists++;
    return core.listPodForAllNamespaces();
  });
  const added: string[] = [];
  informer.on('add', (p) => added.push(p.metadata?.name as string));
  await informer.start();
  t.teardown(() => informer.stop());
  await waitFor(() => api.openStreams('watch') === 1, { what: 'watch connected' });
  api.closeWatches();
  // Added while no watch is open: must come from the replay history.
  api.addPod({ name: 'during-gap' });
  await waitFor(() => added.includes('during-gap'), { what: 'replayed add' });
  t.equal(lists, 1);
});

t.test('raw watch: 410 ERROR for a too old resourceVersion, bookmarks, timeoutSeconds', async (t) => {
  const api = await started(t);
  api.addPod({ name: 'x' });
  const oldRv = api.state.resourceVersion;
  api.addPod({ name: 'y' });
  api.expireWatches();
  const watch = new Watch(api.kubeConfig());

  const expiredEvents: { type: string; obj: Record<string, unknown> }[] = [];
  await new Promise<void>((resolve, reject) => {
    void watch.watch('/api/v1/pods', { resourceVersion: String(oldRv) }, (type, obj) => expiredEvents.push({ type, obj }), (err) =>
      err ? reject(err) : resolve(),
    );
  });
  t.match(expiredEvents, [{ type: 'ERROR', obj: { kind: 'Status', code: 410, reason: 'Expired' } }]);

  const events: { type: string; obj: { metadata?: { name?: string; annotations?: Record<string, string> } } }[] = [];
  const startedAt = Date.now();
  await new Promise<void>((resolve, reject) => {
    void watch.watch(
      '/api/v1/pods',
      { allowWatchBookmarks: true, sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', timeoutSeconds: 1 },
      (type, obj) => events.push({ type, obj }),
      (err) => (err ? reject(err) : resolve()),
    );
  });
  t.ok(Date.now() - startedAt >= 900, 'stream ended by timeoutSeconds');
  t.same(events.map((e) => e.type), ['ADDED', 'ADDED', 'BOOKMARK', 'BOOKMARK']);
  t.same(events[2]?.obj.metadata?.annotations, { 'k8s.io/initial-events-end': 'true' });
});

t.test('label-filtered watch turns label changes into ADDED and DELETED', async (t) => {
  const api = await started(t);
  api.addPod({ name: 'p', labels: { app: 'web' } });
  const watch = new Watch(api.kubeConfig());
  const events: string[] = [];
  const req = await watch.watch('/api/v1/namespaces/default/pods', { labelSelector: 'app=api', resourceVersion: String(api.state.resourceVersion) }, (type) => events.push(type), () => {});
  t.teardown(() => req.abort());
  await waitFor(() => api.openStreams('watch') === 1, { what: 'watch connected' });
  api.updatePod('default', 'p', (p) => void (p.metadata.labels = { app: 'api' }));
  api.updatePod('default', 'p', (p) => void (p.metadata.labels = { app: 'api', v: '2' }));
  api.updatePod('default', 'p', (p) => void (p.metadata.labels = { app: 'web' }));
  await waitFor(() => events.length === 3, { what: 'three events' });
  t.same(events, ['ADDED', 'MODIFIED', 'DELETED']);
});

t.test('Log follows appended lines with RFC 3339 nano timestamps until the pod is deleted', async (t) => {
  const api = await started(t);
  api.addPod({ namespace: 'shop', name: 'web', containers: ['app'] });
  api.appendLog('shop', 'web', 'app', 'already there', '2024-05-01T10:00:00.123456789Z');
  const out = new PassThrough();
  let text = '';
  let ended = false;
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  out.on('end', () => (ended = true));
  await new Log(api.kubeConfig()).log('shop', 'web', 'app', out, { follow: true, timestamps: true });
  await waitFor(() => text.includes('already there'), { what: 'existing line' });
  t.equal(text, '2024-05-01T10:00:00.123456789Z already there\n');

  api.appendLog('shop', 'web', 'app', 'first new line');
  api.appendLog('shop', 'web', 'app', 'second new line');
  await waitFor(() => text.includes('second new line'), { what: 'followed lines' });
  const lines = text.trimEnd().split('\n');
  t.equal(lines.length, 3);
  for (const line of lines) t.match(line, RFC3339_NANO_PREFIX);
  t.match(lines[2], / second new line$/);

  api.deletePod('shop', 'web');
  await waitFor(() => ended, { what: 'stream ends when the pod is deleted' });
});

t.test('a followed log stops being served when the client aborts', async (t) => {
  const api = await started(t);
  api.addPod({ name: 'web' });
  const out = new PassThrough();
  // client-node 2.0.1 pipes an internal stream into `out` without an error
  // listener, so abort() would surface as an uncaughtException AbortError.
  // The 'pipe' event hands us that source stream to listen on.
  const sourceErrors: string[] = [];
  out.on('pipe', (source) => source.on('error', (err: Error) => sourceErrors.push(err.name)));
  const controller = await new Log(api.kubeConfig()).log('default', 'web', 'app', out, { follow: true });
  await waitFor(() => api.openStreams('log') === 1, { what: 'follow registered' });
  controller.abort();
  await waitFor(() => api.openStreams('log') === 0, { what: 'follow released' });
  t.same(sourceErrors, ['AbortError']);
  api.appendLog('default', 'web', 'app', 'nobody listens');
});

t.test('readNamespacedPodLog honours tailLines, sinceTime, sinceSeconds, limitBytes, previous', async (t) => {
  const api = await started(t);
  api.addPod({ namespace: 'shop', name: 'web', containers: ['app', 'sidecar'] });
  api.appendLog('shop', 'web', 'app', 'l1', '2024-05-01T10:00:00Z');
  api.appendLog('shop', 'web', 'app', 'l2', '2024-05-01T10:00:01.5Z');
  api.appendLog('shop', 'web', 'app', 'l3', '2024-05-01T10:00:02Z');
  api.appendLog('shop', 'web', 'app', 'l4', '2024-05-01T10:00:03Z');
  const core = api.kubeConfig().makeApiClient(CoreV1Api);
  const read = (opts: Partial<Parameters<CoreV1Api['readNamespacedPodLog']>[0]>) =>
    core.readNamespacedPodLog({ namespace: 'shop', name: 'web', container: 'app', ...opts });

  t.equal(await read({}), 'l1\nl2\nl3\nl4\n');
  t.equal(await read({ tailLines: 2 }), 'l3\nl4\n');
  // CoreV1Api.readNamespacedPodLog has no sinceTime parameter; the Log helper does.
  t.equal(await logText(api, 'shop', 'web', 'app', { sinceTime: '2024-05-01T10:00:01Z' }), 'l2\nl3\nl4\n');
  t.equal(await logText(api, 'shop', 'web', 'app', { tailLines: 3, sinceTime: '2024-05-01T10:00:02Z' }), 'l3\nl4\n');
  t.equal(await read({ timestamps: true, tailLines: 1 }), '2024-05-01T10:00:03.000000000Z l4\n');
  t.equal(await read({ limitBytes: 4 }), 'l1\nl');
  t.equal(await read({ sinceSeconds: 60 }), '', 'lines from 2024 are older than a minute');

  const noContainer = await rejection(core.readNamespacedPodLog({ namespace: 'shop', name: 'web' }));
  t.equal(noContainer.code, 400);
  t.match(parseBody(noContainer.body), { reason: 'BadRequest', message: /choose one of: \[app sidecar\]/ });
  const badContainer = await rejection(read({ container: 'nope' }));
  t.equal(badContainer.code, 400);

  const noPrevious = await rejection(read({ previous: true }));
  t.equal(noPrevious.code, 400);
  const before = api.getPod('shop', 'web')?.status.containerStatuses?.[0]?.containerID;
  const restarted = api.restartContainer('shop', 'web', 'app');
  t.not(restarted.status.containerStatuses?.[0]?.containerID, before);
  t.equal(restarted.status.containerStatuses?.[0]?.restartCount, 1);
  api.appendLog('shop', 'web', 'app', 'after restart');
  t.equal(await read({}), 'after restart\n');
  t.equal(await read({ previous: true, tailLines: 1 }), 'l4\n');
});

t.test('discovery documents', async (t) => {
  const api = await started(t);
  const get = async (path: string) => (await fetch(`${api.url}${path}`)).json();
  t.match(await get('/version'), { major: '1', gitVersion: /^v1\./ });
  t.match(await get('/api'), { kind: 'APIVersions', versions: ['v1'] });
  const core = (await get('/api/v1')) as { resources: { name: string }[] };
  t.ok(core.resources.some((r) => r.name === 'pods/log'));
  t.match(await get('/apis'), { kind: 'APIGroupList', groups: [{ name: 'apps' }] });
  const unknown = await fetch(`${api.url}/api/v1/secrets`);
  t.equal(unknown.status, 404);
});

t.test('demo cluster has owned pods whose log file names match the node layout', async (t) => {
  const api = await started(t);
  const pods = populateDemoCluster(api, { nodeName: 'demo-node' });
  t.ok(pods.length >= 6 && pods.length <= 8);
  const kinds = new Set<string>(pods.map((p) => p.ownerKind));
  for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet', 'Job']) t.ok(kinds.has(kind), kind);
  const core = api.kubeConfig().makeApiClient(CoreV1Api);
  const listed = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=demo-node' });
  t.equal(listed.items.length, pods.length);
  const first = pods[0];
  const container = first?.containers[0];
  if (!first || !container) throw new Error('demo cluster is empty');
  t.match(
    containerLogFileName(first, container),
    new RegExp(`^${first.name}_${first.namespace}_${container.name}-[0-9a-f]{64}\\.log$`),
  );
  const again = populateDemoCluster(await started(t), { nodeName: 'demo-node' });
  t.same(again.map((p) => p.uid), pods.map((p) => p.uid), 'demo identities are stable across runs');
});
