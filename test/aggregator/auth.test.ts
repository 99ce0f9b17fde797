import t from 'tap';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { getJson } from '../helpers/records.ts';

const agg = await startTestAggregator(t, { name: 'auth' });

async function call(method: string, path: string, token: string | undefined, body?: unknown) {
  const res = await fetch(`${agg.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

t.test('admins create, list and revoke tokens; secrets are shown once and stored hashed', async (t) => {
  const created = await call('POST', '/v1/k8s/logs/tokens', agg.adminToken, { name: 'ci reader', scopes: ['logs:read'], namespaces: ['shop'] });
  t.equal(created.status, 201);
  const secret = created.body['token'] as string;
  t.match(secret, /^k8sl_[A-Za-z0-9_-]{40,}$/);
  t.match(created.body, { name: 'ci reader', scopes: ['logs:read'], namespaces: ['shop'], clusters: null });
  const listed = await call('GET', '/v1/k8s/logs/tokens', agg.adminToken);
  t.equal(listed.status, 200);
  const mine = (listed.body['tokens'] as Array<Record<string, unknown>>).find((x) => x['id'] === created.body['id']);
  t.ok(mine, 'listed');
  t.notOk(JSON.stringify(listed.body).includes(secret), 'the secret never appears in a listing');
  const raw = await (await fetch(`${agg.opensearchUrl}/.${agg.prefix}-tokens/_search?size=100`)).text();
  t.notOk(raw.includes(secret), 'the store holds no plaintext secret');

  t.equal((await getJson(`${agg.url}/v1/k8s/logs/?limit=1`, secret)).status, 200, 'works before revocation');
  const revoked = await call('DELETE', `/v1/k8s/logs/tokens?id=${created.body['id']}`, agg.adminToken);
  t.equal(revoked.status, 204);
  // Revocation clears this replica's cache at once (others within the cache time).
  t.equal((await getJson(`${agg.url}/v1/k8s/logs/?limit=1`, secret)).status, 401, 'refused after revocation');
  t.equal((await call('DELETE', `/v1/k8s/logs/tokens?id=${created.body['id']}`, agg.adminToken)).status, 404, 'revoking twice is a 404');
});

t.test('401 without or with a bad token, 403 with a valid token lacking the scope', async (t) => {
  const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
  const cases: Array<[string, string, string | undefined, number, unknown?]> = [
    ['GET', '/v1/k8s/logs/', undefined, 401],
    ['GET', '/v1/k8s/logs/', 'k8sl_not-a-token', 401],
    ['GET', '/v1/k8s/logs/tokens', reader, 403],
    ['POST', '/v1/k8s/logs/tokens', reader, 403, { name: 'x', scopes: ['admin'] }],
    ['POST', '/v1/ingest', reader, 403],
  ];
  for (const [method, path, token, status, body] of cases) {
    const res = await call(method, path, token, body);
    t.equal(res.status, status, `${method} ${path} ${token ? 'with token' : 'without token'}`);
    t.equal(res.body['error']?.status, status);
    if (status === 401) t.match(res.headers.get('www-authenticate'), /^Bearer/);
  }
  const malformed = await fetch(`${agg.url}/v1/k8s/logs/`, { headers: { authorization: 'Basic abc' } });
  t.equal(malformed.status, 401);
});

t.test('expired tokens are refused; bad token requests are 400', async (t) => {
  const bad: unknown[] = [
    { name: 'x', scopes: [] },
    { name: 'x', scopes: ['root'] },
    { name: 'x', scopes: ['ingest'] },
    { name: 'x', scopes: ['ingest'], clusters: ['a', 'b'] },
    { name: 'x', scopes: ['logs:read'], clusters: ['Bad_Cluster'] },
    { name: 'x', scopes: ['logs:read'], expires_at: '2001-01-01T00:00:00Z' },
    { name: 'x', scopes: ['logs:read'], extra: true },
  ];
  for (const body of bad) {
    const res = await call('POST', '/v1/k8s/logs/tokens', agg.adminToken, body);
    t.equal(res.status, 400, JSON.stringify(body));
    t.equal(res.body['error']?.code, 'invalid_request');
  }
  const soon = await call('POST', '/v1/k8s/logs/tokens', agg.adminToken, { name: 'short', scopes: ['logs:read'], expires_at: new Date(Date.now() + 1500).toISOString() });
  t.equal(soon.status, 201);
  t.equal((await getJson(`${agg.url}/v1/k8s/logs/?limit=1`, soon.body['token'])).status, 200);
  const deadline = Date.now() + 15_000;
  let status = 200;
  while (status === 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    status = (await getJson(`${agg.url}/v1/k8s/logs/?limit=1`, soon.body['token'])).status;
  }
  t.equal(status, 401, 'refused once expired (within the verification cache time)');
});

t.test('rate limits answer 429 with X-RateLimit-* and Retry-After, per token', async (t) => {
  const agg = await startTestAggregator(t, { name: 'rate', rateLimit: { standardPerMinute: 5, heavyPerMinute: 2 } });
  const a = await agg.createToken({ name: 'a', scopes: ['logs:read'] });
  const b = await agg.createToken({ name: 'b', scopes: ['logs:read'] });
  const statuses: number[] = [];
  let last: Response | undefined;
  for (let i = 0; i < 6; i++) {
    last = await fetch(`${agg.url}/v1/k8s/logs/?limit=1`, { headers: { authorization: `Bearer ${a}` } });
    statuses.push(last.status);
    if (i === 0) {
      t.equal(last.headers.get('x-ratelimit-limit'), '5');
      t.equal(last.headers.get('x-ratelimit-remaining'), '4');
      t.ok(Number(last.headers.get('x-ratelimit-reset')) >= 1);
    }
  }
  // A window boundary could fall inside the loop; then the 6th is allowed again and we
  // cannot see a 429 this round. That is rare (the loop takes well under a second).
  t.same(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
  if (statuses[5] === 429 && last) {
    const body = (await last.json()) as Record<string, any>;
    t.equal(body['error'].code, 'rate_limited');
    t.ok(Number(last.headers.get('retry-after')) >= 1, 'Retry-After');
    t.equal(last.headers.get('x-ratelimit-remaining'), '0');
  } else {
    t.equal(statuses[5], 200, 'window rolled over');
  }
  const other = await fetch(`${agg.url}/v1/k8s/logs/?limit=1`, { headers: { authorization: `Bearer ${b}` } });
  t.equal(other.status, 200, 'another token has its own budget');
  const heavy: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${agg.url}/v1/k8s/logs/search`, { method: 'POST', headers: { authorization: `Bearer ${b}`, 'content-type': 'application/json' }, body: '{}' });
    heavy.push(r.status);
  }
  t.same(heavy.slice(0, 2), [200, 200], 'heavy class has its own, smaller budget');
  t.ok(heavy[2] === 429 || heavy[2] === 200);
});
