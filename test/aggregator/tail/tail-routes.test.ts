/**
 * GET /v1/k8s/logs/tail on a real aggregator and OpenSearch: the hand-off from stored
 * records (`since`) to live ones with every id once, the token's scope, and the errors; and
 * the event sequence itself (tail-events.ts) over a real TailFeed: gap reporting and
 * de-duplication between the store reads and the live feed.
 */
import t from 'tap';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { TailFeed } from '../../../aggregator/tail/tail-feed.ts';
import { tailEvents, type TailEvent } from '../../../aggregator/routes/tail/tail-events.ts';
import type { LogRecord } from '../../../shared/record.ts';

/** Opens a tail and collects its events until `close()`. */
async function openTail(url: string, token: string, query: Record<string, string>) {
  const ctrl = new AbortController();
  const res = await fetch(`${url}/v1/k8s/logs/tail?${new URLSearchParams(query)}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: ctrl.signal,
  });
  const events: TailEvent[] = [];
  let ended = false;
  const reading = (async () => {
    if (res.status !== 200 || !res.body) return;
    const decoder = new TextDecoder();
    let pending = '';
    try {
      for await (const chunk of res.body) {
        pending += decoder.decode(chunk as Uint8Array, { stream: true });
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (line) events.push(JSON.parse(line) as TailEvent);
      }
    } catch {
      // aborted by close()
    }
    ended = true;
  })();
  return {
    res,
    events,
    get ended() {
      return ended;
    },
    recordIds: () => events.flatMap((e) => (e.type === 'record' ? [e.record.id] : [])),
    close: async () => {
      ctrl.abort();
      await reading;
    },
  };
}

t.test('hands off from stored records to live ones: every id once, in the order stored → live', async (t) => {
  const agg = await startTestAggregator(t, { name: 'tailroute' });
  const ingestToken = await agg.ingestToken('tailc');
  const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
  const base = Date.now() - 30_000;
  const ts = (ms: number) => new Date(base + ms).toISOString().replace('Z', '000000Z');
  const stored = [0, 1, 2].map((i) =>
    record({ cluster: 'tailc', id: `tailtest-stored-${i}`, timestamp: ts(i * 10), message: `stored ${i}` }),
  );
  t.equal((await ingest(agg.url, ingestToken, ndjson(stored))).status, 200);
  await agg.refresh();
  // Stored but possibly not yet searchable when the tail opens: the second read finds it.
  const late = record({ cluster: 'tailc', id: 'tailtest-late-0', timestamp: ts(100), message: 'late' });
  t.equal((await ingest(agg.url, ingestToken, ndjson([late]))).status, 200);

  const tail = await openTail(agg.url, reader, { cluster: 'tailc', since: stored[1]!.timestamp });
  t.teardown(() => tail.close());
  t.equal(tail.res.status, 200);
  t.match(tail.res.headers.get('content-type'), /application\/x-ndjson/);
  await waitFor(() => tail.events.some((e) => e.type === 'ready'), { what: 'the ready event' });
  const live = [0, 1].map((i) =>
    record({ cluster: 'tailc', id: `tailtest-live-${i}`, timestamp: ts(200 + i), message: `live ${i}` }),
  );
  t.equal((await ingest(agg.url, ingestToken, ndjson(live))).status, 200);
  // Resent by an agent (same ids): not shown again.
  t.equal((await ingest(agg.url, ingestToken, ndjson(live))).status, 200);
  await waitFor(() => tail.events.some((e) => e.type === 'caught_up'), {
    what: 'caught_up after the second store read',
    timeoutMs: 20_000,
  });
  await waitFor(() => tail.recordIds().includes('tailtest-live-1'), { what: 'the live records' });

  const ids = tail.recordIds();
  t.same(
    [...ids].sort(),
    ['tailtest-late-0', 'tailtest-live-0', 'tailtest-live-1', 'tailtest-stored-1', 'tailtest-stored-2'],
    'records from `since` on, each once',
  );
  t.equal(tail.events[0]!.type, 'ready');
  t.ok(
    ids.indexOf('tailtest-stored-1') < ids.indexOf('tailtest-live-0') &&
      ids.indexOf('tailtest-stored-2') < ids.indexOf('tailtest-live-0'),
    'the first store read comes before live records',
  );
  const caught = tail.events.find((e) => e.type === 'caught_up') as Extract<TailEvent, { type: 'caught_up' }>;
  t.equal(caught.truncated, false);
});

t.test('the token scope applies to live records; naming a namespace outside it is 403; bad input is 400', async (t) => {
  const agg = await startTestAggregator(t, { name: 'tailscope' });
  const ingestToken = await agg.ingestToken('tails');
  const shopOnly = await agg.createToken({ name: 'shop', scopes: ['logs:read'], namespaces: ['shop'] });
  const tail = await openTail(agg.url, shopOnly, {});
  t.teardown(() => tail.close());
  await waitFor(() => tail.events.some((e) => e.type === 'ready'), { what: 'the ready event' });
  const recs = [
    record({ cluster: 'tails', namespace: 'payments', id: 'tailtest-pay-1' }),
    record({ cluster: 'tails', namespace: 'shop', id: 'tailtest-shop-1' }),
  ];
  t.equal((await ingest(agg.url, ingestToken, ndjson(recs))).status, 200);
  await waitFor(() => tail.recordIds().includes('tailtest-shop-1'), { what: 'the shop record' });
  t.same(
    tail.recordIds(),
    ['tailtest-shop-1'],
    'the other namespace is not shown (it was published in the same batch, before)',
  );

  const outside = await fetch(`${agg.url}/v1/k8s/logs/tail?namespace=payments`, {
    headers: { authorization: `Bearer ${shopOnly}` },
  });
  t.equal(outside.status, 403);
  const noScope = await fetch(`${agg.url}/v1/k8s/logs/tail`, { headers: { authorization: `Bearer ${ingestToken}` } });
  t.equal(noScope.status, 403);
  const anon = await fetch(`${agg.url}/v1/k8s/logs/tail`);
  t.equal(anon.status, 401);
  for (const q of ['since=yesterday', 'since=now-48h', 'level=loud', 'nope=1']) {
    const res = await fetch(`${agg.url}/v1/k8s/logs/tail?${q}`, {
      headers: { authorization: `Bearer ${agg.adminToken}` },
    });
    t.equal(res.status, 400, q);
    t.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_request', q);
  }
});

t.test('closing the stream ends the subscription', async (t) => {
  const agg = await startTestAggregator(t, { name: 'tailclose' });
  const tail = await openTail(agg.url, agg.adminToken, {});
  await waitFor(() => tail.events.some((e) => e.type === 'ready'), { what: 'the ready event' });
  t.equal(agg.app.bulkWriter.tail.subscribers, 1);
  await tail.close();
  await waitFor(() => agg.app.bulkWriter.tail.subscribers === 0, { what: 'the subscription closed' });
});

const rec = (i: number): LogRecord => ({
  id: `ev-${i}`,
  timestamp: `2026-11-25T10:00:00.${String(i).padStart(9, '0')}Z`,
  cluster: 'c1',
  namespace: 'shop',
  pod: 'api-1',
  container: 'api',
  stream: 'stdout',
  level: 'info',
  message: `line ${i}`,
});

async function take(events: AsyncGenerator<TailEvent>, until: (e: TailEvent) => boolean): Promise<TailEvent[]> {
  const out: TailEvent[] = [];
  for (;;) {
    const n = await events.next();
    if (n.done) return out;
    out.push(n.value);
    if (until(n.value)) return out;
  }
}

t.test('a subscriber that fell behind gets a gap event with the lost count and span, then the rest', async (t) => {
  const feed = new TailFeed({ maxSubscribers: 1 });
  const sub = feed.subscribe({ match: () => true, maxBufferedRecords: 5 })!;
  const ctrl = new AbortController();
  const events = tailEvents({
    subscription: sub,
    since: null,
    backfillLimit: 10,
    settleMs: 0,
    heartbeatMs: 60_000,
    signal: ctrl.signal,
  });
  t.same(await take(events, () => true), [{ type: 'ready', since: null }]);
  feed.publish(Array.from({ length: 20 }, (_, i) => rec(i)));
  const got = await take(events, (e) => e.type === 'record' && e.record.id === 'ev-19');
  t.same(got[0], { type: 'gap', count: 15, from: rec(0).timestamp, to: rec(14).timestamp });
  t.same(
    got.slice(1).map((e) => (e.type === 'record' ? e.record.id : e.type)),
    [15, 16, 17, 18, 19].map((i) => `ev-${i}`),
  );
  ctrl.abort();
  await events.return(undefined);
  t.ok(sub.closed, 'the generator closes its subscription');
});

t.test(
  'records both stored and live are sent once: the second store read and the first live drain are merged by id',
  async (t) => {
    const feed = new TailFeed({ maxSubscribers: 1 });
    const sub = feed.subscribe({ match: () => true, maxBufferedRecords: 100 })!;
    let reads = 0;
    const ctrl = new AbortController();
    const events = tailEvents({
      subscription: sub,
      since: rec(0).timestamp,
      backfillLimit: 10,
      settleMs: 50,
      heartbeatMs: 60_000,
      signal: ctrl.signal,
      backfill: async () => {
        reads++;
        // First read: 0, 1. Second read also has 2 (received just before the tail opened) and
        // 3 (published live while the read ran, and stored by then).
        if (reads === 1) return { records: [rec(0), rec(1)], truncated: false };
        feed.publish([rec(3), rec(4)]);
        return { records: [rec(0), rec(1), rec(2), rec(3)], truncated: false };
      },
    });
    const got = await take(events, (e) => e.type === 'record' && e.record.id === 'ev-4');
    const ids = got.flatMap((e) => (e.type === 'record' ? [e.record.id] : []));
    t.same(ids, ['ev-0', 'ev-1', 'ev-2', 'ev-3', 'ev-4']);
    t.same(
      got.find((e) => e.type === 'caught_up'),
      { type: 'caught_up', backfilled: 4, truncated: false },
    );
    t.equal(reads, 2);
    ctrl.abort();
    await events.return(undefined);
  },
);
