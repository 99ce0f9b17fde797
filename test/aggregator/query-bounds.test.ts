/**
 * Request bounds of the retrieval routes: store timeouts and cancellation, the cap on
 * open points in time (exports), and the request classes behind them.
 *
 * The timeout and client-close paths are driven through an injected seam (a client whose
 * `search` hangs until aborted), so they do not depend on how fast the shared store is;
 * one test against the real OpenSearch shows that aborting a client call really cancels
 * the search task there (tasks API, filtered by our X-Opaque-Id).
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { openSearchUrl, uniquePrefix } from '../helpers/services.ts';
import { ingest, ndjson, record } from '../helpers/records.ts';
import { createOpenSearchClient, type OpenSearch } from '../../aggregator/store/opensearch.ts';
import { configWith } from '../../aggregator/config.ts';
import { LogSearch } from '../../aggregator/query/log-search.ts';
import { PitGate } from '../../aggregator/query/pit-gate.ts';
import { withDeadline } from '../../aggregator/query/query-budget.ts';
import { AppError } from '../../aggregator/errors.ts';

import { waitFor } from '../helpers/wait-for.ts';
import type { LogQuery } from '../../aggregator/query/log-query.ts';

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000) {
  await waitFor(cond, { what, timeoutMs: ms, intervalMs: 25 });
}

/**
 * The real client, except that `search` of the log indices hangs until aborted, counting
 * calls and aborts. Searches of the system indices (the job runner's claim listing, the
 * repositories' lists: names start with a dot) go to the real store: they are not what the
 * tests measure, and their arrival order relative to the route's search is the scheduler's.
 */
function hangingSearch(real: OpenSearch) {
  const seen = {
    searches: 0,
    aborts: 0,
    requestTimeouts: [] as Array<number | undefined>,
    params: [] as Array<Record<string, unknown>>,
  };
  const search = (params: Record<string, unknown>, options?: { requestTimeout?: number }) => {
    const index = String(params['index'] ?? '');
    if (index.startsWith('.')) return (real.search as (p: unknown, o?: unknown) => unknown)(params, options);
    seen.searches++;
    seen.params.push(params);
    seen.requestTimeouts.push(options?.requestTimeout);
    let reject: (err: Error) => void = () => {};
    const p = new Promise<never>((_, r) => (reject = r));
    p.catch(() => {});
    return Object.assign(p, {
      abort() {
        seen.aborts++;
        reject(new Error('aborted'));
      },
    });
  };
  const client = new Proxy(real, {
    get: (target, key, recv) => (key === 'search' ? search : Reflect.get(target, key, recv)),
  });
  return { client, seen };
}

const opensearchUrl = await openSearchUrl(t);

t.test('a search past its class timeout is aborted and answered 504 query_timeout', async (t) => {
  const real = createOpenSearchClient(configWith({ opensearchUrl }).opensearch);
  t.teardown(() => real.close());
  const { client, seen } = hangingSearch(real);
  const agg = await startTestAggregator(t, {
    name: 'qtimeout',
    deps: { opensearch: client },
    query: { standardTimeoutMs: 200, heavyTimeoutMs: 300 },
  });
  const reader = await agg.createToken({ name: 'r', scopes: ['logs:read'] });
  const auth = { authorization: `Bearer ${reader}` };

  const heavy = await fetch(`${agg.url}/v1/k8s/logs/?q=boom`, { headers: auth });
  const body = (await heavy.json()) as { error: { code: string; message: string } };
  t.equal(heavy.status, 504);
  t.equal(body.error.code, 'query_timeout');
  t.match(body.error.message, /300 ms/, 'GET / with q runs under the heavy timeout');
  t.equal(seen.aborts, 1, 'the store call was aborted');
  t.equal(seen.params[0]?.['cancel_after_time_interval'], '2300ms', 'the store has its own backstop');
  t.ok((seen.requestTimeouts[0] ?? 0) > 300, 'the transport timeout never answers first');

  const standard = await fetch(`${agg.url}/v1/k8s/logs/`, { headers: auth });
  t.equal(standard.status, 504);
  t.match(
    ((await standard.json()) as { error: { message: string } }).error.message,
    /200 ms/,
    'plain GET / is standard',
  );

  const search = await fetch(`${agg.url}/v1/k8s/logs/search`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: '{}',
  });
  t.equal(search.status, 504);
  const pods = await fetch(`${agg.url}/v1/k8s/logs/pods`, { headers: auth });
  t.equal(pods.status, 504, 'discovery searches are bounded too');
  t.equal(seen.aborts, 4);
});

t.test('a client that goes away aborts its store search', async (t) => {
  const real = createOpenSearchClient(configWith({ opensearchUrl }).opensearch);
  t.teardown(() => real.close());
  const { client, seen } = hangingSearch(real);
  const agg = await startTestAggregator(t, {
    name: 'qclose',
    deps: { opensearch: client },
    query: { standardTimeoutMs: 600_000, heavyTimeoutMs: 600_000 },
  });
  const reader = await agg.createToken({ name: 'r', scopes: ['logs:read'] });
  for (const [what, init] of [
    ['GET /', { url: `${agg.url}/v1/k8s/logs/` }],
    ['POST /search', { url: `${agg.url}/v1/k8s/logs/search`, method: 'POST', body: '{"query":"x"}' }],
  ] as const) {
    const before = { searches: seen.searches, aborts: seen.aborts };
    const ac = new AbortController();
    // Its own connection pool, destroyed afterwards: on abort the shared pool may open a
    // spare connection that never sends a request, which the server's close then waits
    // out (Node's headers timeout, ~70 s) — not what this test is about.
    const dispatcher = new Agent();
    t.teardown(() => dispatcher.destroy());
    const pending = undiciFetch(init.url, {
      method: 'method' in init ? init.method : 'GET',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
      ...('body' in init ? { body: init.body } : {}),
      signal: ac.signal,
      dispatcher,
    }).catch(() => 'aborted');
    await until(`${what}: the search to start`, () => seen.searches > before.searches);
    t.equal(seen.aborts, before.aborts, `${what}: not aborted while the client waits`);
    ac.abort();
    t.equal(await pending, 'aborted');
    await until(`${what}: the store call to be aborted`, () => seen.aborts > before.aborts);
    t.pass(`${what}: aborted when the client left`);
  }
});

t.test('aborting a client call cancels the search task in OpenSearch', async (t) => {
  const client = createOpenSearchClient(configWith({ opensearchUrl }).opensearch);
  t.teardown(() => client.close());
  const index = `${uniquePrefix('qcancel')}-slow`;
  t.teardown(() => fetch(`${opensearchUrl}/${index}`, { method: 'DELETE' }).catch(() => {}));
  let bulk = '';
  for (let i = 0; i < 2000; i++) bulk += `{"index":{}}\n{"n":${i}}\n`;
  const res = await fetch(`${opensearchUrl}/${index}/_bulk?refresh=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: bulk,
  });
  t.equal(res.status, 200);
  const opaqueId = `qg-${randomBytes(6).toString('hex')}`;
  const ours = async () => {
    const r = await fetch(`${opensearchUrl}/_tasks?actions=*search*&detailed=true`);
    const body = (await r.json()) as {
      nodes?: Record<string, { tasks: Record<string, { headers?: Record<string, string> }> }>;
    };
    return Object.values(body.nodes ?? {})
      .flatMap((n) => Object.values(n.tasks))
      .filter((task) => task.headers?.['X-Opaque-Id'] === opaqueId).length;
  };
  // A painless loop per document: minutes of work, far longer than the test waits.
  const slow = {
    query: {
      bool: {
        filter: {
          script: { script: { source: 'long x = 0; for (int i = 0; i < 900000; i++) { x += i; } return x > 0;' } },
        },
      },
    },
  };
  const signal = new AbortController();
  const call = withDeadline(
    { signal: signal.signal, timeoutMs: 600_000 },
    'test',
    client.search({ index, body: slow, request_cache: false }, { opaqueId, requestTimeout: 600_000 }),
  );
  call.catch(() => {});
  await until('the search task to run in OpenSearch', async () => (await ours()) > 0, 30_000);
  signal.abort();
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof AppError && err.code === 'client_closed_request', 'the caller is told the client left');
  await until('no search task of ours left in OpenSearch', async () => (await ours()) === 0, 30_000);
  t.pass('OpenSearch cancelled the search when the HTTP request was aborted');
});

t.test('open points in time are capped per replica; a slot is freed at the end and on abandon', async (t) => {
  const agg = await startTestAggregator(t, { name: 'qpits', query: { maxOpenPits: 1 } });
  const reader = await agg.createToken({ name: 'r', scopes: ['logs:read'] });
  const seed = [1, 2, 3].map((i) => record({ cluster: 'alpha', message: `pit line ${i}` }));
  t.equal((await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(seed))).status, 200);
  await agg.refresh();

  // Two concurrent exports through the store: the first holds the point in time (it is
  // suspended between pages), the second is refused before it opens one.
  const search = new LogSearch(agg.app.services.opensearch, agg.prefix, new PitGate(1));
  const q: LogQuery = {
    scope: { clusters: null, namespaces: null },
    startNs: 0n,
    endNs: BigInt(Date.now() + 60_000) * 1_000_000n,
    direction: 'forward',
    limit: 100,
  };
  const first = search.exportNdjson(q, { pageSize: 1 });
  const page = await first.next();
  t.equal(page.done, false, 'the first export is under way');
  const second = await search
    .exportNdjson(q, { pageSize: 1 })
    .next()
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  t.ok(
    second instanceof AppError && second.status === 429 && second.code === 'too_many_exports',
    'the second is 429 too_many_exports',
  );
  t.ok(second instanceof AppError && (second.retryAfterSeconds ?? 0) > 0, '… with Retry-After');
  await first.return(undefined); // the consumer stops early: the slot and the PIT are released
  const third = search.exportNdjson(q, { pageSize: 100 });
  let lines = 0;
  for await (const chunk of third) lines += chunk.split('\n').filter(Boolean).length;
  t.equal(lines, 3, 'after the first was abandoned, a new export runs to the end');
  const fourth = await search.exportNdjson(q, {}).next();
  t.equal(fourth.done, false, 'and its slot was freed at the end');

  // Over HTTP: the replica's gate is full → 429 envelope with Retry-After.
  const held = agg.app.services.pits.tryAcquire();
  t.ok(held, 'the test holds the only slot');
  const refused = await fetch(`${agg.url}/v1/k8s/logs/?start=now-1h`, {
    headers: { authorization: `Bearer ${reader}`, accept: 'application/x-ndjson' },
  });
  const body = (await refused.json()) as { error: { code: string } };
  t.equal(refused.status, 429);
  t.equal(body.error.code, 'too_many_exports');
  t.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After is set');
  held?.();
  const ok = await fetch(`${agg.url}/v1/k8s/logs/?start=now-1h`, {
    headers: { authorization: `Bearer ${reader}`, accept: 'application/x-ndjson' },
  });
  t.equal(ok.status, 200);
  t.equal((await ok.text()).split('\n').filter(Boolean).length, 3);
  t.equal(agg.app.services.pits.open, 0, 'the export released its slot');
});

t.test('GET / with q, exports and discovery are in the heavy rate class', async (t) => {
  const agg = await startTestAggregator(t, {
    name: 'qclass',
    rateLimit: { standardPerMinute: 1000, heavyPerMinute: 3 },
  });
  const reader = await agg.createToken({ name: 'r', scopes: ['logs:read'] });
  const limitOf = async (path: string, headers: Record<string, string> = {}) =>
    (
      await fetch(`${agg.url}/v1/k8s/logs${path}`, { headers: { authorization: `Bearer ${reader}`, ...headers } })
    ).headers.get('x-ratelimit-limit');
  t.equal(await limitOf('/'), '1000', 'plain GET / is standard');
  t.equal(await limitOf('/?q=x'), '3', 'GET / with q is heavy');
  t.equal(await limitOf('/', { accept: 'application/x-ndjson' }), '3', 'an export is heavy');
  t.equal(await limitOf('/namespaces'), '3', 'discovery is heavy');
});
