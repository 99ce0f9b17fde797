/**
 * POST /loki/api/v1/push on real OpenSearch: JSON and snappy protobuf bodies become
 * records that GET /v1/k8s/logs and POST /search/logql find by the labels they were pushed
 * with; a retried body stores nothing twice; bad bodies are 400 (text) with nothing
 * stored; entries Loki would drop are dropped alone and counted; only ingest tokens push.
 */
import t from 'tap';
import { gzipSync } from 'node:zlib';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { buildApp } from '../../../aggregator/app.ts';
import { configWith } from '../../../aggregator/config.ts';
import { createOpenSearchClient } from '../../../aggregator/store/opensearch.ts';
import { uniquePrefix } from '../../helpers/services.ts';
import { ndjson, record } from '../../helpers/records.ts';
import {
  HANDMADE_SNAPPY,
  push,
  pushRequestJson,
  pushRequestProto,
  snappy,
  type FixtureStream,
} from './push-fixtures.ts';

const agg = await startTestAggregator(t, { name: 'lokipush', ingest: { maxBodyBytes: 64 * 1024 } });
const token = await agg.ingestToken('alpha');
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });

const PROTO = { 'content-type': 'application/x-protobuf' };
const JSON_CT = { 'content-type': 'application/json' };
const nowNs = () => BigInt(Date.now() - 60_000) * 1_000_000n;

/** Stored records whose message is exactly `message` (count by content, over every record of the test). */
async function countByMessage(message: string): Promise<number> {
  await agg.refresh();
  const res = await fetch(`${agg.opensearchUrl}/${agg.prefix}-alpha-*/_count`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: { term: { message } } }),
  });
  if (res.status === 404) return 0;
  return ((await res.json()) as { count: number }).count;
}

async function logs(query: Record<string, string>) {
  await agg.refresh();
  const res = await fetch(`${agg.url}/v1/k8s/logs/?${new URLSearchParams({ start: 'now-1h', ...query })}`, {
    headers: { authorization: `Bearer ${reader}` },
  });
  return { status: res.status, body: (await res.json()) as { logs: Array<Record<string, any>> } };
}

async function logql(query: string) {
  const res = await fetch(`${agg.url}/v1/k8s/logs/search/logql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, start: 'now-1h', end: 'now', limit: 100 }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${agg.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

function streamsFor(tag: string, ts: bigint): FixtureStream[] {
  return [
    {
      labels: {
        namespace: 'shop',
        pod: `web-${tag}`,
        container: 'app',
        node: 'node-a',
        stream: 'stderr',
        app: 'web',
        level: 'warn',
      },
      entries: [
        { tsNs: ts, line: `${tag} first line` },
        { tsNs: ts + 1n, line: `${tag} second line`, metadata: { trace_id: 'abc' } },
        { tsNs: ts + 1n, line: `${tag} second line`, metadata: { trace_id: 'abc' } }, // an equal entry: kept twice, as sent
      ],
    },
    { labels: { job: 'syslog', host: `h-${tag}` }, entries: [{ tsNs: ts + 2n, line: `${tag} host line ERROR` }] },
  ];
}

const bodies: Array<[string, (s: FixtureStream[]) => Buffer, Record<string, string>]> = [
  ['JSON', (s) => pushRequestJson(s), JSON_CT],
  ['gzip JSON', (s) => gzipSync(pushRequestJson(s)), { ...JSON_CT, 'content-encoding': 'gzip' }],
  ['snappy protobuf', (s) => snappy(pushRequestProto(s)), PROTO],
];

for (const [kind, encode, headers] of bodies) {
  t.test(`a ${kind} push is stored, found by its labels, and a retry stores nothing twice`, async (t) => {
    const tag = kind.replace(/\W/g, '');
    const body = encode(streamsFor(tag, nowNs()));
    const first = await push(agg.url, token, body, headers);
    t.equal(first.status, 204, first.text);
    const again = await push(agg.url, token, body, headers);
    t.equal(again.status, 204, 'the retry is a success too');
    t.equal(await countByMessage(`${tag} first line`), 1, 'one copy after the retry');
    t.equal(await countByMessage(`${tag} second line`), 2, 'two equal entries, two records, after the retry');

    const listed = await logs({ namespace: 'shop', pod: `web-${tag}`, direction: 'forward' });
    t.equal(listed.status, 200);
    t.same(
      listed.body.logs.map((r) => r['message']),
      [`${tag} first line`, `${tag} second line`, `${tag} second line`],
    );
    t.match(listed.body.logs[1], {
      cluster: 'alpha',
      namespace: 'shop',
      pod: `web-${tag}`,
      container: 'app',
      node: 'node-a',
      stream: 'stderr',
      level: 'warn',
      labels: { app: 'web', level: 'warn' },
      fields: { trace_id: 'abc' },
    });

    const found = await logql(
      `{namespace="shop", pod="web-${tag}", container="app", node="node-a", stream="stderr", app="web", level="warn"}`,
    );
    t.equal(found.status, 200, JSON.stringify(found.body).slice(0, 300));
    const lines = (found.body.result as Array<{ values: string[][] }>).flatMap((s) => s.values.map((v) => v[1]));
    t.same(lines.sort(), [`${tag} first line`, `${tag} second line`, `${tag} second line`]);

    const host = await logql(`{job="syslog", host="h-${tag}"} | detected_level="error"`);
    t.equal(host.status, 200);
    t.match(
      host.body.result,
      [
        {
          stream: { namespace: '_loki_push', pod: '_unknown', container: '_unknown', job: 'syslog' },
          values: [[String, `${tag} host line ERROR`]],
        },
      ],
      'a stream without Kubernetes labels lands in _loki_push, level detected from the line',
    );
  });
}

t.test('the hand-made protobuf bytes (push.proto wire format) are stored as written', async (t) => {
  const res = await push(agg.url, token, HANDMADE_SNAPPY, PROTO);
  t.equal(res.status, 204, res.text);
  const listed = await logs({ namespace: 'hand', start: '2025-11-24T15:00:00Z', end: '2025-11-24T17:00:00Z' });
  t.match(listed.body.logs, [
    {
      timestamp: '2025-11-24T16:00:00.000000005Z',
      namespace: 'hand',
      pod: 'p1',
      message: 'hi',
      fields: { trace_id: 't1' },
    },
  ]);
  t.equal(listed.body.logs.length, 1);
});

t.test('bad bodies are 400 with a text body and store nothing', async (t) => {
  const good = (line: string) => [{ labels: { namespace: 'bad' }, entries: [{ tsNs: nowNs(), line }] }];
  const proto = pushRequestProto(good('bad-proto'));
  const cases: Array<[string, Buffer, Record<string, string>, RegExp]> = [
    [
      'bad JSON',
      Buffer.from('{"streams":[{"stream":{"namespace":"bad"},"values":[["1","bad-json"]'),
      JSON_CT,
      /not valid JSON/,
    ],
    ['missing streams', Buffer.from('{"values":[]}'), JSON_CT, /streams/],
    [
      'bad timestamp',
      Buffer.from(JSON.stringify({ streams: [{ stream: { namespace: 'bad' }, values: [['soon', 'bad-ts']] }] })),
      JSON_CT,
      /timestamp/,
    ],
    [
      'numeric timestamp',
      Buffer.from('{"streams":[{"stream":{"namespace":"bad"},"values":[[1700000000000000000,"bad-num"]]}]}'),
      JSON_CT,
      /timestamp/,
    ],
    ['bad snappy', Buffer.from('definitely not snappy, bad-snappy'), PROTO, /snappy/],
    ['protobuf not snappy-compressed', proto, PROTO, /.+/],
    ['bad protobuf inside good snappy', snappy(Buffer.from([0x0a, 0x7f, 0x0a, 0x01])), PROTO, /protobuf/],
    ['gzip that is not', Buffer.from('bad-gzip'), { ...JSON_CT, 'content-encoding': 'gzip' }, /gzip/],
    ['unknown encoding', pushRequestJson(good('bad-enc')), { ...JSON_CT, 'content-encoding': 'br' }, /not supported/],
    ['empty body', Buffer.alloc(0), PROTO, /empty body/],
  ];
  for (const [name, body, headers, message] of cases) {
    const res = await push(agg.url, token, body, headers);
    t.equal(res.status, 400, `${name}: status`);
    t.match(res.headers.get('content-type'), /^text\/plain/, `${name}: text body`);
    t.match(res.text, message, `${name}: says why (${res.text.trim()})`);
  }
  await agg.refresh();
  const stored = await logs({ namespace: 'bad' });
  t.same(stored.body.logs, [], 'nothing stored');
  t.ok(
    (await metric('k8s_logs_aggregator_loki_push_discarded_bytes_total', 'reason="invalid_json"')) > 0,
    'undecodable JSON counted',
  );
  t.ok(
    (await metric('k8s_logs_aggregator_loki_push_discarded_bytes_total', 'reason="invalid_record"')) > 0,
    'undecodable protobuf counted',
  );
});

t.test('entries Loki would drop are dropped alone: 400 naming them, the rest stored, counted by reason', async (t) => {
  const before = await metric('k8s_logs_aggregator_loki_push_discarded_lines_total', 'reason="cluster_mismatch"');
  const acceptedBefore = await metric('k8s_logs_aggregator_loki_push_accepted_lines_total', 'cluster="alpha"');
  const res = await push(
    agg.url,
    token,
    pushRequestJson([
      {
        labels: { namespace: 'partial' },
        entries: [
          { tsNs: nowNs(), line: 'partial kept' },
          { tsNs: BigInt(Date.now() + 3_600_000) * 1_000_000n, line: 'partial future' },
        ],
      },
      {
        labels: { namespace: 'partial', cluster: 'beta' },
        entries: [{ tsNs: nowNs(), line: 'partial other cluster' }],
      },
    ]),
    JSON_CT,
  );
  t.equal(res.status, 400);
  t.match(res.text, /timestamp too new/);
  t.match(res.text, /cluster "beta" is not the token's cluster "alpha"/);
  const stored = await logs({ namespace: 'partial' });
  t.same(
    stored.body.logs.map((r) => r['message']),
    ['partial kept'],
  );
  t.equal(await metric('k8s_logs_aggregator_loki_push_discarded_lines_total', 'reason="cluster_mismatch"'), before + 1);
  t.equal(await metric('k8s_logs_aggregator_loki_push_discarded_lines_total', 'reason="too_new"'), 1);
  t.equal(await metric('k8s_logs_aggregator_loki_push_accepted_lines_total', 'cluster="alpha"'), acceptedBefore + 1);
});

t.test('only an ingest token pushes', async (t) => {
  const body = pushRequestJson([{ labels: { namespace: 'authz' }, entries: [{ tsNs: nowNs(), line: 'authz line' }] }]);
  const cases: Array<[string, string | null, number]> = [
    ['no token', null, 401],
    ['unknown token', 'k8sl_nope', 401],
    ['a logs:read token', reader, 403],
    ['the admin token', agg.adminToken, 403],
  ];
  for (const [name, tok, status] of cases) {
    const res = await push(agg.url, tok, body, JSON_CT);
    t.equal(res.status, status, name);
    t.match(res.headers.get('content-type'), /^text\/plain/, `${name}: text body`);
  }
  t.equal(await countByMessage('authz line'), 0);

  // Promtail's and Alloy's `basic_auth`: any user name, the ingest token as the password.
  const basic = pushRequestJson([{ labels: { namespace: 'authz' }, entries: [{ tsNs: nowNs(), line: 'basic auth line' }] }]);
  const res = await fetch(`${agg.url}/loki/api/v1/push`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`promtail:${token}`).toString('base64')}`, ...JSON_CT },
    body: basic,
  });
  t.equal(res.status, 204, 'basic auth with the ingest token as password');
  t.equal(await countByMessage('basic auth line'), 1);
});

t.test('a body over ingest.maxBodyBytes is 413; one that inflates past the limit too', async (t) => {
  const big = pushRequestJson([
    { labels: { namespace: 'big' }, entries: [{ tsNs: nowNs(), line: 'x'.repeat(100 * 1024) }] },
  ]);
  const res = await push(agg.url, token, big, JSON_CT);
  t.equal(res.status, 413);
  const bomb = await push(agg.url, token, gzipSync(Buffer.alloc(80 * 1024 * 1024, 0x20)), {
    ...JSON_CT,
    'content-encoding': 'gzip',
  });
  t.equal(bomb.status, 413);
  // A snappy block that declares 1 GiB: refused from its header, before anything is allocated.
  const snappyBomb = await push(agg.url, token, Buffer.from([0x80, 0x80, 0x80, 0x80, 0x04, 0x00]), PROTO);
  t.equal(snappyBomb.status, 413);
});

t.test(
  'agent ingest and Loki push shed load on one in-flight budget: 429 + Retry-After, stored when resent',
  async (t) => {
    const opensearchUrl = agg.opensearchUrl;
    const prefix = uniquePrefix('lokipush-inflight');
    const config = configWith({
      opensearchUrl,
      adminToken: agg.adminToken,
      indexPrefix: prefix,
      ingest: { maxInFlightBytes: 512 },
    });
    // A store whose first _bulk waits for the test: that agent batch holds the budget meanwhile.
    const client = createOpenSearchClient(config.opensearch);
    const realBulk = client.bulk.bind(client);
    let entered!: () => void;
    const inBulk = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    (client as { bulk: unknown }).bulk = async (...args: Parameters<typeof realBulk>) => {
      if (first) {
        first = false;
        entered();
        await gate;
      }
      return realBulk(...args);
    };
    const app = await buildApp(config, { opensearch: client });
    t.teardown(async () => {
      release();
      await app.close();
      await client.close();
      await fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(
        () => {},
      );
    });
    await app.prepareStore();
    const made = await app.inject({
      method: 'POST',
      url: '/v1/k8s/logs/tokens',
      headers: { authorization: `Bearer ${agg.adminToken}` },
      payload: { name: 'agent', scopes: ['ingest'], clusters: ['alpha'] },
    });
    const tok = (made.json() as { token: string }).token;
    const agent = app.inject({
      method: 'POST',
      url: '/v1/ingest',
      headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      payload: gzipSync(ndjson([record({ cluster: 'alpha' }), record({ cluster: 'alpha' })])),
    });
    await inBulk;
    const body = snappy(
      pushRequestProto([{ labels: { namespace: 'shed' }, entries: [{ tsNs: nowNs(), line: 'shed line' }] }]),
    );
    const pushOnce = () =>
      app.inject({
        method: 'POST',
        url: '/loki/api/v1/push',
        headers: { authorization: `Bearer ${tok}`, ...PROTO },
        payload: body,
      });
    const shed = await pushOnce();
    t.equal(shed.statusCode, 429, 'the budget is held by the agent batch');
    t.ok(Number(shed.headers['retry-after']) > 0, 'Retry-After');
    t.match(shed.headers['content-type'], /^text\/plain/);
    release();
    t.equal((await agent).statusCode, 200);
    const resent = await pushOnce();
    t.equal(resent.statusCode, 204, 'stored once the budget is released');
    t.match(
      (await app.inject({ method: 'GET', url: '/metrics' })).body,
      /k8s_logs_aggregator_ingest_inflight_bytes 0\n/,
    );
  },
);
