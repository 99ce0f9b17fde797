/**
 * The Loki API's access rules and errors on a real aggregator and OpenSearch:
 * - a namespace-restricted token sees only its namespace through every Loki route
 *   (queries, labels, label values, series, index stats and volumes, detected labels,
 *   detected fields, tail backfill), whatever its selector names;
 * - a token without `logs:read` is refused (403); X-Scope-OrgID changes nothing;
 * - bad parameters and LogQL parse errors are Loki-shaped: 400, text/plain, Loki's words;
 * - a query past the engine's memory bounds is 400 with Loki's text on the Loki API (as
 *   Loki answers its limits) and 422 `query_limit_exceeded` on POST /search/logql;
 * - POST /search/logql's sample times are whole ms (no float noise).
 */
import t from 'tap';
import { WebSocket } from 'undici';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import type { LogRecord } from '../../../shared/record.ts';

const agg = await startTestAggregator(t, { name: 'lokiscope' });
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
const shopOnly = await agg.createToken({ name: 'shop', scopes: ['logs:read'], namespaces: ['shop'] });
// An agent's token reads nothing.
const agentToken = await agg.ingestToken('alpha');

const base = Date.parse('2026-11-25T10:00:00Z');
const seed: LogRecord[] = [];
for (let i = 0; i < 30; i++) {
  const ns = ['shop', 'payments', 'secret'][i % 3]!;
  seed.push(
    record({
      cluster: 'alpha',
      namespace: ns,
      pod: `${ns}-pod`,
      container: 'main',
      timestamp: new Date(base + i * 1000).toISOString().replace('Z', '000000Z'),
      message: `ns=${ns} status=200 i=${i}`,
      labels: { app: ns },
    }),
  );
}
// 600 distinct lines: a regexp extraction makes 600 series, past the engine's 500.
for (let i = 0; i < 600; i++) {
  seed.push(
    record({
      cluster: 'alpha',
      namespace: 'bulk',
      pod: 'bulk-pod',
      container: 'main',
      timestamp: new Date(base + 40_000 + i).toISOString().replace('Z', '000000Z'),
      message: `distinct line ${i}`,
    }),
  );
}
const seeded = await ingest(agg.url, agentToken, ndjson(seed));
if (seeded.status !== 200) throw new Error(`seed ingest failed: ${seeded.status}`);
await agg.refresh();

const START = String(BigInt(base - 60_000) * 1_000_000n);
const END = String(BigInt(base + 120_000) * 1_000_000n);

async function loki(path: string, params: Record<string, string | string[]>, token = reader) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
  const r = await fetch(`${agg.url}/loki/api/v1${path}?${qs}`, {
    headers: { authorization: `Bearer ${token}`, 'x-scope-orgid': 'someone-else' },
  });
  const text = await r.text();
  return { status: r.status, type: r.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) as any };
}

/** Every namespace value in a response body, wherever it appears. */
function namespacesIn(text: string): string[] {
  return [...new Set([...text.matchAll(/"namespace":"([^"]+)"|ns=(\w+)/g)].map((m) => m[1] ?? m[2]!))].sort();
}

t.test('a namespace-restricted token sees only its namespace through every Loki route', async (t) => {
  const everything = '{namespace=~".+"}';
  const calls: Array<[string, Record<string, string | string[]>]> = [
    ['/query_range', { query: everything, start: START, end: END, limit: '1000' }],
    ['/query_range', { query: '{namespace="secret"}', start: START, end: END }],
    [
      '/query_range',
      { query: `sum by (namespace) (count_over_time(${everything}[5m]))`, start: START, end: END, step: '60' },
    ],
    ['/query', { query: `sum by (namespace) (count_over_time(${everything}[5m]))`, time: END }],
    ['/series', { 'match[]': everything, start: START, end: END }],
    ['/index/volume', { query: everything, start: START, end: END }],
    ['/index/volume_range', { query: everything, start: START, end: END, step: '60' }],
    ['/detected_fields', { query: everything, start: START, end: END }],
  ];
  for (const [path, params] of calls) {
    const r = await loki(path, params, shopOnly);
    t.equal(r.status, 200, `${path} ${r.text.slice(0, 200)}`);
    const seen = namespacesIn(r.text);
    t.ok(
      seen.every((ns) => ns === 'shop'),
      `${path} ${params.query ?? ''}: only shop (saw ${seen.join(',') || 'none'})`,
    );
  }
  const full = await loki('/query_range', { query: everything, start: START, end: END, limit: '1000' });
  t.same(
    namespacesIn(full.text),
    ['bulk', 'payments', 'secret', 'shop'],
    'an unrestricted token sees all (the check can fail)',
  );

  const values = await loki('/label/namespace/values', { start: START, end: END }, shopOnly);
  t.same(values.json().data, ['shop']);
  const appValues = await loki('/label/app/values', { start: START, end: END, query: '{app=~".+"}' }, shopOnly);
  t.same(appValues.json().data, ['shop']);
  const stats = await loki('/index/stats', { query: everything, start: START, end: END }, shopOnly);
  t.same(stats.json(), {
    streams: 1,
    chunks: 1,
    entries: 10,
    bytes: seed.filter((r) => r.namespace === 'shop').reduce((n, r) => n + r.message.length, 0),
  });
  const detected = await loki('/detected_labels', { start: START, end: END }, shopOnly);
  t.same(
    detected.json().detectedLabels.find((l: any) => l.label === 'namespace'),
    { label: 'namespace', cardinality: 1 },
  );
  const labelsOfSecret = await loki('/labels', { start: START, end: END, query: '{namespace="secret"}' }, shopOnly);
  t.same(labelsOfSecret.json().data, [], 'a selector naming another namespace finds nothing');
});

t.test('the tail backfill of a restricted token holds only its namespace', async (t) => {
  const url = `${agg.url.replace('http', 'ws')}/loki/api/v1/tail?${new URLSearchParams({ query: '{namespace=~".+"}', start: START, limit: '1000' })}`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${shopOnly}` } } as any);
  t.teardown(() => ws.close());
  const messages: string[] = [];
  ws.addEventListener('message', (e) => messages.push(String(e.data)));
  const first = (await waitFor(() => messages[0], { what: 'the backfill message' }))!;
  t.same(namespacesIn(first), ['shop']);
  t.equal(JSON.parse(first).streams.flatMap((s: any) => s.values).length, 10);
  // Live: one batch with a line of each namespace; the shop line proves the batch arrived.
  const now = new Date().toISOString().replace('Z', '000001Z');
  const live = ['secret', 'shop'].map((ns) =>
    record({ cluster: 'alpha', namespace: ns, pod: `${ns}-pod`, timestamp: now, message: `ns=${ns} live` }),
  );
  t.equal((await ingest(agg.url, agentToken, ndjson(live))).status, 200);
  const second = (await waitFor(() => messages[1], { what: 'the live message' }))!;
  t.same(namespacesIn(second), ['shop'], "another namespace's live line is not sent");
});

t.test('scopes: logs:read is needed; X-Scope-OrgID is ignored', async (t) => {
  const r = await loki('/labels', {}, agentToken);
  t.equal(r.status, 403);
  t.match(r.type, /^text\/plain/);
  t.equal(r.text, 'token lacks the "logs:read" scope');
  const ok = await loki('/label/namespace/values', { start: START, end: END });
  t.same(ok.json().data, ['bulk', 'payments', 'secret', 'shop'], 'an org id header does not narrow or widen anything');
});

t.test('bad parameters and parse errors are Loki-shaped 400s', async (t) => {
  const cases: Array<[string, Record<string, string>, string | RegExp]> = [
    [
      '/query_range',
      { query: '{namespace="shop"}', step: '0' },
      'zero or negative query resolution step widths are not accepted. Try a positive integer',
    ],
    ['/query_range', { query: '{namespace="shop"}', direction: 'up' }, "invalid direction 'up'"],
    ['/query_range', { query: '{namespace="shop"}', limit: '-5' }, 'limit must be a positive value'],
    [
      '/query_range',
      { query: '{namespace="shop"}', start: 'soon' },
      `could not parse 'start' parameter: strconv.ParseInt: parsing "soon": invalid syntax`,
    ],
    ['/query_range', { query: '{namespace="shop"' }, /^parse error at line 1, col \d+: /],
    [
      '/query',
      { query: '{namespace="shop"}' },
      'log queries are not supported as an instant query type, please change your query to a range query type',
    ],
    ['/query', { query: 'vector(1)', time: 'noon' }, 'strconv.ParseInt: parsing "noon": invalid syntax'],
    ['/labels', { query: '{namespace=' }, /^parse error/],
    ['/series', { 'match[]': '{}x' }, /^parse error/],
    ['/index/volume', { query: '{namespace="shop"}', aggregateBy: 'pods' }, 'invalid aggregation option'],
    ['/format_query', { query: 'sum(' }, /^parse error/],
  ];
  for (const [path, params, message] of cases) {
    const r = await loki(path, params);
    t.equal(r.status, 400, `${path} ${JSON.stringify(params)}`);
    t.match(r.type, /^text\/plain/);
    if (typeof message === 'string') t.equal(r.text, message);
    else t.match(r.text, message);
  }
});

t.test(
  'a query past the engine bounds is 400 on the Loki API (as Loki says) and 422 on POST /search/logql',
  async (t) => {
    const query = 'count_over_time({namespace="bulk"} | regexp "(?P<l>.+)" [5m])';
    const viaLoki = await loki('/query_range', { query, start: START, end: END, step: '60' });
    t.equal(viaLoki.status, 400, viaLoki.text);
    t.match(viaLoki.text, /^maximum number of series \(\d+\) reached for a single query; consider reducing/);
    t.match(viaLoki.type, /^text\/plain/);
    const viaProduct = await fetch(`${agg.url}/v1/k8s/logs/search/logql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query, start: START, end: END, step: 60 }),
    });
    t.equal(viaProduct.status, 422);
    const body = (await viaProduct.json()) as any;
    t.equal(body.error.code, 'query_limit_exceeded');
    t.same(body.error.details, [{ limit: 'series' }]);
  },
);

t.test('POST /search/logql prints an instant vector time from whole ms', async (t) => {
  const res = await fetch(`${agg.url}/v1/k8s/logs/search/logql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'vector(1)', end: '1796177212186000000' }),
  });
  t.equal(res.status, 200);
  t.match(await res.text(), /"value":\[1796177212\.186,"1"\]/);
});
