import t from 'tap';
import type { LogRecord } from '../../../shared/record.ts';
import type { TailSubscription, TailGap } from '../../../aggregator/tail/tail-feed.ts';
import {
  PeerLineSplitter,
  PeerWireError,
  decodeLine,
  encodeGap,
  encodeRecords,
} from '../../../aggregator/tail/peer-wire.ts';
import { PEER_STREAM_PATH } from '../../../aggregator/tail/peer-links.ts';
import { startTestAggregator, type TestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const PEER_TOKEN = 'peer-links-test-shared-secret';

/** Reads a view until `want` ids have arrived (with a deadline); returns them and the gaps seen. */
async function collect(sub: TailSubscription, want: readonly string[], timeoutMs = 20_000) {
  const got: LogRecord[] = [];
  const gaps: TailGap[] = [];
  const deadline = AbortSignal.timeout(timeoutMs);
  while (!want.every((id) => got.some((r) => r.id === id))) {
    if (deadline.aborted) throw new Error(`view got ${got.map((r) => r.id).join(',')} of ${want.join(',')}`);
    const { records, gap } = await sub.next(deadline);
    got.push(...records);
    if (gap) gaps.push(gap);
  }
  return { got, gaps };
}

t.test(
  'two replicas: a line ingested on one is in the live view of the other, once, and never sent back',
  async (t) => {
    // Both replicas get the same list, themselves included (as from a headless Service).
    const urls: string[] = [];
    const opts = { ingest: { liveTailPeerToken: PEER_TOKEN }, deps: { tailPeers: () => urls } };
    const a: TestAggregator = await startTestAggregator(t, { name: 'peer-a', ...opts });
    const b: TestAggregator = await startTestAggregator(t, { name: 'peer-b', ...opts });
    urls.push(a.url, b.url);
    const linksA = a.app.peerLinks!;
    const linksB = b.app.peerLinks!;

    const viewB = b.app.bulkWriter.tail.subscribe({ match: () => true, maxBufferedRecords: 1000 })!;
    t.teardown(() => viewB.close());
    const openedAt = new Date().toISOString();
    await waitFor(() => linksB.connected.includes(a.url), { what: 'replica B linked to replica A', timeoutMs: 20_000 });
    t.same(linksB.connected, [a.url], 'B links only to A (its own URL in the list is not a peer)');
    t.equal(linksA.connected.length, 0, 'A has no view, so no link');

    const line = record({ cluster: 'fan', message: 'accepted by A, watched on B' });
    const res = await ingest(a.url, await a.ingestToken('fan'), ndjson([line]));
    t.equal(res.status, 200);
    const { got, gaps } = await collect(viewB, [line.id]);
    t.same(
      got.map((r) => [r.id, r.message]),
      [[line.id, 'accepted by A, watched on B']],
    );
    // Before the link was up, A's records could not reach B live: the view was told the span.
    t.ok(
      gaps.length >= 1 && gaps[0]!.fromTimestamp < openedAt,
      'gap from before the view opened to the link coming up',
    );

    // A view on A too: each replica now links to the other. A line accepted by B reaches A's
    // view, and is not streamed back from A to B (peer records go to views only).
    const viewA = a.app.bulkWriter.tail.subscribe({ match: () => true, maxBufferedRecords: 1000 })!;
    t.teardown(() => viewA.close());
    await waitFor(() => linksA.connected.includes(b.url), { what: 'replica A linked to replica B', timeoutMs: 20_000 });
    const receivedByB = linksB.received;
    const second = record({ cluster: 'fan', message: 'accepted by B' });
    t.equal((await ingest(b.url, await b.ingestToken('fan'), ndjson([second]))).status, 200);
    t.same(
      (await collect(viewA, [second.id])).got.map((r) => r.id),
      [second.id],
    );
    t.same(
      (await collect(viewB, [second.id])).got.map((r) => r.id),
      [second.id],
      'B sees its own line locally',
    );
    // A third line through A proves the stream from A to B is still in order; had A sent B's
    // line back, B would have received 2 records over the link, not 1.
    const third = record({ cluster: 'fan', message: 'accepted by A again' });
    t.equal((await ingest(a.url, await a.ingestToken('fan'), ndjson([third]))).status, 200);
    await collect(viewB, [third.id]);
    t.equal(linksB.received - receivedByB, 1, 'B received only the line A accepted itself');
  },
);

t.test('the peer stream refuses a wrong secret, and is absent without one', async (t) => {
  const a = await startTestAggregator(t, { name: 'peer-auth', ingest: { liveTailPeerToken: PEER_TOKEN } });
  const wrong = await fetch(`${a.url}${PEER_STREAM_PATH}`, { headers: { authorization: 'Bearer nope' } });
  t.equal(wrong.status, 401);
  t.match(await wrong.json(), { error: { code: 'unauthorized' } });
  const none = await startTestAggregator(t, { name: 'peer-none' });
  t.equal(none.app.peerLinks, undefined);
  const res = await fetch(`${none.url}${PEER_STREAM_PATH}`, { headers: { authorization: `Bearer ${PEER_TOKEN}` } });
  t.equal(res.status, 404);
  await res.body?.cancel();
});

t.test(
  'wire: records in bounded lines, gaps and heartbeats decode; an oversized or foreign line is refused',
  async (t) => {
    const recs = Array.from({ length: 1201 }, (_, i) => record({ cluster: 'w', message: `m${i}` }));
    const text = encodeRecords(recs) + encodeGap({ count: 3, fromTimestamp: 'a', toTimestamp: 'b' }) + '{}\n';
    const splitter = new PeerLineSplitter(1 << 20);
    // Fed in small pieces, across line boundaries.
    const buf = Buffer.from(text);
    const lines: string[] = [];
    for (let i = 0; i < buf.length; i += 777) lines.push(...splitter.push(buf.subarray(i, i + 777)));
    const events = lines.map(decodeLine);
    t.same(
      events.map((e) => (e.kind === 'records' ? e.records.length : e.kind)),
      [500, 500, 201, 'gap', 'heartbeat'],
    );
    t.same(
      events.flatMap((e) => (e.kind === 'records' ? e.records.map((r) => r.id) : [])),
      recs.map((r) => r.id),
    );
    t.throws(() => new PeerLineSplitter(100).push(Buffer.alloc(101, 0x61)), PeerWireError);
    t.throws(() => decodeLine('{"records":[{"id":1}]}'), PeerWireError);
    t.throws(() => decodeLine('{"other":true}'), PeerWireError);
  },
);

t.test(
  'feed: peer records reach views only, a missed span wakes a view without records, views are counted apart',
  async (t) => {
    const { TailFeed } = await import('../../../aggregator/tail/tail-feed.ts');
    const feed = new TailFeed({ maxSubscribers: 4 });
    const counts: number[] = [];
    feed.onViewsChanged((n) => counts.push(n));
    const view = feed.subscribe({ match: () => true, maxBufferedRecords: 10 })!;
    const peerStream = feed.subscribe({ match: () => true, maxBufferedRecords: 10, localOnly: true })!;
    t.equal(feed.views, 1);
    const local = record({ cluster: 'f' });
    const fromPeer = record({ cluster: 'f' });
    feed.publish([local]);
    feed.publish([fromPeer], 'peer');
    t.same(
      (await view.next()).records.map((r) => r.id),
      [local.id, fromPeer.id],
    );
    t.same(
      (await peerStream.next()).records.map((r) => r.id),
      [local.id],
      'a peer record is never streamed on to another peer',
    );
    const waiting = view.next();
    feed.missed({
      count: 0,
      fromTimestamp: '2026-12-02T00:00:00.000000000Z',
      toTimestamp: '2026-12-02T00:00:05.000000000Z',
    });
    t.same(await waiting, {
      records: [],
      gap: { count: 0, fromTimestamp: '2026-12-02T00:00:00.000000000Z', toTimestamp: '2026-12-02T00:00:05.000000000Z' },
    });
    t.same(await peerStream.next(AbortSignal.abort()), { records: [], gap: undefined }, 'peer streams are not told');
    view.close();
    peerStream.close();
    t.same(counts, [1, 0]);
  },
);
