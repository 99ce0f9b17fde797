/**
 * The collection configuration API through the real aggregator on the shared OpenSearch:
 * every endpoint's success path, every bad input (400 / 403 / 404 / 409 / 412), namespace-
 * limited tokens, and the effective config agents receive.
 */
import t from 'tap';
import { startTestAggregator } from '../../../helpers/aggregator.ts';

const agg = await startTestAggregator(t, { name: 'cfgapi' });
const writer = await agg.createToken({ name: 'writer', scopes: ['logs:write'] });
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
const shopOnly = await agg.createToken({ name: 'shop team', scopes: ['logs:write'], namespaces: ['shop'] });
const agent = await agg.ingestToken('alpha');

async function call(method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${agg.url}/v1/k8s/logs${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    etag: res.headers.get('etag'),
    body: (text ? JSON.parse(text) : null) as Record<string, any>,
  };
}

async function effective(etag?: string) {
  const res = await fetch(`${agg.url}/v1/ingest/config`, {
    headers: { authorization: `Bearer ${agent}`, ...(etag ? { 'if-none-match': etag } : {}) },
  });
  return {
    status: res.status,
    etag: res.headers.get('etag'),
    body: res.status === 200 ? ((await res.json()) as Record<string, any>) : null,
  };
}

t.test('create, read back, conflict on a second of one scope', async (t) => {
  const wide = await call('POST', '/config', writer, {
    cluster: 'alpha',
    exclude_namespaces: ['kube-system'],
    min_level: 'info',
    streams: ['stdout', 'stderr'],
  });
  t.equal(wide.status, 201, JSON.stringify(wide.body));
  t.match(wide.body, {
    id: 'alpha',
    cluster: 'alpha',
    namespace: null,
    enabled: true,
    exclude_namespaces: ['kube-system'],
    min_level: 'info',
  });
  t.ok(wide.body['created_at'] && wide.body['updated_at'], 'timestamps');
  t.equal(wide.etag, `"${wide.body['version']}"`, 'the version is the ETag');
  const ns = await call('POST', '/config', writer, {
    cluster: 'alpha',
    namespace: 'shop',
    min_level: 'warn',
    parse_json_fields: true,
    label_selector: 'app=web',
  });
  t.equal(ns.status, 201);
  t.equal(ns.body['id'], 'alpha:shop');
  const dup = await call('POST', '/config', writer, { cluster: 'alpha', namespace: 'shop' });
  t.equal(dup.status, 409);
  t.equal(dup.body['error']['code'], 'conflict');

  const eff = await effective();
  t.equal(eff.body?.['min_level'], 'info');
  t.same(eff.body?.['exclude_namespaces'], ['kube-system']);
  t.same(
    eff.body?.['namespace_overrides'],
    { shop: { enabled: true, min_level: 'warn', parse_json_fields: true, label_selector: 'app=web' } },
    'the namespace wins for its namespace',
  );
  t.equal((await effective(eff.etag!)).status, 304, 'unchanged config: 304 to agents');
});

t.test('invalid bodies are 400', async (t) => {
  for (const [name, body] of [
    ['unknown field', { cluster: 'alpha', namespace: 'x1', loud: true }],
    ['bad cluster id', { cluster: 'Alpha_1' }],
    ['bad namespace', { cluster: 'alpha', namespace: 'Not A Namespace' }],
    ['bad level', { cluster: 'alpha', namespace: 'x2', min_level: 'loud' }],
    ['bad stream', { cluster: 'alpha', namespace: 'x3', streams: ['stdin'] }],
    ['bad selector', { cluster: 'alpha', namespace: 'x4', label_selector: 'app in (' }],
    ['namespace lists on a namespace', { cluster: 'alpha', namespace: 'x5', include_namespaces: ['a'] }],
  ] as const) {
    const r = await call('POST', '/config', writer, body);
    t.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
    t.equal(r.body['error']['code'], 'invalid_request');
  }
  t.equal((await call('PUT', '/config?id=alpha:shop', writer, { enabled: 'maybe' })).status, 400);
  t.equal(
    (await call('PUT', '/config?id=alpha:shop', writer, {}, { 'if-match': 'yesterday' })).status,
    400,
    'an unparsable If-Match is refused, not ignored',
  );
  t.equal((await call('POST', '/config/bulk-update', writer, { items: [] })).status, 400);
  t.equal((await call('PUT', '/config', writer, {})).status, 400, 'PUT without ?id=');
  t.equal((await call('DELETE', '/config', writer)).status, 400, 'DELETE without ?id=');
  t.equal((await call('GET', '/config?enabled=maybe', reader)).status, 400, 'a filter that is no boolean');
  t.equal((await call('GET', '/config?cluster=Not_Valid', reader)).status, 400, 'a filter that is no cluster id');
});

t.test('list with filters and cursor paging', async (t) => {
  await call('POST', '/config', writer, { cluster: 'alpha', namespace: 'payments', enabled: false });
  await call('POST', '/config', writer, { cluster: 'beta' });
  const all = await call('GET', '/config?cluster=alpha', reader);
  t.same(
    all.body['configs'].map((c: { id: string }) => c.id),
    ['alpha', 'alpha:payments', 'alpha:shop'],
  );
  t.equal(all.body['has_more'], false);
  t.equal(all.body['next_cursor'], null);
  t.same(
    (await call('GET', '/config?enabled=false', reader)).body['configs'].map((c: { id: string }) => c.id),
    ['alpha:payments'],
  );
  t.same(
    (await call('GET', '/config?namespace=shop', reader)).body['configs'].map((c: { id: string }) => c.id),
    ['alpha:shop'],
  );
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof call>> = await call(
      'GET',
      `/config?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      reader,
    );
    t.equal(page.status, 200);
    seen.push(...page.body['configs'].map((c: { id: string }) => c.id));
    cursor = page.body['next_cursor'];
  } while (cursor && seen.length < 10);
  t.same(seen, ['alpha', 'alpha:payments', 'alpha:shop', 'beta'], 'pages of one cover every configuration once');
  const first = await call('GET', '/config?limit=1', reader);
  const other = await call('GET', `/config?limit=1&cluster=beta&cursor=${first.body['next_cursor']}`, reader);
  t.equal(other.status, 400);
  t.equal(other.body['error']['code'], 'invalid_cursor');
});

t.test('PUT replaces, honours If-Match; DELETE falls back', async (t) => {
  const before = await call('GET', '/config?namespace=shop', reader);
  const v0 = `"${before.body['configs'][0]['version']}"`;
  const put = await call('PUT', '/config?id=alpha:shop', writer, { min_level: 'error' }, { 'if-match': v0 });
  t.equal(put.status, 200);
  t.equal(put.body['min_level'], 'error');
  t.notOk('label_selector' in put.body, 'settings left out of a PUT are inherited again');
  const stale = await call('PUT', '/config?id=alpha:shop', writer, { min_level: 'debug' }, { 'if-match': v0 });
  t.equal(stale.status, 412);
  t.equal(stale.body['error']['code'], 'precondition_failed');
  t.equal((await call('PUT', '/config?id=alpha:nope', writer, {})).status, 404);
  t.equal(
    (await call('DELETE', '/config?id=alpha:shop', writer, undefined, { 'if-match': v0 })).status,
    412,
    'a stale delete is refused',
  );
  t.equal((await call('DELETE', '/config?id=alpha:shop', writer, undefined, { 'if-match': put.etag! })).status, 204);
  t.equal((await call('DELETE', '/config?id=alpha:shop', writer)).status, 404);
  const eff = await effective();
  t.notOk(
    'shop' in (eff.body?.['namespace_overrides'] ?? {}),
    'the namespace falls back to the cluster-wide configuration',
  );
});

t.test('bulk update: a result per item, each whole or not at all', async (t) => {
  const pay = (await call('GET', '/config?namespace=payments', reader)).body['configs'][0];
  const r = await call('POST', '/config/bulk-update', writer, {
    items: [
      { id: 'alpha:payments', enabled: true, set: { min_level: 'warn' }, version: pay.version },
      { id: 'alpha:missing', enabled: true },
      { id: 'alpha:payments', set: { min_level: 'error' }, version: pay.version },
      { id: 'beta', set: { multiline: false, label_selector: 'bad in (' } },
      { id: 'beta', unset: ['multiline'], enabled: false },
    ],
  });
  t.equal(r.status, 200);
  t.same(
    r.body['results'].map((x: { status: number }) => x.status),
    [200, 404, 412, 400, 200],
  );
  t.equal(r.body['succeeded'], 2);
  t.equal(r.body['failed'], 3);
  const now = (await call('GET', '/config?namespace=payments', reader)).body['configs'][0];
  t.match(now, { enabled: true, min_level: 'warn' }, 'the stale item changed nothing');
  const beta = (await call('GET', '/config?cluster=beta', reader)).body['configs'][0];
  t.equal(beta.enabled, false);
  t.notOk('multiline' in beta, 'the invalid item was not half-applied');
});

t.test('disable: invalid bodies are a 400 naming the problem, nothing changes', async (t) => {
  const before = await call('GET', '/config?cluster=alpha', reader);
  t.equal(before.status, 200);
  const cases: Array<[string, unknown, string]> = [
    ['/config/disable', {}, 'no cluster or namespace'],
    ['/config/disable', { cluster: 'alpha' }, 'no namespace'],
    ['/config/disable', { namespace: 'web' }, 'no cluster'],
    ['/config/disable', { cluster: 'alpha', namespace: 'Not A Namespace' }, 'invalid namespace'],
    ['/config/disable', { cluster: 'alpha', namespace: 'web', extra: true }, 'unknown field'],
    ['/config/disable', [], 'not an object'],
    ['/config/disable/cluster', {}, 'no cluster'],
    ['/config/disable/cluster', { cluster: 'Not_Valid' }, 'invalid cluster'],
    ['/config/disable/cluster', { cluster: 'alpha', namespace: 'web' }, 'a namespace on the cluster endpoint'],
  ];
  for (const [path, body, what] of cases) {
    const res = await call('POST', path, writer, body);
    t.equal(res.status, 400, `${path} ${what}: ${JSON.stringify(res.body)}`);
    t.equal(res.body['error']?.['code'], 'invalid_request', `${path} ${what}: the envelope's code`);
  }
  const after = await call('GET', '/config?cluster=alpha', reader);
  t.equal(after.status, 200);
  t.same(after.body, before.body, 'no configuration changed');
});

t.test('disable a namespace and a cluster: idempotent and reversible', async (t) => {
  const a = await call('POST', '/config/disable', writer, { cluster: 'alpha', namespace: 'web' });
  t.equal(a.status, 200);
  t.match(a.body, { changed: true, config: { id: 'alpha:web', enabled: false } });
  t.equal(
    (await call('POST', '/config/disable', writer, { cluster: 'alpha', namespace: 'web' })).body['changed'],
    false,
    'again: no change',
  );
  t.equal((await effective()).body?.['namespace_overrides']['web']['enabled'], false);
  const c = await call('POST', '/config/disable/cluster', writer, { cluster: 'alpha' });
  t.match(c.body, { changed: true, config: { id: 'alpha', enabled: false } });
  t.equal((await effective()).body?.['enabled'], false);
  const again = await call('POST', '/config/disable/cluster', writer, { cluster: 'alpha' });
  t.equal(again.body['changed'], false);
  const on = await call('POST', '/config/bulk-update', writer, {
    items: [
      { id: 'alpha', enabled: true },
      { id: 'alpha:web', enabled: true },
    ],
  });
  t.equal(on.body['succeeded'], 2);
  const eff = await effective();
  t.equal(eff.body?.['enabled'], true, 're-enabled');
  t.equal(eff.body?.['namespace_overrides']['web']['enabled'], true);
  const fresh = await call('POST', '/config/disable/cluster', writer, { cluster: 'gamma' });
  t.match(
    fresh.body,
    { changed: true, config: { id: 'gamma', enabled: false } },
    'a cluster nobody configured gets a disabled configuration',
  );
});

t.test('namespace-limited tokens see and change only their namespaces; writes need logs:write', async (t) => {
  await call('POST', '/config', writer, { cluster: 'alpha', namespace: 'shop' });
  const list = await call('GET', '/config', shopOnly);
  t.same(
    list.body['configs'].map((c: { id: string }) => c.id),
    ['alpha:shop'],
    'only its namespace, no cluster-wide configuration',
  );
  t.equal((await call('GET', '/config?namespace=payments', shopOnly)).status, 403);
  t.equal((await call('PUT', '/config?id=alpha:shop', shopOnly, { min_level: 'warn' })).status, 200);
  t.equal((await call('PUT', '/config?id=alpha', shopOnly, {})).status, 403, 'not the cluster-wide one');
  t.equal(
    (await call('PUT', '/config?id=alpha:nonexistent', shopOnly, {})).status,
    403,
    'outside its scope: 403 whether or not it exists',
  );
  t.equal((await call('DELETE', '/config?id=alpha:payments', shopOnly)).status, 403);
  t.equal((await call('POST', '/config', shopOnly, { cluster: 'alpha', namespace: 'payments' })).status, 403);
  t.equal((await call('POST', '/config/disable', shopOnly, { cluster: 'alpha', namespace: 'payments' })).status, 403);
  t.equal((await call('POST', '/config/disable/cluster', shopOnly, { cluster: 'alpha' })).status, 403);
  const bulk = await call('POST', '/config/bulk-update', shopOnly, {
    items: [
      { id: 'alpha:shop', enabled: true },
      { id: 'alpha:payments', enabled: false },
    ],
  });
  t.same(
    bulk.body['results'].map((x: { status: number }) => x.status),
    [200, 403],
  );
  for (const [method, path, body] of [
    ['POST', '/config', { cluster: 'delta' }],
    ['PUT', '/config?id=alpha:shop', { min_level: 'debug' }],
    ['DELETE', '/config?id=alpha:shop', undefined],
    ['POST', '/config/bulk-update', { items: [{ id: 'alpha:shop', enabled: false }] }],
    ['POST', '/config/disable', { cluster: 'alpha', namespace: 'shop' }],
    ['POST', '/config/disable/cluster', { cluster: 'alpha' }],
  ] as const) {
    const res = await call(method, path, reader, body);
    t.equal(res.status, 403, `logs:read cannot ${method} ${path}`);
    t.equal(res.body['error']?.['code'], 'forbidden');
  }
  t.match(
    (await call('GET', '/config?namespace=shop', reader)).body['configs'],
    [{ id: 'alpha:shop', enabled: true, min_level: 'warn' }],
    'none of the refused writes changed it',
  );
  t.equal((await call('GET', '/config', agent)).status, 403, 'an agent token reads no configuration API');
});

t.test('/docs lists the endpoints with their schemas', async (t) => {
  const res = await fetch(`${agg.url}/docs/json`);
  const doc = (await res.json()) as {
    paths: Record<string, Record<string, { requestBody?: unknown; responses?: Record<string, unknown> }>>;
  };
  for (const [path, methods] of Object.entries({
    '/v1/k8s/logs/config': ['get', 'post', 'put', 'delete'],
    '/v1/k8s/logs/config/bulk-update': ['post'],
    '/v1/k8s/logs/config/disable': ['post'],
    '/v1/k8s/logs/config/disable/cluster': ['post'],
  })) {
    for (const m of methods) t.ok(doc.paths[path]?.[m]?.responses, `${m.toUpperCase()} ${path}`);
  }
  t.ok(doc.paths['/v1/k8s/logs/config']?.['post']?.requestBody, 'request bodies are documented');
});

t.test('cluster-limited tokens see and change only their clusters', async (t) => {
  const betaOnly = await agg.createToken({ name: 'beta team', scopes: ['logs:write'], clusters: ['beta'] });
  const alphaBefore = (await call('GET', '/config?cluster=alpha', reader)).body;
  const list = await call('GET', '/config', betaOnly);
  t.equal(list.status, 200);
  t.same(
    list.body['configs'].map((c: { id: string }) => c.id),
    ['beta'],
  );
  t.equal((await call('GET', '/config?cluster=alpha', betaOnly)).status, 403);
  t.equal((await call('POST', '/config', betaOnly, { cluster: 'alpha', namespace: 'ops' })).status, 403);
  t.equal((await call('PUT', '/config?id=alpha', betaOnly, {})).status, 403);
  t.equal((await call('DELETE', '/config?id=alpha:payments', betaOnly)).status, 403);
  t.equal((await call('POST', '/config/disable/cluster', betaOnly, { cluster: 'alpha' })).status, 403);
  t.equal((await call('POST', '/config/disable', betaOnly, { cluster: 'alpha', namespace: 'shop' })).status, 403);
  const ns = await call('POST', '/config', betaOnly, { cluster: 'beta', namespace: 'ops' });
  t.equal(ns.status, 201, 'its own cluster, any namespace');
  t.same((await call('GET', '/config?cluster=alpha', reader)).body, alphaBefore, 'alpha unchanged');
});
