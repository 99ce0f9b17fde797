/**
 * The calls Grafana's Loki data source and logcli make, against a real aggregator on real
 * OpenSearch: "Save & test" (an instant `vector(1)+vector(1)`), the label browser (labels,
 * then label values with a selector), the logs volume query through query_range, a log
 * query_range with direction and limit, format_query, logcli's series with match[] and
 * labels with start/end, index stats and volume, detected fields, basic auth with the
 * token as password, and a live tail over the WebSocket that receives a line ingested
 * after it opened (and the backfill from `start`).
 */
import t from 'tap';
import { WebSocket } from 'undici';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import type { LogRecord } from '../../../shared/record.ts';

const agg = await startTestAggregator(t, { name: 'lokigrafana' });
const reader = await agg.createToken({ name: 'grafana', scopes: ['logs:read'] });
const ingestToken = await agg.ingestToken('alpha');

const base = Date.parse('2026-11-25T10:00:00Z');
const ts = (i: number) => new Date(base + i * 1000).toISOString().replace('Z', '000000Z');
const seed: LogRecord[] = [];
for (let i = 0; i < 40; i++) {
  const ns = i % 2 ? 'shop' : 'payments';
  seed.push(
    record({
      cluster: 'alpha',
      namespace: ns,
      pod: `${ns}-api-${i % 4 < 2 ? 1 : 2}`,
      container: 'main',
      node: 'node-a',
      timestamp: ts(i),
      level: i % 5 === 0 ? 'error' : 'info',
      message:
        i % 3
          ? `level=${i % 5 === 0 ? 'error' : 'info'} status=${i % 5 === 0 ? 500 : 200} msg="req ${i}" took=${i}ms`
          : `{"level":"info","user":"u${i % 3}","n":${i}}`,
      labels: { app: `${ns}-api`, 'app.kubernetes.io/name': ns },
    }),
  );
}
const seeded = await ingest(agg.url, ingestToken, ndjson(seed));
if (seeded.status !== 200) throw new Error(`seed ingest failed: ${seeded.status}`);
await agg.refresh();

const START = String(BigInt(base - 60_000) * 1_000_000n);
const END = String(BigInt(base + 60_000) * 1_000_000n);

async function loki(path: string, params: Record<string, string | string[]> = {}, auth = `Bearer ${reader}`) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
  const r = await fetch(`${agg.url}/loki/api/v1${path}?${qs}`, {
    headers: { authorization: auth, 'x-scope-orgid': 'tenant-1' },
  });
  const text = await r.text();
  return { status: r.status, type: r.headers.get('content-type'), text, json: () => JSON.parse(text) as any };
}

t.test('Save & test: vector(1)+vector(1) as an instant query answers 2 at the asked time', async (t) => {
  const r = await loki('/query', { query: 'vector(1)+vector(1)', time: '1764064800123000000' });
  t.equal(r.status, 200, r.text);
  const body = r.json();
  t.equal(body.status, 'success');
  t.equal(body.data.resultType, 'vector');
  t.same(body.data.result, [{ metric: {}, value: [1764064800.123, '2'] }]);
  t.match(r.text, /"value":\[1764064800\.123,"2"\]/, 'the time is whole ms, printed without float noise');
  t.type(body.data.stats.summary.execTime, 'number');
});

t.test('form POST works as GET, and basic auth takes the token as the password', async (t) => {
  const res = await fetch(`${agg.url}/loki/api/v1/query`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`anyone:${reader}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ query: 'vector(3)', time: '1764064800' }).toString(),
  });
  t.equal(res.status, 200);
  t.same(((await res.json()) as any).data.result, [{ metric: {}, value: [1764064800, '3'] }]);
  const wrong = await loki('/labels', {}, `Basic ${Buffer.from('grafana:not-a-token').toString('base64')}`);
  t.equal(wrong.status, 401);
  t.match(wrong.type, /^text\/plain/);
  const none = await fetch(`${agg.url}/loki/api/v1/labels`);
  t.equal(none.status, 401);
});

t.test("status/buildinfo answers the fields of Loki's build.VersionInfo, with a Loki 3 version", async (t) => {
  for (const method of ['GET', 'POST'] as const) {
    const r = await fetch(`${agg.url}/loki/api/v1/status/buildinfo`, {
      method,
      headers: { authorization: `Bearer ${reader}` },
    });
    t.equal(r.status, 200, method);
    t.match(r.headers.get('content-type'), /^application\/json/);
    const body = (await r.json()) as Record<string, unknown>;
    // Loki's pkg/util/build VersionInfo, field for field (what Grafana and logcli decode).
    t.same(Object.keys(body).sort(), ['branch', 'buildDate', 'buildUser', 'goVersion', 'revision', 'version']);
    for (const [k, v] of Object.entries(body)) t.type(v, 'string', `${method} ${k} is a string`);
    // Grafana gates Loki 3 features (structured metadata, detected fields) on this version.
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(String(body['version']));
    t.ok(m && Number(m[1]) >= 3, `version ${String(body['version'])} is a Loki 3 semver`);
    t.match(body['goVersion'], `node ${process.versions.node}`, 'the runtime, where Loki names its Go');
  }
  const anonymous = await fetch(`${agg.url}/loki/api/v1/status/buildinfo`);
  t.equal(anonymous.status, 401, 'behind the same auth as every Loki route');
});

t.test('label browser: label names, then values of a label under a selector', async (t) => {
  const names = await loki('/labels', { start: START, end: END });
  t.equal(names.status, 200, names.text);
  t.same(names.json(), {
    status: 'success',
    data: ['app', 'app_kubernetes_io_name', 'cluster', 'container', 'namespace', 'node', 'pod', 'stream'],
  });
  const ns = await loki('/label/namespace/values', { start: START, end: END });
  t.same(ns.json().data, ['payments', 'shop']);
  const pods = await loki('/label/pod/values', { start: START, end: END, query: '{namespace="shop"}' });
  t.same(pods.json().data, ['shop-api-1', 'shop-api-2']);
  const byPodLabel = await loki('/label/namespace/values', { start: START, end: END, query: '{app=~"pay.*"}' });
  t.same(byPodLabel.json().data, ['payments'], 'a pod-label regex matcher is exact');
  const outside = await loki('/label/namespace/values', { start: '1700000000', end: '1700003600' });
  t.same(outside.json().data, [], 'nothing outside the window');
});

t.test(
  'logs volume: sum by (level, detected_level) (count_over_time(... | drop __error__ [..])) via query_range',
  async (t) => {
    const r = await loki('/query_range', {
      query: 'sum by (level, detected_level) (count_over_time({namespace="shop"} | drop __error__ [1m]))',
      start: String(BigInt(base) * 1_000_000n),
      end: String(BigInt(base + 60_000) * 1_000_000n),
      step: '60',
    });
    t.equal(r.status, 200, r.text);
    const body = r.json();
    t.equal(body.data.resultType, 'matrix');
    const byLevel = Object.fromEntries(body.data.result.map((s: any) => [s.metric.detected_level, s.values.at(-1)[1]]));
    // shop holds the odd i < 40: 20 lines, of which i % 5 == 0 (5, 15, 25, 35) are errors.
    t.same(byLevel, { error: '4', info: '16' });
    t.same(
      body.data.result.map((s: any) => s.values.at(-1)[0]),
      [base / 1000 + 60, base / 1000 + 60],
    );
  },
);

t.test('log query_range honours direction and limit', async (t) => {
  const q = { query: '{namespace="payments"} |= "status"', start: START, end: END, limit: '3' };
  const back = await loki('/query_range', q);
  t.equal(back.status, 200, back.text);
  const lines = (body: any) =>
    body.data.result.flatMap((s: any) => s.values).sort((a: any, b: any) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1));
  t.equal(back.json().data.resultType, 'streams');
  const payLines = seed.filter((r) => r.namespace === 'payments' && r.message.includes('status'));
  const newest = payLines.slice(-3).map((r) => r.message);
  t.same(
    lines(back.json()).map((v: any) => v[1]),
    newest,
    'backward (default): the newest 3',
  );
  const fwd = await loki('/query_range', { ...q, direction: 'forward' });
  t.same(
    lines(fwd.json()).map((v: any) => v[1]),
    payLines.slice(0, 3).map((r) => r.message),
    'forward: the oldest 3',
  );
  t.same(back.json().data.result[0].stream.namespace, 'payments');
});

t.test('logcli: series with match[], labels with start/end, format_query, index stats and volume', async (t) => {
  const series = await loki('/series', {
    'match[]': ['{namespace="shop", pod="shop-api-1"}', '{app="payments-api", pod="payments-api-2"}'],
    start: START,
    end: END,
  });
  t.equal(series.status, 200, series.text);
  t.same(
    series
      .json()
      .data.map((s: any) => s.pod)
      .sort(),
    ['payments-api-2', 'shop-api-1'],
  );
  t.same(Object.keys(series.json().data[0]), [...Object.keys(series.json().data[0])].sort(), 'label names sorted');
  const formatted = await loki('/format_query', { query: '{namespace="shop"}|="x"|json' });
  t.same(formatted.json(), { status: 'success', data: '{namespace="shop"} |= "x" | json' });
  const stats = await loki('/index/stats', { query: '{namespace="shop"}', start: START, end: END });
  const shopBytes = seed.filter((r) => r.namespace === 'shop').reduce((n, r) => n + r.message.length, 0);
  t.same(stats.json(), { streams: 2, chunks: 2, entries: 20, bytes: shopBytes });
  const volume = await loki('/index/volume', { query: '{namespace=~".+"}', start: START, end: END });
  t.equal(volume.status, 200, volume.text);
  t.same(
    volume
      .json()
      .data.result.map((r: any) => [r.metric, r.value[1]])
      .sort(),
    [
      [
        { namespace: 'payments' },
        String(seed.filter((r) => r.namespace === 'payments').reduce((n, r) => n + r.message.length, 0)),
      ],
      [{ namespace: 'shop' }, String(shopBytes)],
    ].sort(),
  );
  const range = await loki('/index/volume_range', { query: '{namespace="shop"}', start: START, end: END, step: '120' });
  t.equal(range.status, 200, range.text);
  t.equal(range.json().data.resultType, 'matrix');
  t.same(range.json().data.result[0].metric, { namespace: 'shop' });
  t.equal(range.json().data.result[0].values.at(-1)[1], String(shopBytes));
});

t.test('detected fields: logfmt and json keys with types', async (t) => {
  const r = await loki('/detected_fields', { query: '{namespace="shop"}', start: START, end: END, line_limit: '1000' });
  t.equal(r.status, 200, r.text);
  const fields = Object.fromEntries(r.json().fields.map((f: any) => [f.label, f]));
  t.match(fields.status, { type: 'int', parsers: ['logfmt'], cardinality: 2 });
  t.match(fields.took, { type: 'duration', parsers: ['logfmt'] });
  t.match(fields.user, { type: 'string', parsers: ['json'] });
  t.match(fields.detected_level, { parsers: null, cardinality: 2 });
});

t.test('Drilldown: values of one detected field', async (t) => {
  const values = async (name: string) => {
    const r = await loki(`/detected_field/${name}/values`, { query: '{namespace="shop"}', start: START, end: END });
    t.equal(r.status, 200, r.text);
    return r.json();
  };
  t.same(await values('status'), { values: ['200', '500'], limit: 1000 });
  t.same((await values('user')).values, ['u0']);
  t.same((await values('detected_level')).values, ['error', 'info'], 'structured metadata too');
  t.same((await values('nope')).values, []);
  const metric = await loki('/detected_field/status/values', { query: 'count_over_time({namespace="shop"}[1m])' });
  t.equal(metric.status, 400, 'a metric query is refused');
});

t.test('Drilldown: patterns with counts per step, each a |> filter that selects exactly its lines', async (t) => {
  const r = await loki('/patterns', { query: '{namespace="shop"}', start: START, end: END, step: '10s' });
  t.equal(r.status, 200, r.text);
  const body = r.json();
  t.equal(body.status, 'success');
  t.notOk(body.warnings, 'every line of the range was grouped');
  const shop = seed.filter((s) => s.namespace === 'shop');
  const logfmt = (level: string) => `level=${level} status=<_> msg="req <_>" took=<_>`;
  const json = '{"level":"info","user":"u0","n":<_>}';
  const total = (p: any) => p.samples.reduce((n: number, [, c]: [number, number]) => n + c, 0);
  t.same(
    body.data.map((p: any) => [p.pattern, p.level, total(p)]),
    [
      [logfmt('info'), 'info', 10],
      [json, 'info', 6],
      [logfmt('error'), 'error', 3],
      [json, 'error', 1],
    ],
    'grouped by shape and level, largest first',
  );
  t.equal(
    body.data.map(total).reduce((a: number, b: number) => a + b, 0),
    shop.length,
    'every line counted once',
  );
  // Samples: [step start in unix seconds, lines], steps of 10 s from START.
  const startS = Number(BigInt(START) / 1_000_000_000n);
  const bucket = (r: LogRecord) => startS + Math.floor((Date.parse(r.timestamp) / 1000 - startS) / 10) * 10;
  const want = new Map<number, number>();
  for (const r of shop.filter((r) => r.level === 'info' && !r.message.startsWith('{')))
    want.set(bucket(r), (want.get(bucket(r)) ?? 0) + 1);
  t.same(
    body.data[0].samples,
    [...want].sort((a, b) => a[0] - b[0]),
    'per-step counts of the largest pattern',
  );
  for (const p of body.data) {
    const counted = body.data.filter((o: any) => o.pattern === p.pattern).map(total);
    const lines = await loki('/query_range', {
      query: `{namespace="shop"} |> \`${p.pattern}\``,
      start: START,
      end: END,
      limit: '1000',
    });
    const n = lines.json().data.result.reduce((a: number, s: any) => a + s.values.length, 0);
    t.equal(
      n,
      counted.reduce((a: number, b: number) => a + b, 0),
      `|> "${p.pattern}" selects its lines`,
    );
  }
  const metric = await loki('/patterns', { query: 'count_over_time({namespace="shop"}[1m])', start: START, end: END });
  t.equal(metric.status, 400);
  t.match(metric.text, /patterns need a log query/);
});

async function tailSocket(params: Record<string, string>) {
  const url = `${agg.url.replace('http', 'ws')}/loki/api/v1/tail?${new URLSearchParams(params)}`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${reader}` } } as any);
  const messages: any[] = [];
  ws.addEventListener('message', (e) => messages.push(JSON.parse(String(e.data))));
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error('tail socket failed to open')));
  });
  return { ws, messages };
}

t.test('live tail over the WebSocket: backfill from start, then a line ingested after it opened', async (t) => {
  const { ws, messages } = await tailSocket({ query: '{namespace="shop"} |= "status"', start: START, limit: '2' });
  t.teardown(() => ws.close());
  // The backfill: the newest 2 matching stored lines, oldest first.
  const backfill = await waitFor(() => messages[0], { what: 'the backfill message' });
  const stored = seed.filter((r) => r.namespace === 'shop' && r.message.includes('status'));
  t.same(
    backfill.streams.flatMap((s: any) => s.values.map((v: any) => v[1])).sort(),
    stored
      .slice(-2)
      .map((r) => r.message)
      .sort(),
  );
  const now = new Date().toISOString().replace('Z', '000001Z');
  const live = [
    record({ cluster: 'alpha', namespace: 'shop', pod: 'shop-api-9', timestamp: now, message: 'status=201 live one' }),
    record({
      cluster: 'alpha',
      namespace: 'payments',
      pod: 'p',
      timestamp: now,
      message: 'status=201 other namespace',
    }),
    record({ cluster: 'alpha', namespace: 'shop', pod: 'shop-api-9', timestamp: now, message: 'no match here' }),
  ];
  const res = await ingest(agg.url, ingestToken, ndjson(live));
  t.equal(res.status, 200);
  const msg = await waitFor(() => messages.find((m) => m !== backfill), { what: 'a live tail message' });
  t.same(msg.streams.length, 1);
  t.same(
    msg.streams[0].values.map((v: any) => v[1]),
    ['status=201 live one'],
  );
  t.match(msg.streams[0].stream, { namespace: 'shop', pod: 'shop-api-9' });
  t.notOk(msg.dropped_entries, 'nothing dropped');
});

t.test('tail refuses a metric query and bad parameters before the upgrade', async (t) => {
  const metric = await loki('/tail', { query: 'count_over_time({namespace="shop"}[1m])' });
  t.equal(metric.status, 400);
  const delay = await loki('/tail', { query: '{namespace="shop"}', delay_for: '9' });
  t.equal(delay.status, 400);
  t.equal(delay.text, "delay_for can't be greater than 5");
});
