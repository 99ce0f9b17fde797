/**
 * Loki tail on a client that cannot keep up: the feed drops what the subscription cannot
 * buffer, and the next tail message says so in `dropped_entries` (first and last
 * timestamp of the lost span) beside the entries that were kept.
 */
import t from 'tap';
import { WebSocket } from 'undici';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import { waitFor } from '../../helpers/wait-for.ts';

// Two records buffered per live view: a batch of five overflows it at once.
const agg = await startTestAggregator(t, { name: 'lokitaildrop', ingest: { liveTailBufferRecords: 2 } });
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
const ingestToken = await agg.ingestToken('alpha');

t.test('records the feed dropped are reported as dropped_entries', async (t) => {
  const url = `${agg.url.replace('http', 'ws')}/loki/api/v1/tail?${new URLSearchParams({ query: '{namespace="shop"}' })}`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${reader}` } } as any);
  t.teardown(() => ws.close());
  const messages: any[] = [];
  ws.addEventListener('message', (e) => messages.push(JSON.parse(String(e.data))));
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error('tail socket failed to open')));
  });
  // No backfill message comes (nothing stored): wait until the subscription exists instead.
  await waitFor(() => agg.app.bulkWriter.tail.subscribers === 1, { what: 'the tail subscription' });
  const t0 = Date.now();
  const stamp = (i: number) => new Date(t0 + i).toISOString().replace('Z', '000000Z');
  const batch = [0, 1, 2, 3, 4].map((i) =>
    record({ cluster: 'alpha', namespace: 'shop', pod: 'p', timestamp: stamp(i), message: `burst ${i}` }),
  );
  t.equal((await ingest(agg.url, ingestToken, ndjson(batch))).status, 200);
  const msg = await waitFor(() => messages[0], { what: 'the tail message after the burst' });
  t.same(
    msg.streams.flatMap((s: any) => s.values.map((v: any) => v[1])),
    ['burst 3', 'burst 4'],
    'the newest two kept',
  );
  const ns = (i: number) => String(BigInt(t0 + i) * 1_000_000n);
  t.same(msg.dropped_entries, [{ timestamp: ns(0) }, { timestamp: ns(2) }], 'the lost span: burst 0 to burst 2');
});
