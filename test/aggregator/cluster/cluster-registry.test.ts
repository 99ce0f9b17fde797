// The registry's periodic sync against writes made meanwhile, on the real aggregator and the
// shared OpenSearch behind a proxy that holds the sync's scan of the `clusters` index: the
// interleaving "a cluster is registered while a sync is reading the registrations" is a
// state this test creates, not a race it hopes to win.
import t from 'tap';
import { buildApp } from '../../../aggregator/app.ts';
import { loadConfig } from '../../../aggregator/config.ts';
import { openSearchUrl, uniquePrefix } from '../../helpers/services.ts';
import { StoreProxy } from '../../helpers/store-proxy.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const opensearchUrl = await openSearchUrl(t);
const proxy = await StoreProxy.start(opensearchUrl);
t.teardown(() => proxy.close());
const prefix = uniquePrefix('registry');
const adminToken = 'registry-test-admin-token';
const app = await buildApp({
  ...loadConfig([], {
    OPENSEARCH_URL: proxy.url,
    K8S_LOGS_INDEX_PREFIX: prefix,
    K8S_LOGS_ADMIN_TOKEN: adminToken,
    K8S_LOGS_LOG_LEVEL: 'silent',
    K8S_LOGS_RATE_LIMIT_STANDARD: '0',
    K8S_LOGS_RATE_LIMIT_HEAVY: '0',
    K8S_LOGS_KUBE_TIMEOUT_MS: '500',
    // Only the syncs this test starts (POST /clusters/refresh), after the one at start.
    K8S_LOGS_CLUSTER_SYNC_INTERVAL_MS: '3600000',
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
const api = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/k8s/logs`;

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, any> };
}

/** Nothing listens on port 1: the connection exists and its probe reports it unreachable. */
const unreachable = { server: 'https://127.0.0.1:1', insecure_skip_tls_verify: true };
const clustersSearch = `/.${prefix}-clusters/_search`;

// The registry's own sync at start retries every second until the store answers, then
// waits an hour: once one of its scans succeeded, every later sync is one this test starts.
await waitFor(() => proxy.exchanges.some((e) => e.path.startsWith(clustersSearch) && e.status === 200), {
  what: "the registry's first sync",
  timeoutMs: 30_000,
});

// 501 registrations without a connection, written straight into the store: a sync scans
// them in two pages (500 + 1), and the test holds the second page's request. By then the
// first page has been read, so a cluster sorting before it ("a-…") that is registered while
// the second page is held is one that sync cannot see.
const filler = Array.from({ length: 501 }, (_, i) => `c-${String(i).padStart(3, '0')}`);
const now = new Date().toISOString();
const bulk = await fetch(`${opensearchUrl}/.${prefix}-clusters/_bulk?refresh=true`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-ndjson' },
  body:
    filler
      .flatMap((id) => [
        JSON.stringify({ create: { _id: id } }),
        JSON.stringify({ id, name: id, labels: {}, api: null, credentials: null, created_at: now, updated_at: now }),
      ])
      .join('\n') + '\n',
});
if (((await bulk.json()) as { errors: boolean }).errors) throw new Error('seeding the registrations failed');

t.test('a cluster registered while a sync reads the registrations keeps its connection', async (t) => {
  const secondPage = proxy.hold(
    (method, path, body) => method === 'POST' && path.startsWith(clustersSearch) && body.includes('search_after'),
  );
  t.teardown(() => secondPage.release());
  const refresh = call('POST', '/clusters/refresh');
  await secondPage.reached;
  const created = call('POST', '/clusters/configs', { id: 'a-late', name: 'registered mid-sync', api: unreachable });
  // Stored (and searchable: refresh=wait_for) while the sync waits for its second page.
  await waitFor(
    () => proxy.exchanges.some((e) => e.method === 'PUT' && e.path.startsWith(`/.${prefix}-clusters/_doc/a-late`)),
    {
      what: 'the registration stored',
      timeoutMs: 20_000,
      intervalMs: 20,
    },
  );
  secondPage.release();
  const synced = await refresh;
  t.equal(synced.status, 200);
  t.notOk(
    synced.body['results'].some((r: { id: string }) => r.id === 'a-late'),
    'the sync neither saw it (its page was read before) nor stopped it',
  );
  const res = await created;
  t.equal(res.status, 201, JSON.stringify(res.body));
  const st = await call('GET', '/clusters/status?id=a-late');
  t.equal(st.status, 200);
  t.match(
    st.body['clusters'][0].api,
    { state: 'unreachable', reachable: false },
    'the sync that could not see it did not stop its connection',
  );
});

t.test('a sync still stops the connection of a registration deleted on another replica', async (t) => {
  // Deleted behind this replica's back: straight in the store, as another replica would.
  const del = await fetch(`${opensearchUrl}/.${prefix}-clusters/_doc/a-late?refresh=true`, { method: 'DELETE' });
  t.equal(del.status, 200);
  const refresh = await call('POST', '/clusters/refresh');
  t.same(
    refresh.body['results'].filter((r: { id: string }) => !filler.includes(r.id)),
    [{ id: 'a-late', action: 'removed', api: null }],
  );
  t.equal((await call('GET', '/clusters/status?id=a-late')).status, 404);
});
