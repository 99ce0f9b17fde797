import t from 'tap';
import { randomBytes } from 'node:crypto';
import { errors } from '@opensearch-project/opensearch';
import { Registry } from 'prom-client';
import { buildApp } from '../../aggregator/app.ts';
import { configWith, type AggregatorConfig } from '../../aggregator/config.ts';
import { TokenCache } from '../../aggregator/auth/token-cache.ts';
import type { Principal } from '../../aggregator/auth/scopes.ts';
import { createOpenSearchClient } from '../../aggregator/store/opensearch.ts';
import { createMetrics, type AggregatorMetrics } from '../../aggregator/telemetry/metrics.ts';
import { openSearchUrl, uniquePrefix } from '../helpers/services.ts';

const opensearchUrl = await openSearchUrl(t);

function principal(name: string): Principal {
  return { tokenId: name, name, scopes: ['logs:read'], clusters: null, namespaces: null };
}

t.test('token cache: refusals never evict valid tokens; both kinds are bounded', async (t) => {
  const c = new TokenCache({ positiveTtlMs: 10_000, negativeTtlMs: 2_000, maxEntries: 100 });
  for (let i = 0; i < 50; i++) c.set(`valid-${i}`, principal(`p${i}`), 0);
  for (let i = 0; i < 10_000; i++) c.set(`bogus-${i}`, null, 1);
  t.same(c.size, { positive: 50, negative: 100 }, 'negatives bounded, positives untouched');
  for (let i = 0; i < 50; i++) if (c.get(`valid-${i}`, 2)?.tokenId !== `p${i}`) t.fail(`valid-${i} lost`);
  t.equal(c.get('bogus-9999', 2), null, 'the newest refusal is cached');
  t.equal(c.get('bogus-0', 2), undefined, 'the oldest refusals were evicted');
  for (let i = 0; i < 200; i++) c.set(`more-valid-${i}`, principal('x'), 3);
  t.equal(c.size.positive, 100, 'positives bounded too');
});

t.test('token cache: TTLs, LRU order, and a verdict replacing the other kind', async (t) => {
  const c = new TokenCache({ positiveTtlMs: 10_000, negativeTtlMs: 2_000, maxEntries: 2 });
  c.set('a', principal('a'), 0);
  c.set('b', principal('b'), 0);
  t.ok(c.get('a', 1), 'a used: b is now the oldest');
  c.set('c', principal('c'), 1);
  t.equal(c.get('b', 2), undefined, 'b evicted');
  t.ok(c.get('a', 2));
  t.equal(c.get('a', 10_000), undefined, 'positive expires after its TTL');
  c.set('x', null, 0);
  t.equal(c.get('x', 1_999), null);
  t.equal(c.get('x', 2_000), undefined, 'negative expires after its (shorter) TTL');
  c.set('x', null, 0);
  c.set('x', principal('x'), 1);
  t.equal(c.get('x', 2)?.tokenId, 'x', 'a new valid verdict replaces a refusal');
  c.delete('x');
  t.equal(c.get('x', 3), undefined);
});

interface Started {
  url: string;
  metrics: AggregatorMetrics;
  close: () => Promise<void>;
  request: (token: string, path?: string) => Promise<{ status: number; headers: Headers; body: any }>;
}

async function start(
  prefix: string,
  adminToken: string,
  auth: Partial<AggregatorConfig['auth']> = {},
  setup: (client: ReturnType<typeof createOpenSearchClient>) => void = () => {},
): Promise<Started & { client: ReturnType<typeof createOpenSearchClient> }> {
  const base = configWith({
    opensearchUrl,
    adminToken,
    indexPrefix: prefix,
    rateLimit: { standardPerMinute: 0, heavyPerMinute: 0 },
  });
  const config: AggregatorConfig = { ...base, auth: { ...base.auth, ...auth } };
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const client = createOpenSearchClient(config.opensearch);
  setup(client);
  const app = await buildApp(config, { metrics, opensearch: client });
  await app.prepareStore();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    metrics,
    client,
    close: () => app.close(),
    request: async (token, path = '/v1/k8s/logs/tokens') => {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
    },
  };
}

function cleanup(t: { teardown(fn: () => unknown): void }, prefix: string) {
  t.teardown(() =>
    fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {}),
  );
}

async function lookups(m: AggregatorMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = { valid: 0, refused: 0, error: 0 };
  for (const v of (await m.tokenLookups.get()).values) out[String(v.labels['result'])] = v.value;
  return out;
}

t.test(
  'a flood of bogus tokens costs one lookup each, evicts no valid token, and a repeated one is looked up once',
  async (t) => {
    const prefix = uniquePrefix('authflood');
    cleanup(t, prefix);
    const admin = `admin-${randomBytes(16).toString('hex')}`;
    // Long TTLs: what is measured is eviction, not expiry, however slow the machine is.
    const agg = await start(prefix, admin, {
      tokenCacheMs: 600_000,
      tokenNegativeCacheMs: 600_000,
      tokenCacheMaxEntries: 100,
    });
    t.teardown(agg.close);

    t.equal((await agg.request(admin)).status, 200, 'admin token works');
    t.same(await lookups(agg.metrics), { valid: 1, refused: 0, error: 0 });

    // Ten times the cache bound of distinct bogus tokens, 20 at a time.
    const bogus = Array.from({ length: 1000 }, (_, i) => `k8sl_bogus-${i}-${randomBytes(8).toString('hex')}`);
    const statuses = new Map<number, number>();
    for (let i = 0; i < bogus.length; i += 20) {
      const batch = await Promise.all(bogus.slice(i, i + 20).map((b) => agg.request(b)));
      for (const r of batch) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    t.same([...statuses], [[401, 1000]], 'every bogus token is refused');
    t.same(await lookups(agg.metrics), { valid: 1, refused: 1000, error: 0 }, 'one lookup per distinct bogus token');

    t.equal((await agg.request(admin)).status, 200, 'the valid token still works after the flood');
    t.equal((await lookups(agg.metrics)).valid, 1, '... without a store lookup');

    const same = `k8sl_repeated-${randomBytes(8).toString('hex')}`;
    const repeated = await Promise.all(Array.from({ length: 50 }, () => agg.request(same)));
    t.ok(repeated.every((r) => r.status === 401));
    for (let i = 0; i < 50; i++) t.equal((await agg.request(same)).status, 401);
    t.equal(
      (await lookups(agg.metrics)).refused,
      1001,
      'a bogus token repeated 100 times (50 at once) is looked up once',
    );
  },
);

t.test('the store failing during authentication answers 503 + Retry-After, not 500 or 401', async (t) => {
  const prefix = uniquePrefix('authdown');
  cleanup(t, prefix);
  const admin = `admin-${randomBytes(16).toString('hex')}`;
  let failure: Error | undefined;
  const agg = await start(prefix, admin, {}, (client) => {
    // The injected failing store: `get` (token verification) fails while `failure` is set.
    const get = client.get.bind(client);
    (client as { get: unknown }).get = (...args: Parameters<typeof get>) => {
      if (failure !== undefined) return Promise.reject(failure);
      return get(...args);
    };
  });
  t.teardown(agg.close);
  t.equal((await agg.request(admin)).status, 200, 'admin token verified (and cached) while the store is up');

  const cases: Array<[string, Error, number]> = [
    ['connection refused', new errors.ConnectionError('connect ECONNREFUSED'), 503],
    ['no living connections', new errors.NoLivingConnectionsError('none', {} as never), 503],
    ['timeout', new errors.TimeoutError('timed out', {} as never), 503],
    [
      'store 500',
      new errors.ResponseError({
        body: { error: { type: 'x' } },
        statusCode: 500,
        headers: {},
        warnings: null,
        meta: {} as never,
      }),
      503,
    ],
    [
      'store 503',
      new errors.ResponseError({ body: {}, statusCode: 503, headers: {}, warnings: null, meta: {} as never }),
      503,
    ],
    [
      'store busy',
      new errors.ResponseError({ body: {}, statusCode: 429, headers: {}, warnings: null, meta: {} as never }),
      429,
    ],
  ];
  for (const [name, err, status] of cases) {
    failure = err;
    const res = await agg.request(`k8sl_unseen-${randomBytes(8).toString('hex')}`, '/v1/k8s/logs/?limit=1');
    t.equal(res.status, status, `${name}: ${status}`);
    t.ok(Number(res.headers.get('retry-after')) > 0, `${name}: Retry-After`);
    t.equal(res.body.error?.status, status, `${name}: error envelope`);
    t.equal(res.body.error?.code, status === 503 ? 'store_unavailable' : 'store_busy');
    t.notMatch(JSON.stringify(res.body), /ECONNREFUSED|timed out/, `${name}: no store text in the body`);
  }
  t.equal((await agg.request(admin)).status, 200, 'a cached valid token keeps working while the store is down');
  t.equal((await lookups(agg.metrics)).error, cases.length, 'failed lookups are counted, and not cached as refusals');
  failure = undefined;
});

t.test('rotating the configured admin token revokes the old one', async (t) => {
  const prefix = uniquePrefix('authrot');
  cleanup(t, prefix);
  const a = `admin-a-${randomBytes(16).toString('hex')}`;
  const b = `admin-b-${randomBytes(16).toString('hex')}`;
  const first = await start(prefix, a);
  t.equal((await first.request(a)).status, 200, 'A works');
  const created = await fetch(`${first.url}/v1/k8s/logs/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${a}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'reader', scopes: ['logs:read'] }),
  });
  t.equal(created.status, 201);
  const reader = ((await created.json()) as { token: string }).token;
  await first.close();

  const second = await start(prefix, b);
  t.teardown(second.close);
  t.equal((await second.request(b)).status, 200, 'B works');
  t.equal((await second.request(a)).status, 401, 'A is refused after the rotation');
  t.equal(
    (await second.request(reader, '/v1/k8s/logs/?limit=1')).status,
    200,
    'tokens made through the API survive it',
  );
  const listed = (await second.request(b)).body.tokens as Array<{ id: string }>;
  t.equal(listed.filter((x) => x.id === 'bootstrap-admin').length, 1, 'one live bootstrap admin token is listed');

  // Restarting with the same token keeps it.
  await second.close();
  const third = await start(prefix, b);
  t.teardown(third.close);
  t.equal((await third.request(b)).status, 200, 'B still works after a restart with B');
  t.equal((await third.request(a)).status, 401);
});
