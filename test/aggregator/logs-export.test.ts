import t from 'tap';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../helpers/records.ts';
import type { LogRecord } from '../../shared/record.ts';
import { waitFor } from '../helpers/wait-for.ts';

// Through a proxy: the test sees the points in time the aggregator opens, and can pause a page read.
const agg = await startTestAggregator(t, { name: 'export', storeProxy: true });
const store = agg.storeProxy!;
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
const shopOnly = await agg.createToken({ name: 'shop reader', scopes: ['logs:read'], namespaces: ['shop'] });
const ingestToken = await agg.ingestToken('alpha');

// 12,000 lines; every third line shares its timestamp with the next two, so page
// boundaries fall inside runs of equal timestamps and the id tiebreak is exercised.
const TOTAL = 12_000;
const base = Date.parse('2026-11-25T10:00:00Z');
const all: LogRecord[] = [];
for (let i = 0; i < TOTAL; i++) {
  const slot = Math.floor(i / 3);
  const ts = new Date(base + slot).toISOString().replace('Z', `${String(slot % 1000).padStart(3, '0')}001Z`);
  all.push(record({ cluster: 'alpha', namespace: i % 4 === 0 ? 'shop' : 'bulk', pod: `p-${i % 7}`, timestamp: ts, message: `bulk line ${i} ${i % 10 === 0 ? 'err=5' : 'ok'}` }));
}
for (let i = 0; i < TOTAL; i += 2000) {
  const res = await ingest(agg.url, ingestToken, ndjson(all.slice(i, i + 2000)));
  if (res.status !== 200) throw new Error(`seed ingest failed: ${res.status} ${JSON.stringify(res.body)}`);
}
await agg.refresh();

const window = { start: '2026-11-25T09:00:00Z', end: '2026-11-25T12:00:00Z' };
const cmp = (a: LogRecord, b: LogRecord) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.id < b.id ? -1 : 1);
const asc = [...all].sort(cmp).map((r) => r.id);
const desc = [...asc].reverse();

function post(body: Record<string, unknown>, token = reader, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${agg.url}/v1/k8s/logs/search`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...window, ...body }),
    ...(signal ? { signal } : {}),
  });
}

async function openPits(): Promise<string[]> {
  const res = await fetch(`${agg.opensearchUrl}/_search/point_in_time/_all`);
  const body = (await res.json()) as { pits?: Array<{ pit_id: string }> };
  return (body.pits ?? []).map((p) => p.pit_id);
}

/**
 * The points in time this aggregator opened that OpenSearch still holds (the node is
 * shared: other test files open their own at the same time).
 */
async function ourOpenPits(): Promise<string[]> {
  const open = new Set(await openPits());
  return store.pitIds().filter((id) => open.has(id));
}

/** Holds the export's next page read (a search after the first page) until released. */
const holdNextPage = () =>
  store.hold((method, path, body) => method === 'POST' && /^\/_search(\?|$)/.test(path) && body.includes('"search_after"'));

const idsOf = (ndjsonText: string) => ndjsonText.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as LogRecord).id);

t.test('cursor paging through 12,000 lines visits each line once, in order, with no gaps', async (t) => {
  for (const [order, want] of [['desc', desc], ['asc', asc]] as const) {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    let first: Record<string, any> | undefined;
    do {
      const res = await post({ limit: 1000, sort: { order }, ...(cursor ? { cursor } : {}) });
      t.equal(res.status, 200);
      const body = (await res.json()) as Record<string, any>;
      first ??= body;
      seen.push(...(body['logs'] as LogRecord[]).map((r) => r.id));
      cursor = body['next_cursor'];
      pages++;
    } while (cursor && pages < 50);
    t.equal(pages, 12, `${order}: 12 pages of 1000`);
    t.equal(seen.length, TOTAL, `${order}: every line`);
    t.equal(new Set(seen).size, TOTAL, `${order}: none twice`);
    t.ok(seen.every((id, i) => id === want[i]), `${order}: in order, no gaps`);
    t.equal(first?.['total'], 10_000, 'total is exact up to the bound');
    t.equal(first?.['total_relation'], 'gte', '… then flagged as a lower bound');
  }
});

t.test('NDJSON export of every match, in order, from GET / and POST /search', async (t) => {
  const viaGet = await fetch(`${agg.url}/v1/k8s/logs/?start=${window.start}&end=${window.end}&limit=5`, {
    headers: { authorization: `Bearer ${reader}`, accept: 'application/x-ndjson' },
  });
  t.equal(viaGet.status, 200);
  t.match(viaGet.headers.get('content-type'), /^application\/x-ndjson/);
  const got = idsOf(await viaGet.text());
  t.equal(got.length, TOTAL, 'limit does not apply to an export');
  t.ok(got.every((id, i) => id === desc[i]), 'every line exactly once, newest first');

  const viaPost = await post({ sort: { order: 'asc' }, contains: ['err=5'], limit: 3, cursor: 'ignored' }, reader, { accept: 'application/x-ndjson' });
  t.equal(viaPost.status, 200);
  t.same(idsOf(await viaPost.text()), [...all].filter((r) => r.message.includes('err=5')).sort(cmp).map((r) => r.id));

  const capped = await post({ max: 2500 }, reader, { accept: 'application/x-ndjson' });
  t.same(idsOf(await capped.text()), desc.slice(0, 2500), 'max caps the export');

  const scoped = await post({}, shopOnly, { accept: 'application/x-ndjson' });
  const shop = idsOf(await scoped.text());
  t.same(shop, desc.filter((id) => all.find((r) => r.id === id)!.namespace === 'shop'), 'a restricted token exports only its namespaces');

  const empty = await post({ contains: ['no such line'] }, reader, { accept: 'application/x-ndjson' });
  t.equal(empty.status, 200);
  t.equal(await empty.text(), '');
  const bad = await post({ regex: '(x' }, reader, { accept: 'application/x-ndjson' });
  t.equal(bad.status, 400, 'errors before the stream starts are envelopes');
  t.equal(((await bad.json()) as Record<string, any>)['error'].code, 'invalid_request');
  t.ok(store.pitIds().length >= 5, 'each export opened a point in time');
  await waitFor(async () => (await ourOpenPits()).length === 0, { what: 'every point in time released' });
});

t.test('the export streams: bytes arrive while the server is still reading, and the client can stop it', async (t) => {
  // Page 2 is not read until released: bytes that arrive before are streamed, not buffered.
  const page2 = holdNextPage();
  const pitsBefore = new Set(store.pitIds());
  let started: { reader1: ReadableStreamDefaultReader<Uint8Array>; first: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>> } | undefined;
  void (async () => {
    const res = await fetch(`${agg.url}/v1/k8s/logs/?start=${window.start}&end=${window.end}`, {
      headers: { authorization: `Bearer ${reader}`, accept: 'application/x-ndjson' },
    });
    const reader1 = res.body!.getReader();
    started = { reader1, first: await reader1.read() };
  })();
  await waitFor(() => started, { what: 'the first bytes while page 2 is held' });
  const { reader1, first } = started!;
  t.notOk(first.done);
  await page2.reached;
  const pit = store.pitIds().filter((id) => !pitsBefore.has(id));
  t.equal(pit.length, 1, 'one point in time for the export');
  t.same(await ourOpenPits(), pit, 'it is open while the export runs');
  let text = Buffer.from(first.value!).toString('utf8');
  t.ok(idsOf(text.slice(0, text.lastIndexOf('\n') + 1)).every((id, i) => id === desc[i]), 'the first bytes are the newest lines');
  t.ok(text.split('\n').length - 1 <= 1000, 'no more than the first page before page 2 is read');
  page2.release();
  // (Whether the server also waits for a slow reader cannot be shown at this size: the
  // loopback socket buffers hold megabytes.)
  for (;;) {
    const { done, value } = await reader1.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
  }
  const got = idsOf(text);
  t.equal(got.length, TOTAL);
  t.ok(got.every((id, i) => id === desc[i]));
  await waitFor(async () => !(await ourOpenPits()).includes(pit[0]!), { what: 'the point in time deleted at the end' });

  const abort = new AbortController();
  const page2again = holdNextPage();
  const pitsBefore2 = new Set(store.pitIds());
  const res2 = await fetch(`${agg.url}/v1/k8s/logs/?start=${window.start}&end=${window.end}`, {
    headers: { authorization: `Bearer ${reader}`, accept: 'application/x-ndjson' },
    signal: abort.signal,
  });
  const reader2 = res2.body!.getReader();
  await reader2.read();
  await page2again.reached;
  const open = store.pitIds().filter((id) => !pitsBefore2.has(id));
  t.equal(open.length, 1);
  t.same(await ourOpenPits(), open, 'open while the export is paused');
  abort.abort();
  await reader2.read().catch(() => undefined);
  page2again.release();
  await waitFor(async () => !(await ourOpenPits()).includes(open[0]!), { what: 'the point in time deleted when the client goes away' });
});
