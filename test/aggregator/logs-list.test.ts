import t from 'tap';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { getJson, ingest, ndjson, record } from '../helpers/records.ts';
import type { LogRecord } from '../../shared/record.ts';

const agg = await startTestAggregator(t, { name: 'logs' });
const ingestToken = await agg.ingestToken('alpha');
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
const shopOnly = await agg.createToken({ name: 'shop reader', scopes: ['logs:read'], namespaces: ['shop'] });

// 3 namespaces × 2 pods × 2 containers, 10 lines each, one millisecond apart, over a known window.
const base = Date.parse('2026-11-25T10:00:00Z');
const all: LogRecord[] = [];
let n = 0;
for (const ns of ['shop', 'payments', 'platform']) {
  for (const pod of ['api-1', 'worker-1']) {
    for (const container of ['main', 'sidecar']) {
      for (let i = 0; i < 10; i++) {
        const ts = new Date(base + n * 1000).toISOString().replace('Z', `${String(n % 1000).padStart(3, '0')}456Z`);
        all.push(record({ cluster: 'alpha', namespace: ns, pod, container, timestamp: ts, message: `${ns}/${pod}/${container} #${i} Error: Disk *full* [x]`, level: i % 3 === 0 ? 'error' : 'info', stream: i % 2 ? 'stderr' : 'stdout', labels: { app: pod.split('-')[0]!, tier: ns === 'shop' ? 'web' : 'backend' } }));
        n++;
      }
    }
  }
}
const res = await ingest(agg.url, ingestToken, ndjson(all));
if (res.status !== 200) throw new Error(`seed ingest failed: ${res.status}`);
await agg.refresh();

const window = 'start=2026-11-25T09:00:00Z&end=2026-11-25T12:00:00Z';
const list = (query: string, token = reader) => getJson(`${agg.url}/v1/k8s/logs/?${window}&${query}`, token);
const newestFirst = (rs: LogRecord[]) => [...rs].sort((a, b) => (a.timestamp < b.timestamp ? 1 : -1));

t.test('filters return exactly the matching lines, newest first', async (t) => {
  const cases: Array<[string, (r: LogRecord) => boolean]> = [
    ['namespace=shop', (r) => r.namespace === 'shop'],
    ['namespace=shop&pod=api-1', (r) => r.namespace === 'shop' && r.pod === 'api-1'],
    ['namespace=payments&pod=worker-1&container=sidecar', (r) => r.namespace === 'payments' && r.pod === 'worker-1' && r.container === 'sidecar'],
    ['namespace=shop,payments&level=error', (r) => r.namespace !== 'platform' && r.level === 'error'],
    ['stream=stderr&container=main', (r) => r.stream === 'stderr' && r.container === 'main'],
    ['q=disk%20*FULL*', (r) => r.message.toLowerCase().includes('disk *full*')],
    ['q=%237%20Error', (r) => r.message.includes('#7 Error')],
    ['labels=tier%3Dweb', (r) => r.labels?.['tier'] === 'web'],
    ['labels=app%20in%20(worker),tier!%3Dweb', (r) => r.labels?.['app'] === 'worker' && r.labels?.['tier'] !== 'web'],
  ];
  for (const [query, pred] of cases) {
    const got = await list(`${query}&limit=1000`);
    t.equal(got.status, 200, query);
    const want = newestFirst(all.filter(pred));
    t.same((got.body['logs'] as LogRecord[]).map((r) => r.id), want.map((r) => r.id), query);
    t.equal(got.body['total'], want.length, `${query}: total`);
  }
});

t.test('start and end bound the window, inclusive', async (t) => {
  const from = all[10]!.timestamp;
  const to = all[19]!.timestamp;
  const got = await getJson(`${agg.url}/v1/k8s/logs/?start=${from}&end=${to}&limit=1000`, reader);
  t.same((got.body['logs'] as LogRecord[]).map((r) => r.id), newestFirst(all.slice(10, 20)).map((r) => r.id));
});

t.test('cursor paging visits every line once, in order', async (t) => {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const got = await list(`limit=7${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(got.status, 200);
    seen.push(...(got.body['logs'] as LogRecord[]).map((r) => r.id));
    cursor = got.body['next_cursor'] as string | null;
    t.equal(got.body['has_more'], cursor !== null);
    pages++;
  } while (cursor && pages < 100);
  t.same(seen, newestFirst(all).map((r) => r.id));
  const fwd: string[] = [];
  cursor = null;
  do {
    const got = await list(`limit=50&direction=forward${cursor ? `&cursor=${cursor}` : ''}`);
    fwd.push(...(got.body['logs'] as LogRecord[]).map((r) => r.id));
    cursor = got.body['next_cursor'] as string | null;
  } while (cursor);
  t.same(fwd, newestFirst(all).reverse().map((r) => r.id));
});

t.test('a namespace-restricted token sees only its namespaces', async (t) => {
  const got = await list('limit=1000', shopOnly);
  t.equal(got.status, 200);
  t.ok((got.body['logs'] as LogRecord[]).length > 0);
  t.ok((got.body['logs'] as LogRecord[]).every((r) => r.namespace === 'shop'));
  const outside = await list('namespace=payments', shopOnly);
  t.equal(outside.status, 403);
  t.equal(outside.body['error'].code, 'forbidden');
  const sneaky = await list('labels=tier%3Dbackend', shopOnly);
  t.equal(sneaky.status, 200);
  t.equal((sneaky.body['logs'] as LogRecord[]).length, 0);
  const ingestOnly = await list('', ingestToken);
  t.equal(ingestOnly.status, 403);
  const none = await getJson(`${agg.url}/v1/k8s/logs/`, undefined);
  t.equal(none.status, 401);
});

t.test('bad parameters get a 400 envelope, never a 500', async (t) => {
  const cases = [
    'limit=0', 'limit=1001', 'limit=abc', 'start=yesterday', 'end=2026-13-01T00:00:00Z',
    'start=2026-11-25T12:00:00Z&end=2026-11-25T11:00:00Z', 'cursor=garbage', 'cursor=WzEsIngiXQ',
    'direction=sideways', 'level=loud', 'labels=%3D%3Dx', 'labels=app%20in%20(', 'unknown=1', 'stream=stdin',
  ];
  for (const q of cases) {
    const got = await getJson(`${agg.url}/v1/k8s/logs/?${q}`, reader);
    t.equal(got.status, 400, q);
    t.equal(got.body['error']?.code, q.startsWith('cursor=') ? 'invalid_cursor' : 'invalid_request', q);
  }
  const page = await list('limit=5');
  const foreign = await list(`namespace=shop&cursor=${page.body['next_cursor']}`);
  t.equal(foreign.status, 400, 'cursor from another query');
});
