import t from 'tap';
import { gzipSync } from 'node:zlib';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { getJson, ingest, ndjson, record } from '../helpers/records.ts';

const agg = await startTestAggregator(t, { name: 'ingest', ingest: { maxBodyBytes: 64 * 1024 } });
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
    ['no valid JSON at all', () => ingest(agg.url, token, Buffer.from('this is not json\nneither is this\n')), 400, 'invalid_request'],
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
  const old = record({ cluster: 'alpha', timestamp: '2026-01-02T03:04:05.123456789Z' });
  const res = await ingest(agg.url, token, ndjson([old]));
  t.equal(res.status, 200);
  const got = await fetch(`${agg.opensearchUrl}/${agg.prefix}-alpha-2026.01.02/_doc/${old.id}`);
  t.equal(got.status, 200);
  t.equal(((await got.json()) as { _source: { timestamp: string } })._source.timestamp, '2026-01-02T03:04:05.123456789Z');
  const alias = await getJsonRaw(`${agg.opensearchUrl}/_alias/${agg.prefix}-alpha`);
  t.ok(Object.keys(alias).includes(`${agg.prefix}-alpha-2026.01.02`));
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
