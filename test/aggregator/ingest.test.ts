import t from 'tap';
import { gzipSync } from 'node:zlib';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { getJson, ingest, ndjson, record } from '../helpers/records.ts';
import { buildApp } from '../../aggregator/app.ts';
import { configWith } from '../../aggregator/config.ts';
import { createOpenSearchClient } from '../../aggregator/store/opensearch.ts';
import { uniquePrefix } from '../helpers/services.ts';

const DAY_MS = 86_400_000;
// The real acceptance window (7 days back, 10 minutes ahead), not the fixtures' wide one.
const agg = await startTestAggregator(t, { name: 'ingest', ingest: { maxBodyBytes: 64 * 1024, maxRecordAgeMs: 7 * DAY_MS } });
const token = await agg.ingestToken('alpha');

async function storedCount(): Promise<number> {
  await agg.refresh();
  const res = await fetch(`${agg.opensearchUrl}/${agg.prefix}-alpha-*/_count`);
  if (res.status === 404) return 0;
  return ((await res.json()) as { count: number }).count;
}

t.test('a batch is stored once, and sending it again stores nothing new', async (t) => {
  const before = await storedCount();
  const records = Array.from({ length: 50 }, (_, i) => record({ cluster: 'alpha', message: `dup test ${i}` }));
  const first = await ingest(agg.url, token, ndjson(records));
  t.equal(first.status, 200);
  t.match(first.body, { received: 50, accepted: 50, duplicates: 0, rejected: [] });
  const second = await ingest(agg.url, token, ndjson(records));
  t.equal(second.status, 200);
  t.match(second.body, { received: 50, accepted: 50, duplicates: 50, rejected: [] });
  t.equal(await storedCount(), before + 50);
});

t.test('good records of a mixed batch are stored and bad ones reported by line', async (t) => {
  const before = await storedCount();
  const good = [record({ cluster: 'alpha' }), record({ cluster: 'alpha' })];
  const res = await ingest(agg.url, token, ndjson([
    good[0]!,
    '{not json',
    { ...record({ cluster: 'alpha' }), level: 'loud' },
    record({ cluster: 'beta' }),
    { ...record({ cluster: 'alpha' }), timestamp: 'yesterday' },
    good[1]!,
  ]));
  t.equal(res.status, 200);
  t.equal(res.body['accepted'], 2);
  t.same(
    (res.body['rejected'] as Array<{ line: number; reason: string }>).map((r) => [r.line, r.reason]),
    [[2, 'invalid_json'], [3, 'invalid_record'], [4, 'cluster_mismatch'], [5, 'invalid_record']],
  );
  t.equal(await storedCount(), before + 2);
  const metrics = await (await fetch(`${agg.url}/metrics`)).text();
  t.match(metrics, /k8s_logs_aggregator_rejected_records_total\{reason="cluster_mismatch"\} 1/);
});

t.test('bad requests get a 4xx envelope and store nothing', async (t) => {
  const before = await storedCount();
  const one = ndjson([record({ cluster: 'alpha' })]);
  const cases: Array<[string, () => Promise<{ status: number; body: Record<string, any> }>, number, string]> = [
    ['claims gzip but is not', () => postRaw(one, { 'content-encoding': 'gzip' }), 400, 'invalid_request'],
    ['no token', () => postRaw(gzipSync(one), { 'content-encoding': 'gzip' }, null), 401, 'unauthorized'],
    ['unknown token', () => postRaw(gzipSync(one), { 'content-encoding': 'gzip' }, 'k8sl_nope'), 401, 'unauthorized'],
    ['admin token is not an ingest token', () => postRaw(gzipSync(one), { 'content-encoding': 'gzip' }, agg.adminToken), 403, 'forbidden'],
    ['oversize body', () => postRaw(Buffer.alloc(100 * 1024, 0x61), {}), 413, 'payload_too_large'],
    ['oversize after gunzip', () => postRaw(gzipSync(Buffer.alloc(80 * 1024 * 1024, 0x0a)), { 'content-encoding': 'gzip' }), 413, 'payload_too_large'],
    ['unknown encoding', () => postRaw(one, { 'content-encoding': 'br' }), 415, 'unsupported_media_type'],
    ['wrong content type', () => postRaw(one, { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
    ['empty batch', () => postRaw(gzipSync(Buffer.from('\n\n')), { 'content-encoding': 'gzip' }), 400, 'invalid_request'],
  ];
  for (const [name, send, status, code] of cases) {
    const res = await send();
    t.equal(res.status, status, `${name}: status`);
    t.equal(res.body['error']?.code, code, `${name}: code`);
    t.equal(res.body['error']?.status, status, `${name}: envelope status`);
    t.type(res.body['request_id'], 'string', `${name}: request id`);
  }
  t.equal(await storedCount(), before);

  async function postRaw(body: Buffer, headers: Record<string, string>, tok: string | null = token) {
    const res = await fetch(`${agg.url}/v1/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', ...(tok ? { authorization: `Bearer ${tok}` } : {}), ...headers },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }
});

t.test('records land in the day index of their own timestamp, behind the cluster alias', async (t) => {
  const ts = new Date(Date.now() - 3 * DAY_MS).toISOString().replace('Z', '123456Z');
  const day = ts.slice(0, 10).replaceAll('-', '.');
  const old = record({ cluster: 'alpha', timestamp: ts });
  const res = await ingest(agg.url, token, ndjson([old]));
  t.equal(res.status, 200);
  const got = await fetch(`${agg.opensearchUrl}/${agg.prefix}-alpha-${day}/_doc/${old.id}`);
  t.equal(got.status, 200);
  t.equal(((await got.json()) as { _source: { timestamp: string } })._source.timestamp, ts);
  const alias = await getJsonRaw(`${agg.opensearchUrl}/_alias/${agg.prefix}-alpha`);
  t.ok(Object.keys(alias).includes(`${agg.prefix}-alpha-${day}`));
});

t.test('a batch of records that are all refused for their own content is settled with reasons, not a 400', async (t) => {
  const before = await storedCount();
  const res = await ingest(agg.url, token, Buffer.from('this is not json\nneither is this\n'));
  t.equal(res.status, 200, 'the agent must not bisect it into invalid_record discards');
  t.match(res.body, { received: 2, accepted: 0, rejected: [{ line: 1, reason: 'invalid_json' }, { line: 2, reason: 'invalid_json' }] });
  t.equal(await storedCount(), before);
});

t.test('records outside the acceptance window are rejected as too_old / too_new and create no index', async (t) => {
  const ok = record({ cluster: 'alpha' });
  const res = await ingest(agg.url, token, ndjson([
    record({ cluster: 'alpha', timestamp: new Date(Date.now() - 8 * DAY_MS).toISOString() }),
    ok,
    record({ cluster: 'alpha', timestamp: '2099-01-01T00:00:00.000000000Z' }),
    record({ cluster: 'alpha', timestamp: new Date(Date.now() + 3_600_000).toISOString() }),
  ]));
  t.equal(res.status, 200);
  t.equal(res.body['accepted'], 1);
  t.same((res.body['rejected'] as Array<{ line: number; reason: string }>).map((r) => [r.line, r.reason]), [[1, 'too_old'], [3, 'too_new'], [4, 'too_new']]);
  t.equal((await fetch(`${agg.opensearchUrl}/${agg.prefix}-alpha-2099.01.01`)).status, 404, 'no index for the year 2099');
  const metrics = await (await fetch(`${agg.url}/metrics`)).text();
  t.match(metrics, /k8s_logs_aggregator_rejected_records_total\{reason="too_old"\} 1\n/);
  t.match(metrics, /k8s_logs_aggregator_rejected_records_total\{reason="too_new"\} 2\n/);
});

t.test('a record with a duplicated key is stored as it was validated', async (t) => {
  const r = record({ cluster: 'alpha', labels: { app: 'web' } });
  const text = JSON.stringify(r).replace('"cluster":"alpha"', '"cluster":"beta","cluster":"alpha"').replace('"app":"web"', '"app":"db","app":"web"');
  const res = await ingest(agg.url, token, ndjson([text]));
  t.equal(res.status, 200);
  t.equal(res.body['accepted'], 1);
  await agg.refresh();
  // Both ways of reading it agree: by the validated cluster, and by the label.
  const count = async (q: object) => ((await (await fetch(`${agg.opensearchUrl}/${agg.prefix}-alpha-*/_count`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q }) })).json()) as { count: number }).count;
  t.equal(await count({ bool: { filter: [{ term: { id: r.id } }, { term: { cluster: 'alpha' } }, { term: { 'labels.app': 'web' } }] } }), 1);
  t.equal(await count({ bool: { filter: [{ term: { id: r.id } }], should: [{ term: { cluster: 'beta' } }, { term: { 'labels.app': 'db' } }], minimum_should_match: 1 } }), 0, 'the shadowed values are not stored');
  const stored = await getJsonRaw(`${agg.opensearchUrl}/${agg.prefix}-alpha-*/_search?q=id:${r.id}`);
  t.match(JSON.stringify(stored), /"_source":\{[^]*"cluster":"alpha"/);
});

t.test('a closed or write-blocked day index is the store\'s refusal: 503 + Retry-After, then stored once it is fixed', async (t) => {
  const today = record({ cluster: 'alpha' }).timestamp.slice(0, 10).replaceAll('-', '.');
  const index = `${agg.prefix}-alpha-${today}`;
  t.equal((await ingest(agg.url, token, ndjson([record({ cluster: 'alpha' })]))).status, 200, 'today\'s index exists');
  const os = (path: string, method: string, body?: object) =>
    fetch(`${agg.opensearchUrl}/${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  t.teardown(async () => {
    await os(`${index}/_open`, 'POST');
    await os(`${index}/_settings`, 'PUT', { 'index.blocks.write': null });
  });
  const cases: Array<[string, () => Promise<unknown>, () => Promise<unknown>, string]> = [
    ['closed', () => os(`${index}/_close`, 'POST'), () => os(`${index}/_open?wait_for_active_shards=1`, 'POST'), 'index_closed'],
    ['write-blocked', () => os(`${index}/_settings`, 'PUT', { 'index.blocks.write': true }), () => os(`${index}/_settings`, 'PUT', { 'index.blocks.write': null }), 'cluster_block'],
  ];
  for (const [name, refuse, fix, cause] of cases) {
    const before = await storedCount();
    await refuse();
    const batch = ndjson([record({ cluster: 'alpha' }), record({ cluster: 'alpha' })]);
    const refused = await ingest(agg.url, token, batch);
    t.equal(refused.status, 503, `${name}: 503, so the agent resends instead of bisecting`);
    t.equal(refused.body['error']?.code, 'store_refused', name);
    t.ok(Number(refused.headers.get('retry-after')) > 0, `${name}: Retry-After`);
    t.notMatch(JSON.stringify(refused.body), /exception|FORBIDDEN/, `${name}: no store internals`);
    await fix();
    const again = await ingest(agg.url, token, batch);
    t.equal(again.status, 200, `${name}: stored once fixed`);
    t.equal(again.body['accepted'], 2);
    t.equal(await storedCount(), before + 2, `${name}: both stored, once`);
    const metrics = await (await fetch(`${agg.url}/metrics`)).text();
    t.match(metrics, new RegExp(`k8s_logs_aggregator_ingest_store_refusals_total\\{cause="${cause}"\\} [1-9]`), `${name}: counted`);
  }
});

t.test('agents read their cluster config with ETag and send heartbeats', async (t) => {
  const first = await fetch(`${agg.url}/v1/ingest/config`, { headers: { authorization: `Bearer ${token}` } });
  t.equal(first.status, 200);
  const etag = first.headers.get('etag');
  t.ok(etag);
  t.match(await first.json(), { enabled: true, min_level: 'trace' });
  const again = await fetch(`${agg.url}/v1/ingest/config`, { headers: { authorization: `Bearer ${token}`, 'if-none-match': etag! } });
  t.equal(again.status, 304);
  const hb = await fetch(`${agg.url}/v1/ingest/heartbeat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ cluster: 'alpha', node: 'node-1', agent_version: '0.1.0', files_watched: 3, bytes_behind: 0, sent_at: new Date().toISOString() }),
  });
  t.equal(hb.status, 204);
  await agg.refresh();
  const stored = await agg.app.services.heartbeats.list('alpha');
  t.equal(stored[0]?.node, 'node-1');
  const wrong = await getJson(`${agg.url}/v1/ingest/config`, agg.adminToken);
  t.equal(wrong.status, 403);
});

async function getJsonRaw(url: string) {
  return (await (await fetch(url)).json()) as Record<string, unknown>;
}

t.test('past the in-flight byte budget a batch gets 429 + Retry-After and is stored when resent', async (t) => {
  const opensearchUrl = agg.opensearchUrl;
  const prefix = uniquePrefix('inflight');
  const config = configWith({ opensearchUrl, adminToken: agg.adminToken, indexPrefix: prefix, ingest: { maxInFlightBytes: 512 } });
  // A store whose first _bulk waits for the test: that batch stays in flight meanwhile.
  const client = createOpenSearchClient(config.opensearch);
  const realBulk = client.bulk.bind(client);
  let entered!: () => void;
  const inBulk = new Promise<void>((r) => (entered = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  (client as { bulk: unknown }).bulk = async (...args: Parameters<typeof realBulk>) => {
    entered();
    await gate;
    return realBulk(...args);
  };
  const app = await buildApp(config, { opensearch: client });
  t.teardown(async () => {
    release();
    await app.close();
    await client.close();
    await fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
  });
  await app.prepareStore();
  const made = await app.inject({ method: 'POST', url: '/v1/k8s/logs/tokens', headers: { authorization: `Bearer ${agg.adminToken}` }, payload: { name: 'agent', scopes: ['ingest'], clusters: ['alpha'] } });
  const tok = (made.json() as { token: string }).token;
  const send = (records: object[]) =>
    app.inject({ method: 'POST', url: '/v1/ingest', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }, payload: gzipSync(ndjson(records)) });
  const first = send([record({ cluster: 'alpha' }), record({ cluster: 'alpha' })]);
  await inBulk;
  const second = [record({ cluster: 'alpha' })];
  const shed = await send(second);
  t.equal(shed.statusCode, 429, 'the budget is held by the first batch');
  t.equal(shed.json().error.code, 'ingest_overloaded');
  t.ok(Number(shed.headers['retry-after']) > 0, 'Retry-After');
  release();
  t.equal((await first).statusCode, 200);
  const resent = await send(second);
  t.equal(resent.statusCode, 200, 'the budget is released once the first batch is answered');
  t.equal(resent.json().accepted, 1);
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /k8s_logs_aggregator_ingest_throttled_requests_total\{reason="inflight_bytes"\} 1\n/);
  t.match(metrics, /k8s_logs_aggregator_ingest_inflight_bytes 0\n/);
});

t.test('past the bulk queue bound a batch gets 429 before any of it reaches the store, and the chunks of a batch are sent in parallel', async (t) => {
  const opensearchUrl = agg.opensearchUrl;
  const prefix = uniquePrefix('bulkq');
  // Two _bulk slots, none to wait in; 2 KiB bulk bodies, so a 6-record batch is 3 chunks.
  const config = configWith({ opensearchUrl, adminToken: agg.adminToken, indexPrefix: prefix, ingest: { maxConcurrentBulks: 2, maxQueuedBulks: 0, maxBulkBytes: 64 * 1024 } });
  const client = createOpenSearchClient(config.opensearch);
  const realBulk = client.bulk.bind(client);
  let bulks = 0;
  let entered2!: () => void;
  const twoInBulk = new Promise<void>((r) => (entered2 = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  (client as { bulk: unknown }).bulk = async (...args: Parameters<typeof realBulk>) => {
    if (++bulks === 2) entered2();
    await gate;
    return realBulk(...args);
  };
  const app = await buildApp(config, { opensearch: client });
  t.teardown(async () => {
    release();
    await app.close();
    await client.close();
    await fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
  });
  await app.prepareStore();
  const made = await app.inject({ method: 'POST', url: '/v1/k8s/logs/tokens', headers: { authorization: `Bearer ${agg.adminToken}` }, payload: { name: 'agent', scopes: ['ingest'], clusters: ['alpha'] } });
  const tok = (made.json() as { token: string }).token;
  const send = (records: object[]) =>
    app.inject({ method: 'POST', url: '/v1/ingest', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }, payload: gzipSync(ndjson(records)) });
  // 2 records of ~40 KiB each: two chunks, both in flight at once (the test holds them).
  const big = (i: number) => record({ cluster: 'alpha', message: `${i} ${'x'.repeat(40_000)}` });
  const first = send([big(1), big(2)]);
  await twoInBulk;
  t.equal(bulks, 2, 'both chunks of the first batch are at the store together');
  const second = [record({ cluster: 'alpha' })];
  const shed = await send(second);
  t.equal(shed.statusCode, 429, 'no slot free and no room to wait');
  t.equal(shed.json().error.code, 'ingest_overloaded');
  t.ok(Number(shed.headers['retry-after']) > 0, 'Retry-After');
  t.equal(bulks, 2, 'nothing of the shed batch was sent');
  release();
  const answered = await first;
  t.equal(answered.statusCode, 200);
  t.equal(answered.json().accepted, 2);
  const resent = await send(second);
  t.equal(resent.statusCode, 200, 'slots are released once the first batch is answered');
  t.equal(resent.json().accepted, 1);
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /k8s_logs_aggregator_ingest_throttled_requests_total\{reason="bulk_queue"\} 1\n/);
});
