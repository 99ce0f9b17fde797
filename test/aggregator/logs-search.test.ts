import t from 'tap';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../helpers/records.ts';
import type { LogRecord } from '../../shared/record.ts';

const agg = await startTestAggregator(t, { name: 'search' });
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
const shopOnly = await agg.createToken({ name: 'shop reader', scopes: ['logs:read'], namespaces: ['shop'] });
const betaOnly = await agg.createToken({ name: 'beta reader', scopes: ['logs:read'], clusters: ['beta'] });

// Messages chosen so that the full-text analyser would get exact-substring and regex
// questions wrong: `err=5` vs `err=50` vs `ERR=5` vs `err 5`, punctuation, wildcard
// metacharacters, case. Each message is stored in several namespaces/pods/levels.
const messages = [
  'GET /api/orders status=200 err=5 took=12ms',
  'GET /api/orders status=500 err=50 took=3ms',
  'payment failed: ERR=5 card declined',
  'err 5 in the log, card declined again',
  'path C:\\temp\\*.log not found?',
  'user@example.com logged in',
  'value a.b.c dotted',
  '[WARN] disk [x] 95% <b>full</b>',
  'timeout after 30s (retry 3/5)',
  'POST /api/pay status=404 took=120ms',
];
const base = Date.parse('2026-11-25T10:00:00Z');
const all: LogRecord[] = [];
let n = 0;
for (const cluster of ['alpha', 'beta']) {
  for (const ns of ['shop', 'payments', 'platform']) {
    for (const [pod, container, node] of [['api-1', 'main', 'node-a'], ['worker-1', 'sidecar', 'node-b']] as const) {
      for (const message of messages) {
        const ts = new Date(base + n * 1000).toISOString().replace('Z', `${String(n % 997).padStart(3, '0')}789Z`);
        const json = n % 4 === 0 ? { msg: 'request done', status: n % 8 === 0 ? 500 : 200, http: { method: n % 3 ? 'GET' : 'POST' }, ...(n % 5 ? { user: n % 12 ? 'bob' : 'ann' } : {}) } : undefined;
        all.push(record({
          cluster, namespace: ns, pod, container, node, timestamp: ts, message,
          level: (['info', 'error', 'warn', 'debug'] as const)[n % 4]!,
          stream: n % 3 === 0 ? 'stderr' : 'stdout',
          labels: { app: pod.split('-')[0]!, tier: ns === 'shop' ? 'web' : 'backend' },
          ...(json ? { fields: json } : {}),
        }));
        n++;
      }
    }
  }
}
for (const cluster of ['alpha', 'beta']) {
  const res = await ingest(agg.url, await agg.ingestToken(cluster), ndjson(all.filter((r) => r.cluster === cluster)));
  if (res.status !== 200) throw new Error(`seed ingest failed: ${res.status} ${JSON.stringify(res.body)}`);
}
await agg.refresh();

const window = { start: '2026-11-25T09:00:00Z', end: '2026-11-25T12:00:00Z' };
async function search(body: Record<string, unknown>, token = reader, headers: Record<string, string> = {}) {
  const res = await fetch(`${agg.url}/v1/k8s/logs/search`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...window, ...body }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: (res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : {}) as Record<string, any> };
}
const byTime = (dir: 'desc' | 'asc') => (a: LogRecord, b: LogRecord) => {
  const c = a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.id < b.id ? -1 : 1;
  return dir === 'asc' ? c : -c;
};
const ids = (rs: LogRecord[]) => rs.map((r) => r.id);
const words = (m: string) => m.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
const has = (r: LogRecord) => (r.fields ?? {}) as Record<string, any>;

t.test('every filter and combination returns exactly the matching lines', async (t) => {
  const cases: Array<[string, Record<string, unknown>, (r: LogRecord) => boolean]> = [
    ['clusters', { clusters: ['beta'] }, (r) => r.cluster === 'beta'],
    ['namespaces (several)', { namespaces: ['shop', 'platform'] }, (r) => r.namespace !== 'payments'],
    ['pods', { pods: ['worker-1'] }, (r) => r.pod === 'worker-1'],
    ['containers', { containers: ['main'] }, (r) => r.container === 'main'],
    ['nodes', { nodes: ['node-b'] }, (r) => r.node === 'node-b'],
    ['streams', { streams: ['stderr'] }, (r) => r.stream === 'stderr'],
    ['levels (several)', { levels: ['error', 'warn'] }, (r) => r.level === 'error' || r.level === 'warn'],
    ['contains err=5 is exact and case-sensitive', { contains: ['err=5'] }, (r) => r.message.includes('err=5')],
    ['contains err=5 ignoring case', { contains: ['err=5'], case_sensitive: false }, (r) => r.message.toLowerCase().includes('err=5')],
    ['contains several (all of them)', { contains: ['status=', 'took=1'] }, (r) => r.message.includes('status=') && r.message.includes('took=1')],
    ['contains wildcard metacharacters and backslashes literally', { contains: ['\\*.log not found?'] }, (r) => r.message.includes('\\*.log not found?')],
    ['contains punctuation', { contains: ['[x] 95%'] }, (r) => r.message.includes('[x] 95%')],
    ['contains across a dot', { contains: ['a.b'] }, (r) => r.message.includes('a.b')],
    ['regex matches anywhere', { regex: 'status=[45][0-9]{2}' }, (r) => /status=[45]\d{2}/.test(r.message)],
    ['regex err=5 followed by a space or the end', { regex: 'err=5( .*)?$' }, (r) => /err=5( |$)/.test(r.message)],
    ['regex anchored at the start', { regex: '^GET' }, (r) => /^GET/.test(r.message)],
    ['regex anchored at the end', { regex: 'took=[0-9]+ms$' }, (r) => /took=\d+ms$/.test(r.message)],
    ['regex with class escapes', { regex: '\\d+/\\d+\\)' }, (r) => /\d+\/\d+\)/.test(r.message)],
    ['regex ignoring case', { regex: 'err=5 ', case_sensitive: false }, (r) => /err=5 /i.test(r.message)],
    ['full text: all words, any case', { query: 'CARD declined' }, (r) => words(r.message).includes('card') && words(r.message).includes('declined')],
    ['full text: phrase', { query: '"card declined"' }, (r) => r.message.toLowerCase().includes('card declined')],
    ['full text: or', { query: 'timeout | logged' }, (r) => words(r.message).includes('timeout') || words(r.message).includes('logged')],
    ['full text: not', { query: 'declined -payment' }, (r) => words(r.message).includes('declined') && !words(r.message).includes('payment')],
    ['labels selector', { labels: 'app=api,tier!=web' }, (r) => r.labels?.['app'] === 'api' && r.labels?.['tier'] !== 'web'],
    ['labels set', { labels: 'tier in (web),app notin (api)' }, (r) => r.labels?.['tier'] === 'web' && r.labels?.['app'] !== 'api'],
    ['fields eq string', { fields: [{ field: 'user', op: 'eq', value: 'ann' }] }, (r) => has(r)['user'] === 'ann'],
    ['fields eq number', { fields: [{ field: 'status', op: 'eq', value: 500 }] }, (r) => has(r)['status'] === 500],
    ['fields nested', { fields: [{ field: 'http.method', op: 'eq', value: 'POST' }] }, (r) => has(r)['http']?.method === 'POST'],
    ['fields neq (missing counts as not equal)', { fields: [{ field: 'user', op: 'neq', value: 'ann' }] }, (r) => has(r)['user'] !== 'ann'],
    ['fields exists', { fields: [{ field: 'user', op: 'exists' }] }, (r) => has(r)['user'] !== undefined],
    ['fields missing', { fields: [{ field: 'user', op: 'missing' }] }, (r) => has(r)['user'] === undefined],
    ['combination: namespaces + levels + contains', { namespaces: ['shop', 'payments'], levels: ['error', 'info'], contains: ['err=5'] },
      (r) => r.namespace !== 'platform' && (r.level === 'error' || r.level === 'info') && r.message.includes('err=5')],
    ['combination: cluster + pod + regex + full text', { clusters: ['alpha'], pods: ['api-1'], regex: 'status=[0-9]+', query: 'orders' },
      (r) => r.cluster === 'alpha' && r.pod === 'api-1' && /status=\d+/.test(r.message) && words(r.message).includes('orders')],
    ['combination: labels + fields + stream', { labels: 'tier=backend', fields: [{ field: 'msg', op: 'exists' }], streams: ['stdout'] },
      (r) => r.labels?.['tier'] === 'backend' && has(r)['msg'] !== undefined && r.stream === 'stdout'],
    ['nothing matches', { contains: ['no such text anywhere'] }, () => false],
  ];
  for (const [name, body, pred] of cases) {
    const got = await search({ ...body, limit: 1000 });
    t.equal(got.status, 200, `${name}: ${got.text.slice(0, 300)}`);
    const want = all.filter(pred).sort(byTime('desc'));
    t.ok(want.length > 0 || name === 'nothing matches', `${name}: the seed has matches`);
    t.same(ids(got.body['logs']), ids(want), name);
    t.equal(got.body['total'], want.length, `${name}: total`);
    t.equal(got.body['total_relation'], 'eq');
  }
});

t.test('the full-text analyser alone would get these wrong', async (t) => {
  const text = await search({ query: 'err=5', limit: 1000 });
  const exact = await search({ contains: ['err=5'], limit: 1000 });
  t.ok(ids(text.body['logs']).length > ids(exact.body['logs']).length, 'full text also matches ERR=5 and "err 5"');
  t.ok((exact.body['logs'] as LogRecord[]).every((r) => r.message.includes('err=5')));
});

t.test('sort, window and paging', async (t) => {
  const asc = await search({ namespaces: ['shop'], sort: { order: 'asc' }, limit: 1000 });
  t.same(ids(asc.body['logs']), ids(all.filter((r) => r.namespace === 'shop').sort(byTime('asc'))));
  const from = all[10]!.timestamp;
  const to = all[19]!.timestamp;
  const win = await search({ start: from, end: to, limit: 1000 });
  t.same(ids(win.body['logs']), ids(all.slice(10, 20).sort(byTime('desc'))), 'start and end are inclusive');
  // Both ends as JSON numbers, fixed like the seed: `end: 'now'` made the window grow with
  // the calendar until it passed the standard class's limit (CI on 2026-12-02 got a 400).
  const lastMs = Math.max(...all.map((r) => Date.parse(r.timestamp.replace(/\.\d+Z$/, 'Z'))));
  const epoch = await search({ start: Math.floor(Date.parse('2026-11-25T10:00:00Z') / 1000), end: Math.ceil(lastMs / 1000) + 1, clusters: ['alpha'], limit: 1000 });
  t.equal(epoch.status, 200, 'epoch seconds as a JSON number');
  t.equal(epoch.body['logs'].length, all.filter((r) => r.cluster === 'alpha').length);

  const body = { levels: ['error'], contains: ['status='], sort: { order: 'asc' } };
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const got = await search({ ...body, limit: 4, aggregations: ['level'], histogram: true, ...(cursor ? { cursor } : {}) });
    t.equal(got.status, 200);
    if (pages === 0) t.ok(got.body['aggregations'] && got.body['histogram'], 'first page carries counts');
    else t.notOk(got.body['aggregations'] || got.body['histogram'], 'later pages do not');
    seen.push(...ids(got.body['logs']));
    cursor = got.body['next_cursor'];
    t.equal(got.body['has_more'], cursor !== null);
    pages++;
  } while (cursor && pages < 100);
  t.same(seen, ids(all.filter((r) => r.level === 'error' && r.message.includes('status=')).sort(byTime('asc'))));
  t.ok(pages > 2);
});

t.test('aggregations count all matches by term', async (t) => {
  const pred = (r: LogRecord) => r.message.includes('status=');
  const got = await search({ contains: ['status='], limit: 1, aggregations: ['level', 'namespace', 'pod', 'container'] });
  t.equal(got.status, 200);
  for (const key of ['level', 'namespace', 'pod', 'container'] as const) {
    const counts = new Map<string, number>();
    for (const r of all.filter(pred)) counts.set(r[key], (counts.get(r[key]) ?? 0) + 1);
    const want = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, c]) => ({ key: k, count: c }));
    t.same(got.body['aggregations'][key], { buckets: want, other_count: 0 }, key);
  }
  t.equal(got.body['logs'].length, 1, 'counts are over every match, not the page');
});

t.test('histogram with automatic and explicit interval', async (t) => {
  const got = await search({ namespaces: ['payments'], histogram: true, limit: 1 });
  t.equal(got.status, 200);
  const h = got.body['histogram'] as { interval: string; buckets: Array<{ start: string; count: number }> };
  t.equal(h.interval, '5m', 'a 3 h window gets 5m');
  t.equal(h.buckets.length, 37, 'the whole window, empty buckets included');
  t.equal(h.buckets[0]!.start, '2026-11-25T09:00:00.000000000Z');
  const want = new Map<string, number>();
  for (const r of all.filter((r) => r.namespace === 'payments')) {
    const ms = Date.parse(r.timestamp.replace(/\.\d+Z$/, 'Z'));
    const key = new Date(ms - (ms % 300_000)).toISOString().replace('.000Z', '.000000000Z');
    want.set(key, (want.get(key) ?? 0) + 1);
  }
  t.same(h.buckets.filter((b) => b.count > 0).map((b) => [b.start, b.count]), [...want].sort());
  const explicit = await search({ namespaces: ['payments'], histogram: { interval: '30m' }, limit: 1 });
  t.equal(explicit.body['histogram'].interval, '30m');
  t.equal(explicit.body['histogram'].buckets.length, 7);
  t.equal(explicit.body['histogram'].buckets.reduce((s: number, b: { count: number }) => s + b.count, 0), want.size && all.filter((r) => r.namespace === 'payments').length);
});

t.test('highlight returns escaped fragments of the full-text matches', async (t) => {
  const got = await search({ query: 'declined', highlight: true, limit: 1000 });
  t.equal(got.status, 200);
  const logs = got.body['logs'] as LogRecord[];
  t.ok(logs.length > 0);
  for (const r of logs) t.match(got.body['highlights'][r.id]?.join(' '), /<em>declined<\/em>/, r.message);
  const html = await search({ query: 'full', highlight: true, limit: 1 });
  const frag = (Object.values(html.body['highlights'])[0] as string[])[0]!;
  t.match(frag, /&lt;b&gt;<em>full<\/em>&lt;&#x2F;b&gt;/, 'message markup is escaped, only <em> is markup');
  const none = await search({ namespaces: ['shop'], limit: 1 });
  t.notOk('highlights' in none.body, 'no highlights unless asked');
});

t.test('restricted tokens cannot read outside their limits through POST /search', async (t) => {
  const inShop = all.filter((r) => r.namespace === 'shop');
  const plain = await search({ limit: 1000 }, shopOnly);
  t.same(ids(plain.body['logs']), ids(inShop.sort(byTime('desc'))));
  const outside = await search({ namespaces: ['payments'] }, shopOnly);
  t.equal(outside.status, 403);
  t.equal(outside.body['error'].code, 'forbidden');
  const mixed = await search({ namespaces: ['shop', 'payments'] }, shopOnly);
  t.equal(mixed.status, 403);
  const viaLabels = await search({ labels: 'tier=backend', limit: 1000 }, shopOnly);
  t.same(viaLabels.body['logs'], [], 'labels cannot widen the scope');
  const viaText = await search({ query: 'payment', regex: '.*', limit: 1000 }, shopOnly);
  t.ok((viaText.body['logs'] as LogRecord[]).every((r) => r.namespace === 'shop'));
  const aggs = await search({ aggregations: ['namespace'], histogram: true, limit: 1 }, shopOnly);
  t.same(aggs.body['aggregations'].namespace, { buckets: [{ key: 'shop', count: inShop.length }], other_count: 0 });
  t.equal(aggs.body['histogram'].buckets.reduce((s: number, b: { count: number }) => s + b.count, 0), inShop.length);
  const exported = await search({}, shopOnly, { accept: 'application/x-ndjson' });
  t.equal(exported.status, 200);
  const lines = exported.text.trim().split('\n').map((l) => JSON.parse(l) as LogRecord);
  t.same(ids(lines), ids(inShop.sort(byTime('desc'))), 'export carries the scope too');
  const exportedOutside = await search({ namespaces: ['payments'] }, shopOnly, { accept: 'application/x-ndjson' });
  t.equal(exportedOutside.status, 403);
  const beta = await search({ aggregations: ['namespace'], limit: 1000 }, betaOnly);
  t.ok((beta.body['logs'] as LogRecord[]).every((r) => r.cluster === 'beta'));
  t.equal(beta.body['total'], all.filter((r) => r.cluster === 'beta').length);
  t.equal((await search({ clusters: ['alpha'] }, betaOnly)).status, 403);
  t.equal((await search({}, await agg.ingestToken('alpha'))).status, 403, 'an ingest token reads nothing');
  t.equal((await search({}, 'no-such-token')).status, 401);
});

t.test('bad input gets a 400 envelope, never a 500', async (t) => {
  const page = await search({ limit: 5 });
  const cases: Array<[string, unknown]> = [
    ['unknown field', { ...window, nope: 1 }],
    ['unknown sort field', { ...window, sort: { field: 'level' } }],
    ['wrong type: namespaces', { ...window, namespaces: 'shop' }],
    ['wrong type: limit', { ...window, limit: 'abc' }],
    ['wrong type: highlight', { ...window, highlight: 'yes' }],
    ['unknown level', { ...window, levels: ['loud'] }],
    ['unknown stream', { ...window, streams: ['stdin'] }],
    ['empty list', { ...window, pods: [] }],
    ['invalid start', { start: 'yesterday' }],
    ['invalid end', { end: '2026-13-01T00:00:00Z' }],
    ['end before start', { start: '2026-11-25T12:00:00Z', end: '2026-11-25T11:00:00Z' }],
    ['huge limit', { ...window, limit: 100000 }],
    ['zero limit', { ...window, limit: 0 }],
    ['malformed cursor', { ...window, cursor: 'garbage' }],
    ['cursor of another query', { ...window, namespaces: ['shop'], cursor: page.body['next_cursor'] }],
    ['invalid regex: unclosed group', { ...window, regex: '(abc' }],
    ['invalid regex: bad range', { ...window, regex: '[z-a]' }],
    ['invalid regex: dangling escape', { ...window, regex: 'abc\\' }],
    ['invalid regex: anchor in the middle', { ...window, regex: 'a$b' }],
    ['regex too complex for the store', { ...window, regex: '(([a-z]+[0-9]*){1,20}x){1,20}' }],
    ['bad label selector', { ...window, labels: 'app in (' }],
    ['fields eq without value', { ...window, fields: [{ field: 'user', op: 'eq' }] }],
    ['fields exists with value', { ...window, fields: [{ field: 'user', op: 'exists', value: 'x' }] }],
    ['fields bad name', { ...window, fields: [{ field: 'a b', op: 'exists' }] }],
    ['unknown aggregation', { ...window, aggregations: ['node'] }],
    ['bad histogram interval', { ...window, histogram: { interval: 'often' } }],
    ['histogram with too many buckets', { ...window, histogram: { interval: '1s' } }],
    ['bad sort order', { ...window, sort: { order: 'sideways' } }],
    ['not an object', [1, 2]],
  ];
  for (const [name, body] of cases) {
    const res = await fetch(`${agg.url}/v1/k8s/logs/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, any>;
    t.equal(res.status, 400, `${name}: ${JSON.stringify(json)}`);
    t.equal(json['error']?.code, /cursor/.test(name) ? 'invalid_cursor' : 'invalid_request', name);
    t.type(json['request_id'], 'string', name);
  }
  const regex = await search({ regex: '(abc' });
  t.match(regex.body['error'].message, /^regex: unclosed "\(" at position 0/, 'the regex error says what and where');
  const notJson = await fetch(`${agg.url}/v1/k8s/logs/search`, { method: 'POST', headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' }, body: '{"start":' });
  t.equal(notJson.status, 400, 'malformed JSON');
  const noBody = await fetch(`${agg.url}/v1/k8s/logs/search`, { method: 'POST', headers: { authorization: `Bearer ${reader}` } });
  t.equal(noBody.status, 400, 'no body');
});
