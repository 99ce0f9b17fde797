/**
 * Bad input anywhere under /v1/k8s/logs is a 4xx error envelope with a code, never a 5xx.
 *
 * The routes come from the app's own OpenAPI document, so a new GET or POST route is
 * covered without editing this file. Every case is sent to every route: as query
 * parameters to a GET, as a JSON body (raw text, so NaN and 1e309 arrive as written) to a
 * POST. A parameter a route does not take is an unknown parameter there, which is itself
 * a 400. The admin token is used so that no case is refused for lack of a scope.
 */
import t from 'tap';

type Test = { ok(value: unknown, message: string): void };
import { startTestAggregator } from '../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../helpers/records.ts';

const agg = await startTestAggregator(t, { name: 'badinput' });
const admin = agg.adminToken;
const api = `${agg.url}/v1/k8s/logs`;

// Three records so that a one-record page has a next_cursor.
const seedRes = await ingest(
  agg.url,
  await agg.ingestToken('alpha'),
  ndjson([1, 2, 3].map((i) => record({ cluster: 'alpha', namespace: 'shop', pod: `web-${i}` }))),
);
if (seedRes.status !== 200) throw new Error(`seed: ${seedRes.status}`);
await agg.refresh();

async function firstCursor(path: string, query: Record<string, string>): Promise<string> {
  const res = await fetch(`${api}${path}?${new URLSearchParams({ limit: '1', ...query })}`, {
    headers: { authorization: `Bearer ${admin}` },
  });
  const body = (await res.json()) as { next_cursor?: string | null };
  if (res.status !== 200 || !body.next_cursor)
    throw new Error(`no cursor from ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body.next_cursor;
}
/** A cursor of `GET /?namespace=shop`: foreign to every other query and route. */
const listCursor = await firstCursor('/', { namespace: 'shop' });
/** A discovery cursor: foreign to the log routes. */
const podsCursor = await firstCursor('/containers', { cluster: 'alpha' });
// Valid JSON in our shape, but a window no request could ask for.
const forged = Buffer.from(
  JSON.stringify([1, '2026-11-25T10:00:00.000000000Z', 'x', '0', '99999999999999999999999', 'q']),
).toString('base64url');

/** One bad input: query parameters (GET) and the same as raw JSON members (POST). */
interface Case {
  name: string;
  query: Record<string, string>;
  /** JSON members as raw text, e.g. `"limit": 1e309`; defaults to the query values as strings. */
  json?: string;
}

const cases: Case[] = [
  { name: 'unknown parameter', query: { bogus: '1' } },
  { name: 'limit NaN', query: { limit: 'NaN' }, json: '"limit": NaN' },
  { name: 'limit 1e309', query: { limit: '1e309' }, json: '"limit": 1e309' },
  { name: 'limit huge', query: { limit: '99999999999999999999' }, json: '"limit": 99999999999999999999' },
  { name: 'limit negative', query: { limit: '-1' }, json: '"limit": -1' },
  { name: 'limit not a number', query: { limit: 'abc' } },
  { name: 'start now-9999999999d', query: { start: 'now-9999999999d' } },
  { name: 'end 99999999999999999999', query: { end: '99999999999999999999' }, json: '"end": "99999999999999999999"' },
  { name: 'end as a huge JSON number', query: { end: '1e309' }, json: '"end": 1e309' },
  { name: 'start garbage', query: { start: 'yesterday' } },
  { name: 'start after end', query: { start: 'now', end: 'now-1h' } },
  { name: 'window over every class limit', query: { start: 'now-400d', end: 'now' } },
  { name: 'start very long', query: { start: `now-${'9'.repeat(5000)}d` } },
  { name: 'cursor garbage', query: { cursor: '!!!not-base64!!!' } },
  { name: 'cursor valid base64 of garbage', query: { cursor: Buffer.from('{"a":1}').toString('base64url') } },
  { name: 'cursor with a forged window', query: { cursor: forged } },
  { name: 'cursor from GET /?namespace=shop', query: { cursor: listCursor } },
  { name: 'cursor from /containers', query: { cursor: podsCursor } },
  { name: 'very long q', query: { q: 'x'.repeat(5000) }, json: `"query": "${'x'.repeat(5000)}"` },
  { name: 'invalid label selector', query: { labels: 'app in (' } },
  { name: 'invalid regex', query: { regex: '(' } },
  { name: 'direction unknown', query: { direction: 'sideways' } },
  { name: 'level unknown', query: { level: 'loud' }, json: '"levels": ["loud"]' },
];

interface Route {
  method: 'GET' | 'POST';
  path: string;
}

const spec = agg.app.swagger() as { paths: Record<string, Record<string, unknown>> };
const routes: Route[] = [];
for (const [path, ops] of Object.entries(spec.paths)) {
  if (!path.startsWith('/v1/k8s/logs')) continue;
  for (const method of Object.keys(ops)) {
    const m = method.toUpperCase();
    if (m === 'GET' || m === 'POST') routes.push({ method: m, path });
  }
}

t.test('the routes come from the OpenAPI document', async (t) => {
  const names = routes.map((r) => `${r.method} ${r.path}`);
  for (const expected of [
    'GET /v1/k8s/logs/',
    'POST /v1/k8s/logs/search',
    'GET /v1/k8s/logs/pods',
    'POST /v1/k8s/logs/tokens',
  ]) {
    t.ok(names.includes(expected), `${expected} is covered`);
  }
});

function send(route: Route, c: Case, headers: Record<string, string> = {}) {
  const auth = { authorization: `Bearer ${admin}`, ...headers };
  if (route.method === 'GET') {
    return fetch(`${agg.url}${route.path}?${new URLSearchParams(c.query)}`, { headers: auth });
  }
  const members =
    c.json ??
    Object.entries(c.query)
      .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
      .join(', ');
  return fetch(`${agg.url}${route.path}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: `{${members}}`,
  });
}

/** 4xx that says the input was refused; 401/403/404/405 would mean the case never reached validation. */
async function assertRefused(t: Test, res: Response, what: string) {
  const text = await res.text();
  let body: { error?: { status?: number; code?: unknown }; request_id?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // asserted below
  }
  const ok = res.status >= 400 && res.status < 500 && ![401, 403, 404, 405].includes(res.status);
  t.ok(ok, `${what}: 4xx, got ${res.status} ${text.slice(0, 200)}`);
  t.ok(
    body.error?.status === res.status && typeof body.error.code === 'string' && typeof body.request_id === 'string',
    `${what}: error envelope with a code`,
  );
}

for (const route of routes) {
  t.test(`${route.method} ${route.path} refuses bad input with a 4xx envelope`, async (t) => {
    for (const c of cases) await assertRefused(t, await send(route, c), c.name);
  });
}

t.test('a cursor is refused with invalid_cursor when it belongs to another query', async (t) => {
  for (const [path, query] of [
    ['/', { namespace: 'other', cursor: listCursor }],
    ['/', { cursor: podsCursor }],
    ['/pods', { cursor: podsCursor }],
  ] as const) {
    const res = await fetch(`${api}${path}?${new URLSearchParams(query)}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const body = (await res.json()) as { error: { code: string } };
    t.equal(res.status, 400, `${path} ${Object.keys(query).join(',')}`);
    t.equal(body.error.code, 'invalid_cursor');
  }
  const same = await fetch(`${api}/?${new URLSearchParams({ namespace: 'shop', limit: '1', cursor: listCursor })}`, {
    headers: { authorization: `Bearer ${admin}` },
  });
  t.equal(same.status, 200, 'the same query continues with it');
});

t.test('an unknown parameter is named in the message', async (t) => {
  const res = await fetch(`${api}/?mystery_param=1`, { headers: { authorization: `Bearer ${admin}` } });
  const body = (await res.json()) as { error: { code: string; message: string } };
  t.equal(res.status, 400);
  t.match(body.error.message, /mystery_param/);
});

t.test('a time window over the class limit is a 400 that names the limit', async (t) => {
  const standard = await fetch(`${api}/?start=now-40d`, { headers: { authorization: `Bearer ${admin}` } });
  const sb = (await standard.json()) as { error: { code: string; message: string } };
  t.equal(standard.status, 400);
  t.equal(sb.error.code, 'window_too_large');
  t.match(sb.error.message, /744 h/, 'standard limit (31 d) named');
  const inWindow = await fetch(`${api}/?start=now-20d`, { headers: { authorization: `Bearer ${admin}` } });
  t.equal(inWindow.status, 200, '20 d is within the standard limit');
  const heavy = await fetch(`${api}/?start=now-20d&q=x`, { headers: { authorization: `Bearer ${admin}` } });
  const hb = (await heavy.json()) as { error: { code: string; message: string } };
  t.equal(heavy.status, 400, 'GET / with q is heavy: 20 d is over its limit');
  t.match(hb.error.message, /heavy request limit of 168 h/);
});

t.test('a JSON body over the non-ingest limit is a 413 envelope', async (t) => {
  const res = await fetch(`${api}/search`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'x', pad: 'y'.repeat(2 << 20) }),
  });
  const body = (await res.json()) as { error: { code: string } };
  t.equal(res.status, 413);
  t.equal(body.error.code, 'payload_too_large');
});

t.test('X-Request-Id is kept only when short and printable', async (t) => {
  const get = (id: string) => fetch(`${agg.url}/healthz`, { headers: { 'x-request-id': id } });
  const good = 'req-42_abc.DEF:9';
  t.equal((await get(good)).headers.get('x-request-id'), good, 'a short printable id is echoed');
  const long = 'a'.repeat(129);
  const spaced = 'has space';
  const tab = 'tab\there';
  for (const bad of [long, spaced, tab]) {
    const echoed = (await get(bad)).headers.get('x-request-id');
    t.not(echoed, bad, `${JSON.stringify(bad.slice(0, 20))} is replaced`);
    t.match(echoed ?? '', /^[0-9a-f-]{36}$/, '… by a generated one');
  }
  t.equal((await get('a'.repeat(128))).headers.get('x-request-id'), 'a'.repeat(128), '128 characters are kept');
});
