// Cluster management (issue 8 §3) through the real aggregator on the shared OpenSearch, with
// a real kube-apiserver of this test's own (dev/kube) as the registered clusters' API server:
// `alpha` and `beta` are two registrations of it, each looked at in its own namespace. The
// right credential is a TokenRequest token of the chart's own `apiReader` ServiceAccount
// (rendered by helm, test/helpers/chart-rbac.ts), so the live view gets exactly what a Helm
// install grants; the wrong one is refused by the API server's own authenticator. Every response body and
// every log line of the run is kept, to prove no credential leaks.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildApp } from '../../aggregator/app.ts';
import { loadConfig } from '../../aggregator/config.ts';
import { testKube } from '../helpers/kube.ts';
import { apiReaderServiceAccount } from '../helpers/chart-rbac.ts';
import { openSearchUrl, uniquePrefix } from '../helpers/services.ts';
import { waitForValue } from '../helpers/wait-for.ts';
import { getJson, ingest, ndjson, record } from '../helpers/records.ts';

const opensearchUrl = await openSearchUrl(t);
const kube = await testKube(t, { private: true });
if (!kube) throw new Error('unreachable: testKube skips only on an external cluster, which has no private API server');
const { driver } = kube;
for (const ns of ['shop', 'web', 'k8s-logs']) await driver.ensureNamespace(ns);
const KUBE_TOKEN = (await apiReaderServiceAccount(t, driver.api, 'k8s-logs')).access.token;
const WRONG_TOKEN = `wrong-${randomBytes(16).toString('hex')}`;
const KUBE_URL = kube.access.url;
await driver.addPod({ namespace: 'shop', name: 'api-1', containers: ['main'], nodeName: kube.node });
await driver.addPod({ namespace: 'web', name: 'front-1', containers: ['nginx'], nodeName: kube.node });

const logLines: string[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
);
const prefix = uniquePrefix('clusters');
const adminToken = 'clusters-test-admin-token';
const env = {
  OPENSEARCH_URL: opensearchUrl,
  K8S_LOGS_INDEX_PREFIX: prefix,
  K8S_LOGS_ADMIN_TOKEN: adminToken,
  K8S_LOGS_RATE_LIMIT_STANDARD: '0',
  K8S_LOGS_RATE_LIMIT_HEAVY: '0',
  K8S_LOGS_KUBE_TIMEOUT_MS: '5000',
  K8S_LOGS_CLUSTER_SYNC_INTERVAL_MS: '300',
};
const app = await buildApp(
  { ...loadConfig([], { ...env, K8S_LOGS_CREDENTIALS_KEY: 'a'.repeat(64) }), port: 0, host: '127.0.0.1' },
  { logger },
);
t.teardown(async () => {
  await app.close();
  await fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
});
await app.prepareStore();
await app.listen({ host: '127.0.0.1', port: 0 });
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const api = `${url}/v1/k8s/logs`;

const bodies: string[] = [];
async function call(method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as Record<string, any> };
}
async function token(body: Record<string, unknown>): Promise<string> {
  const res = await call('POST', '/tokens', adminToken, body);
  if (res.status !== 201) throw new Error(`token: ${res.status}`);
  return res.body['token'];
}
const reader = await token({ name: 'reader', scopes: ['logs:read'] });
const shopOnly = await token({ name: 'shop', scopes: ['logs:read'], namespaces: ['shop'] });
const alphaOnly = await token({ name: 'alpha reader', scopes: ['logs:read'], clusters: ['alpha'] });
const status = async (id: string) => (await call('GET', `/clusters/status?id=${id}`, reader)).body['clusters']?.[0];
const livePods = async (q: string) => {
  const got = await call('GET', `/pods?${q}`, reader);
  return got.body['pods']
    .filter((p: { live: boolean }) => p.live)
    .map((p: { cluster: string; name: string }) => `${p.cluster}/${p.name}`);
};
const until = <T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean) =>
  waitForValue(get, ok, { what, timeoutMs: 20_000, intervalMs: 100 });

let alphaIngestToken = '';
/** beta's version before the update test changed it: stale from then on. */
let staleBetaEtag = '';

t.test('register a cluster with a connection: live pods, ingest token, healthy status', async (t) => {
  const res = await call('POST', '/clusters/configs', adminToken, {
    id: 'alpha',
    name: 'Alpha (prod)',
    labels: { env: 'prod' },
    api: { server: KUBE_URL, token: KUBE_TOKEN, insecure_skip_tls_verify: true },
    issue_ingest_token: true,
  });
  t.equal(res.status, 201, JSON.stringify(res.body));
  t.match(res.headers.get('etag'), /^"\d+\.\d+"$/);
  t.same(res.body['cluster']['api'], {
    server: KUBE_URL,
    ca_configured: false,
    insecure_skip_tls_verify: true,
    auth: 'token',
  });
  t.equal(res.body['cluster']['name'], 'Alpha (prod)');
  t.match(res.body['ingest_token'], { id: String, token: /^k8sl_/ });
  alphaIngestToken = res.body['ingest_token']['token'];

  t.same(
    await until(
      'alpha live pods',
      () => livePods('cluster=alpha&namespace=shop'),
      (p) => p.length === 1,
    ),
    ['alpha/api-1'],
  );
  await driver.addPod({ namespace: 'shop', name: 'api-2', containers: ['main'], nodeName: kube.node });
  await until(
    'a pod added later arrives by watch',
    () => livePods('cluster=alpha&namespace=shop'),
    (p) => p.includes('alpha/api-2'),
  );

  // Its agents: the issued token ingests and heartbeats for alpha.
  const ing = await ingest(
    url,
    alphaIngestToken,
    ndjson([
      record({ cluster: 'alpha', namespace: 'shop', pod: 'api-1', container: 'main' }),
      record({ cluster: 'alpha', namespace: 'shop', pod: 'api-1', container: 'main' }),
    ]),
  );
  t.equal(ing.status, 200, JSON.stringify(ing.body));
  const hb = await fetch(`${url}/v1/ingest/heartbeat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alphaIngestToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      cluster: 'alpha',
      node: 'node-a',
      agent_version: '1.2.3',
      files_watched: 4,
      bytes_behind: 100,
      sent_at: new Date().toISOString(),
    }),
  });
  t.equal(hb.status, 204);
  await fetch(`${opensearchUrl}/${prefix}-*/_refresh`, { method: 'POST' });
  const st = await until(
    'alpha status with its agent and records',
    () => status('alpha'),
    (s) => s?.agents?.nodes_reporting === 1 && s?.last_record_at !== null,
  );
  t.equal(st.status, 'healthy', JSON.stringify(st));
  t.same(st.reasons, []);
  t.equal(st.registered, true);
  t.match(st.api, {
    state: 'connected',
    reachable: true,
    kubernetes_version: String,
    latency_ms: Number,
    last_error: null,
  });
  t.match(st.agents, {
    nodes_reporting: 1,
    stale_agents: 0,
    agent_versions: ['1.2.3'],
    bytes_behind: 100,
    nodes: [{ node: 'node-a', stale: false, files_watched: 4 }],
  });
  t.equal(st.ingest_rate_per_second, Math.round((2 / 300) * 1000) / 1000, '2 records in the last 5 minutes');
});

t.test('a wrong token shows in status, not as a 500', async (t) => {
  const res = await call('POST', '/clusters/configs', adminToken, {
    id: 'beta',
    api: { server: KUBE_URL, token: WRONG_TOKEN, insecure_skip_tls_verify: true },
  });
  t.equal(res.status, 201);
  const st = await status('beta');
  t.equal(st.status, 'disconnected');
  t.match(st.api, { state: 'unauthorized', reachable: true, last_error: /401/ });
  t.ok(st.reasons.some((r: string) => /unauthorized/.test(r)));
  const pods = await call('GET', '/pods?cluster=beta', reader);
  t.equal(pods.status, 200, 'discovery answers from the index');
  t.same(pods.body['live_clusters'], [{ cluster: 'beta', connected: false }]);
  const all = await call('GET', '/clusters/status', reader);
  t.equal(all.status, 200);
  t.same(
    all.body['clusters'].map((c: { id: string; status: string }) => [c.id, c.status]),
    [
      ['alpha', 'healthy'],
      ['beta', 'disconnected'],
    ],
  );
});

t.test('update with If-Match fixes the token; a stale If-Match is a 412; refresh reports', async (t) => {
  const list = await call('GET', '/clusters/configs', reader);
  t.equal(list.status, 200);
  t.same(
    list.body['clusters'].map((c: { id: string }) => c.id),
    ['alpha', 'beta'],
  );
  const beta = list.body['clusters'][1];
  const etag = `"${beta.version}"`;
  staleBetaEtag = etag;
  const put = await call(
    'PUT',
    '/clusters/configs?id=beta',
    adminToken,
    {
      name: 'Beta',
      labels: { env: 'dev' },
      api: { server: KUBE_URL, token: KUBE_TOKEN, insecure_skip_tls_verify: true },
    },
    { 'if-match': etag },
  );
  t.equal(put.status, 200, JSON.stringify(put.body));
  t.not(put.headers.get('etag'), etag);
  t.equal(put.body['created_at'], beta.created_at);
  const stale = await call('PUT', '/clusters/configs?id=beta', adminToken, { name: 'Beta 2' }, { 'if-match': etag });
  t.equal(stale.status, 412);
  t.equal(stale.body['error']['code'], 'precondition_failed');
  t.same(
    await until(
      'beta live pods after the fix',
      () => livePods('cluster=beta&namespace=web'),
      (p) => p.length === 1,
    ),
    ['beta/front-1'],
  );
  t.match((await status('beta')).api, { state: 'connected' });

  // Keeping the stored credentials: an update without `token` still connects.
  const keep = await call('PUT', '/clusters/configs?id=beta', adminToken, {
    name: 'Beta',
    api: { server: KUBE_URL, insecure_skip_tls_verify: true },
  });
  t.equal(keep.body['api']['auth'], 'token');
  const one = await call('POST', '/clusters/refresh?id=beta', adminToken);
  t.equal(one.status, 200);
  t.match(one.body['results'], [{ id: 'beta', action: 'reconnected', api: { state: 'connected' } }]);
  const all = await call('POST', '/clusters/refresh', adminToken);
  t.same(
    all.body['results'].map((r: { id: string; action: string; api: { state: string } }) => [
      r.id,
      r.action,
      r.api.state,
    ]),
    [
      ['alpha', 'reconnected', 'connected'],
      ['beta', 'reconnected', 'connected'],
    ],
  );
  t.equal((await call('POST', '/clusters/refresh?id=nope', adminToken)).status, 404);
});

t.test('bad input: 400, 404, 409, 403', async (t) => {
  const cases: Array<[string, string, unknown, number, string]> = [
    ['POST', '/clusters/configs', { id: 'alpha' }, 409, 'duplicate id'],
    ['POST', '/clusters/configs', { id: 'Not_Valid' }, 400, 'invalid id'],
    ['POST', '/clusters/configs', { id: 'gamma', api: { server: 'ftp://x' } }, 400, 'server not http(s)'],
    [
      'POST',
      '/clusters/configs',
      { id: 'gamma', api: { server: KUBE_URL, token: 'x', client_certificate_data: 'y', client_key_data: 'z' } },
      400,
      'token and certificate',
    ],
    [
      'POST',
      '/clusters/configs',
      { id: 'gamma', api: { server: KUBE_URL, client_certificate_data: 'y' } },
      400,
      'certificate without key',
    ],
    ['POST', '/clusters/configs', { id: 'gamma', extra: 1 }, 400, 'unknown field'],
    ['PUT', '/clusters/configs?id=nope', { name: 'x' }, 404, 'update unknown'],
    ['PUT', '/clusters/configs?id=beta', {}, 400, 'update without name'],
    ['DELETE', '/clusters/configs?id=nope', undefined, 404, 'delete unknown'],
    ['DELETE', '/clusters/configs', undefined, 400, 'delete without id'],
    ['PUT', '/clusters/configs', { name: 'x' }, 400, 'update without id'],
    ['GET', '/clusters/configs?limit=1&cursor=garbage', undefined, 400, 'list with a cursor not of ours'],
  ];
  for (const [method, path, body, want, what] of cases) {
    const res = await call(method, path, adminToken, body);
    t.equal(res.status, want, `${what}: ${JSON.stringify(res.body)}`);
  }
  const badIfMatch = await call(
    'PUT',
    '/clusters/configs?id=beta',
    adminToken,
    { name: 'x' },
    { 'if-match': 'garbage' },
  );
  t.equal(badIfMatch.status, 400);
  for (const [method, path] of [
    ['POST', '/clusters/configs'],
    ['PUT', '/clusters/configs?id=beta'],
    ['DELETE', '/clusters/configs?id=beta'],
    ['POST', '/clusters/refresh'],
  ] as const) {
    const res = await call(
      method,
      path,
      reader,
      method === 'DELETE' || path.includes('refresh') ? undefined : { id: 'gamma', name: 'x' },
    );
    t.equal(res.status, 403, `${method} ${path} needs admin`);
  }

  t.equal((await call('GET', '/clusters/status?id=nope', reader)).status, 404, 'status of an unknown cluster');
  t.equal((await call('GET', '/clusters/nope/metrics', reader)).status, 404, 'metrics of an unknown cluster');
  t.ok(staleBetaEtag, 'the update test captured the old version');
  const staleDelete = await call('DELETE', '/clusters/configs?id=beta', adminToken, undefined, {
    'if-match': staleBetaEtag,
  });
  t.equal(staleDelete.status, 412, JSON.stringify(staleDelete.body));
  t.equal(staleDelete.body['error']['code'], 'precondition_failed');
  const still = await call('GET', '/clusters/configs', reader);
  t.ok(
    still.body['clusters'].some((c: { id: string }) => c.id === 'beta'),
    'beta survives a stale delete',
  );

  // Reading clusters and monitoring needs logs:read: an archive-only token gets 403 on each.
  const archivist = await token({ name: 'archivist', scopes: ['archive'] });
  for (const path of [
    '/clusters/status',
    '/clusters/configs',
    '/clusters/alpha/metrics',
    '/metrics',
    '/stats',
    '/health',
  ]) {
    const res = await call('GET', path, archivist);
    t.equal(res.status, 403, `GET ${path} without logs:read: ${JSON.stringify(res.body)}`);
    t.equal(res.body['error']?.['code'], 'forbidden', `GET ${path}: the error names the refusal`);
  }
});

t.test('restricted tokens: clusters limit filters, namespace limit sees no cluster', async (t) => {
  const ns = await call('GET', '/clusters/configs', shopOnly);
  t.same(ns.body['clusters'], []);
  t.same((await call('GET', '/clusters/status', shopOnly)).body['clusters'], []);
  t.equal((await call('GET', '/clusters/status?id=alpha', shopOnly)).status, 403);
  const cl = await call('GET', '/clusters/configs', alphaOnly);
  t.same(
    cl.body['clusters'].map((c: { id: string }) => c.id),
    ['alpha'],
  );
  t.same(
    (await call('GET', '/clusters/status', alphaOnly)).body['clusters'].map((c: { id: string }) => c.id),
    ['alpha'],
  );
  t.equal((await call('GET', '/clusters/status?id=beta', alphaOnly)).status, 403);
});

t.test('credentials are encrypted at rest, never returned, never logged', async (t) => {
  const raw = await (await fetch(`${opensearchUrl}/.${prefix}-clusters/_search?size=100`)).text();
  t.match(raw, /A256GCM/);
  for (const secret of [KUBE_TOKEN, WRONG_TOKEN]) {
    t.notOk(raw.includes(secret), 'not in the stored documents');
    t.notOk(
      bodies.some((b) => b.includes(secret)),
      'in no response',
    );
    t.notOk(
      logLines.some((l) => l.includes(secret)),
      'in no log line',
    );
  }
  t.ok(logLines.length > 0, 'the log was captured');
});

t.test('delete stops the live view, revokes the ingest tokens, keeps the logs', async (t) => {
  const del = await call('DELETE', '/clusters/configs?id=alpha', adminToken);
  t.equal(del.status, 200);
  t.same(del.body, { id: 'alpha', deleted: true, ingest_tokens_revoked: 1, logs_kept: true });
  const pods = await call('GET', '/pods', reader);
  t.notOk(
    pods.body['live_clusters'].some((c: { cluster: string }) => c.cluster === 'alpha'),
    'no live view of alpha',
  );
  t.same(
    pods.body['pods']
      .filter((p: { cluster: string }) => p.cluster === 'alpha')
      .map((p: { name: string; live: boolean }) => [p.name, p.live]),
    [['api-1', false]],
    'only what the index knows',
  );
  await until(
    'the revoked token refused (token cache)',
    () => ingest(url, alphaIngestToken, ndjson([record({ cluster: 'alpha' })])),
    (r) => r.status === 401,
  );
  const logs = await getJson(`${api}/?cluster=alpha&start=now-1h`, reader);
  t.equal(logs.status, 200);
  t.equal(logs.body['logs']?.length ?? logs.body['records']?.length, 2, 'the stored logs stay');
  t.equal((await call('GET', '/clusters/configs', reader)).body['clusters'].length, 1);
  const st = await status('alpha');
  t.equal(st.registered, false, 'still known from its heartbeat, no longer registered');
  t.equal(st.api, null);
});

t.test('another replica follows registrations; without a key credentials are refused', async (t) => {
  const other = await buildApp({
    ...loadConfig([], { ...env, K8S_LOGS_LOG_LEVEL: 'silent' }),
    port: 0,
    host: '127.0.0.1',
  });
  t.teardown(() => other.close());
  await other.prepareStore();
  const auth = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const refused = await other.inject({
    method: 'POST',
    url: '/v1/k8s/logs/clusters/configs',
    headers: auth,
    payload: { id: 'gamma', api: { server: KUBE_URL, token: KUBE_TOKEN } },
  });
  t.equal(refused.statusCode, 409);
  t.equal(refused.json().error.code, 'credentials_key_missing');
  t.notOk(refused.body.includes(KUBE_TOKEN));
  const plain = await other.inject({
    method: 'POST',
    url: '/v1/k8s/logs/clusters/configs',
    headers: auth,
    payload: { id: 'gamma', api: { server: KUBE_URL, insecure_skip_tls_verify: true } },
  });
  t.equal(plain.statusCode, 201);
  t.equal(plain.json().cluster.api.auth, 'none');
  // The first replica picks gamma up by its periodic sync; its anonymous requests are refused by the API.
  const st = await until(
    'gamma on the first replica',
    () => status('gamma'),
    (s) => s?.api?.state === 'unauthorized',
  );
  t.equal(st.registered, true);
  // Beta, registered with a token, cannot be decrypted here: status says so, nothing fails.
  const beta = await other.inject({ method: 'GET', url: '/v1/k8s/logs/clusters/status?id=beta', headers: auth });
  t.equal(beta.statusCode, 200);
  const betaApi = await waitForValue(
    async () =>
      (await other.inject({ method: 'GET', url: '/v1/k8s/logs/clusters/status?id=beta', headers: auth })).json()
        .clusters[0].api,
    (a) => a?.state === 'error',
    { what: 'beta undecryptable on the keyless replica', timeoutMs: 20_000, intervalMs: 100 },
  );
  t.match(betaApi.last_error, /K8S_LOGS_CREDENTIALS_KEY/);
});

t.test(
  'a client-certificate connection: the CA verified, the user authorised by RBAC; a foreign certificate is refused',
  async (t) => {
    // The certificate's user gets exactly the chart's apiReader ClusterRole, bound to the
    // User (the CN) instead of the ServiceAccount: what an operator does for a cert user.
    const user = `k8s-logs-cert-${randomBytes(3).toString('hex')}`;
    const cert = await kube.clientCertificate(user);
    const foreign = await kube.clientCertificate(user, { signer: 'self' });
    if (!cert || !foreign) throw new Error('unreachable: a private control plane has its PKI');
    const readerSa = await apiReaderServiceAccount(t, driver.api, 'k8s-logs');
    const bindings = await driver.api.get<{
      items: Array<{ roleRef: { name: string }; subjects?: Array<{ kind: string; name: string }> }>;
    }>('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings');
    const role = bindings.items.find((b) =>
      b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === readerSa.serviceAccount.name),
    )?.roleRef.name;
    t.ok(role, "the chart's apiReader ClusterRole");
    const binding = `${user}-reader`;
    await driver.api.create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: binding },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    });
    t.teardown(() => driver.api.delete(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${binding}`));
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const apiWith = (c: { certPem: string; keyPem: string }) => ({
      server: KUBE_URL,
      ca_data: b64(kube.access.caPem),
      client_certificate_data: b64(c.certPem),
      client_key_data: b64(c.keyPem),
    });

    const res = await call('POST', '/clusters/configs', adminToken, { id: 'delta', api: apiWith(cert) });
    t.equal(res.status, 201, JSON.stringify(res.body));
    t.same(res.body['cluster']['api'], {
      server: KUBE_URL,
      ca_configured: true,
      insecure_skip_tls_verify: false,
      auth: 'client_certificate',
    });
    t.notMatch(JSON.stringify(res.body), new RegExp(b64(cert.keyPem).slice(0, 40)), 'the key is never returned');
    t.same(
      await until(
        'delta live pods over the certificate',
        () => livePods('cluster=delta&namespace=shop'),
        (p) => p.includes('delta/api-1'),
      ),
      (await driver.api.get<{ items: Array<{ metadata: { name: string } }> }>('/api/v1/namespaces/shop/pods')).items
        .map((p) => `delta/${p.metadata.name}`)
        .sort(),
      "the namespace's pods, as the API server lists them",
    );
    const st = await until(
      'delta connected',
      () => status('delta'),
      (s) => s?.api?.state === 'connected',
    );
    t.match(st.api, { reachable: true, kubernetes_version: String, last_error: null });

    const bad = await call('POST', '/clusters/configs', adminToken, { id: 'epsilon', api: apiWith(foreign) });
    t.equal(bad.status, 201, 'registered: the connection is judged live, not at registration');
    const refused = await until(
      'epsilon refused',
      () => status('epsilon'),
      (s) => s?.api?.state === 'unauthorized',
    );
    t.match(refused.api, { reachable: true, last_error: /401/ });
    for (const id of ['delta', 'epsilon'])
      t.equal((await call('DELETE', `/clusters/configs?id=${id}`, adminToken)).status, 200, `${id} deleted`);
  },
);
