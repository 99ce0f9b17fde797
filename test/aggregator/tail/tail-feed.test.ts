import t from 'tap';
import { gzipSync } from 'node:zlib';
import { TailFeed, mergeLive } from '../../../aggregator/tail/tail-feed.ts';
import { tailMatcher } from '../../../aggregator/tail/tail-matcher.ts';
import { buildApp } from '../../../aggregator/app.ts';
import { configWith } from '../../../aggregator/config.ts';
import type { LogRecord } from '../../../shared/record.ts';
import { ndjson, record } from '../../helpers/records.ts';
import { createOpenSearchClient } from '../../../aggregator/store/opensearch.ts';
import { openSearchUrl, uniquePrefix } from '../../helpers/services.ts';

const rec = (i: number, over: Partial<LogRecord> = {}): LogRecord => ({
  id: `tail-rec-${String(i).padStart(6, '0')}`,
  timestamp: `2026-11-25T10:00:00.${String(i).padStart(9, '0')}Z`,
  cluster: 'c1',
  namespace: 'shop',
  pod: 'api-1',
  container: 'api',
  stream: 'stdout',
  level: 'info',
  message: `line ${i}`,
  ...over,
});
const all = { scope: { clusters: null, namespaces: null } };

t.test('a subscriber gets the matching records of each published batch, in order; others see nothing', async (t) => {
  const feed = new TailFeed({ maxSubscribers: 4 });
  const shop = feed.subscribe({ match: tailMatcher({ ...all, namespaces: ['shop'] }), maxBufferedRecords: 100 })!;
  const other = feed.subscribe({ match: tailMatcher({ ...all, namespaces: ['payments'] }), maxBufferedRecords: 100 })!;
  feed.publish([rec(1), rec(2, { namespace: 'data' }), rec(3)]);
  feed.publish([rec(4)]);
  const got = await shop.next();
  t.same(
    got.records.map((r) => r.id),
    [rec(1), rec(3), rec(4)].map((r) => r.id),
  );
  t.equal(got.gap, undefined);
  // `next` waits for the next matching batch; a non-matching one does not wake it.
  let woke = false;
  const waiting = other.next().then((x) => ((woke = true), x));
  feed.publish([rec(5)]);
  await Promise.resolve();
  t.notOk(woke, 'nothing for payments yet');
  feed.publish([rec(6, { namespace: 'payments' })]);
  t.same(
    (await waiting).records.map((r) => r.id),
    [rec(6).id],
  );
});

t.test(
  'a slow subscriber loses the oldest records, told how many and which span, and never blocks publish',
  async (t) => {
    const feed = new TailFeed({ maxSubscribers: 1 });
    const sub = feed.subscribe({ match: () => true, maxBufferedRecords: 3 })!;
    feed.publish([rec(1), rec(2)]);
    feed.publish([rec(3), rec(4), rec(5)]);
    const got = await sub.next();
    t.same(
      got.records.map((r) => r.id),
      [rec(3), rec(4), rec(5)].map((r) => r.id),
      'the newest 3 kept',
    );
    t.same(got.gap, { count: 2, fromTimestamp: rec(1).timestamp, toTimestamp: rec(2).timestamp });
    t.equal(sub.lost, 2);
    feed.publish([rec(6)]);
    t.equal((await sub.next()).gap, undefined, 'a gap is reported once');
  },
);

t.test('subscriptions are bounded; close ends a waiting next and frees the slot', async (t) => {
  const feed = new TailFeed({ maxSubscribers: 1 });
  const a = feed.subscribe({ match: () => true, maxBufferedRecords: 10 })!;
  t.equal(feed.subscribe({ match: () => true, maxBufferedRecords: 10 }), undefined, 'full');
  const pending = a.next();
  a.close();
  t.same((await pending).records, []);
  t.equal(feed.subscribers, 0);
  const b = feed.subscribe({ match: () => true, maxBufferedRecords: 10 })!;
  t.ok(b, 'the slot is free again');
  const ac = new AbortController();
  const aborted = b.next(ac.signal);
  ac.abort();
  t.same((await aborted).records, [], 'an aborted next resolves empty');
  feed.close();
  t.ok(b.closed, 'feed.close closes every subscription');
});

t.test('the matcher applies the access scope whatever the selector asks, and exact substrings', async (t) => {
  const scoped = tailMatcher({ scope: { clusters: ['c1'], namespaces: ['shop'] }, namespaces: ['shop', 'payments'] });
  t.ok(scoped(rec(1)));
  t.notOk(scoped(rec(1, { namespace: 'payments' })), 'outside the token scope');
  t.notOk(scoped(rec(1, { cluster: 'c2' })));
  const sub = tailMatcher({
    ...all,
    contains: [
      { value: 'Reset By', caseInsensitive: true },
      { value: 'tcp', caseInsensitive: false },
    ],
  });
  t.ok(sub(rec(1, { message: 'read tcp: connection reset by peer' })));
  t.notOk(sub(rec(1, { message: 'read TCP: connection reset by peer' })), 'case-sensitive one');
  t.notOk(sub(rec(1, { message: 'read tcp: connection reset' })));
  t.ok(tailMatcher({ ...all, pods: ['api-1'], levels: ['info', 'warn'] })(rec(1)));
  t.notOk(tailMatcher({ ...all, levels: ['error'] })(rec(1)));
});

t.test('mergeLive adds each stored record once and skips what the live feed delivered', async (t) => {
  const seen = new Set([rec(2).id]);
  t.same(
    mergeLive([rec(1), rec(2), rec(3)], seen).map((r) => r.id),
    [rec(1).id, rec(3).id],
  );
  t.same(
    mergeLive([rec(3), rec(4)], seen).map((r) => r.id),
    [rec(4).id],
  );
});

t.test(
  'an ingested line is in the live tail while its bulk request is still held from the store, and a resend is not shown twice',
  async (t) => {
    const url = await openSearchUrl(t);
    const prefix = uniquePrefix('tailfeed');
    const config = configWith({
      opensearchUrl: url,
      indexPrefix: prefix,
      adminToken: 'tail-feed-test-admin-token',
      ingest: { maxRecordAgeMs: 3650 * 86_400_000 },
    });
    // A store whose _bulk waits for the test: the batch is neither stored nor acknowledged.
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
      await fetch(`${url}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
      await fetch(`${url}/_index_template/${prefix}-logs`, { method: 'DELETE' }).catch(() => {});
    });
    await app.prepareStore();
    const made = await app.inject({
      method: 'POST',
      url: '/v1/k8s/logs/tokens',
      headers: { authorization: 'Bearer tail-feed-test-admin-token' },
      payload: { name: 'agent', scopes: ['ingest'], clusters: ['alpha'] },
    });
    const tok = (made.json() as { token: string }).token;
    const send = (records: object[]) =>
      app.inject({
        method: 'POST',
        url: '/v1/ingest',
        headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
        payload: gzipSync(ndjson(records)),
      });
    const sub = app.bulkWriter.tail.subscribe({
      match: tailMatcher({ ...all, clusters: ['alpha'] }),
      maxBufferedRecords: 100,
    })!;
    const line = record({ cluster: 'alpha', message: 'tail me' });
    const answered = send([line]);
    await inBulk;
    // The bulk request is held: nothing is stored or acknowledged, the live view has it already.
    const got = await sub.next(AbortSignal.abort());
    t.same(
      got.records.map((r) => r.message),
      ['tail me'],
    );
    release();
    t.equal((await answered).statusCode, 200);
    // The agent's resend (e.g. after a lost answer) goes to the store again but not to the view.
    // (The gate is released for good: this bulk passes straight through.)
    t.equal((await send([line])).statusCode, 200);
    t.same((await sub.next(AbortSignal.abort())).records, [], 'shown once');
    sub.close();
  },
);
