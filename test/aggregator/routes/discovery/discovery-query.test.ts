import t from 'tap';
import { encodeCursor } from '../../../../aggregator/http/cursor.ts';
import {
  compileDiscoverySearch,
  decodeDiscoveryCursor,
  encodeDiscoveryCursor,
  liveItemInScope,
  mergeDiscoveryPage,
  type IndexedItem,
  type LiveItem,
} from '../../../../aggregator/routes/discovery/discovery-query.ts';

const ix = (key: string[], logCount: number, first = 1000, last = 2000): IndexedItem => ({ key, logCount, firstSeenMs: first, lastSeenMs: last });
const lv = (key: string[], phase?: string): LiveItem => ({ key, ...(phase ? { phase } : {}) });

t.test('mergeDiscoveryPage', async (t) => {
  const cases: Array<{ name: string; indexed: IndexedItem[]; live: LiveItem[]; after?: string[]; limit: number; want: Array<[string, boolean, number]>; more: boolean }> = [
    {
      name: 'union in key order; live-only items have no counts',
      indexed: [ix(['a', 'ns1'], 5), ix(['a', 'ns3'], 2)],
      live: [lv(['a', 'ns2']), lv(['a', 'ns3'])],
      limit: 10,
      want: [['a/ns1', false, 5], ['a/ns2', true, 0], ['a/ns3', true, 2]],
      more: false,
    },
    {
      name: 'index truncated: live items past the last fetched index key wait',
      indexed: [ix(['a', 'b'], 1), ix(['a', 'd'], 1), ix(['a', 'f'], 1)],
      live: [lv(['a', 'a']), lv(['a', 'z'])],
      limit: 2,
      want: [['a/a', true, 0], ['a/b', false, 1]],
      more: true,
    },
    {
      name: 'live items at or before the cursor are skipped',
      indexed: [ix(['a', 'm'], 3)],
      live: [lv(['a', 'c']), lv(['a', 'k']), lv(['a', 'x'])],
      after: ['a', 'k'],
      limit: 5,
      want: [['a/m', false, 3], ['a/x', true, 0]],
      more: false,
    },
    {
      name: 'live only, more than a page',
      indexed: [],
      live: [lv(['b', 'x']), lv(['a', 'y']), lv(['a', 'x'])],
      limit: 2,
      want: [['a/x', true, 0], ['a/y', true, 0]],
      more: true,
    },
  ];
  for (const c of cases) {
    const got = mergeDiscoveryPage(c.indexed, c.live, c.after, c.limit);
    t.same(got.items.map((i) => [i.key.join('/'), i.live, i.log_count]), c.want, c.name);
    t.equal(got.hasMore, c.more, `${c.name}: has_more`);
  }
  const [merged] = mergeDiscoveryPage([ix(['a', 'p', 'pod'], 4, Date.parse('2026-03-10T10:00:00.123Z'), Date.parse('2026-03-10T11:00:00Z'))], [lv(['a', 'p', 'pod'], 'Running')], undefined, 10).items;
  t.same(merged, { key: ['a', 'p', 'pod'], live: true, log_count: 4, first_seen: '2026-03-10T10:00:00.123Z', last_seen: '2026-03-10T11:00:00.000Z', phase: 'Running' });
});

t.test('the token scope always lands in the index query', async (t) => {
  const body = compileDiscoverySearch({
    level: 'pod', scope: { clusters: ['a'], namespaces: ['shop'] }, namespaces: ['shop'], startNs: 0n, endNs: 10n, limit: 50, after: ['a', 'shop', 'x'],
  }) as { query: { bool: { filter: unknown[] } }; aggs: { items: { composite: Record<string, unknown> } } };
  t.match(body.query.bool.filter, [{ range: {} }, { terms: { cluster: ['a'] } }, { terms: { namespace: ['shop'] } }, { terms: { namespace: ['shop'] } }]);
  t.equal(body.aggs.items.composite['size'], 51);
  t.same(body.aggs.items.composite['after'], { cluster: 'a', namespace: 'shop', pod: 'x' });
});

t.test('liveItemInScope', async (t) => {
  const q = { level: 'container' as const, scope: { clusters: null, namespaces: ['shop', 'web'] }, namespaces: ['shop'], pods: ['api'], startNs: 0n, endNs: 0n, limit: 1 };
  t.equal(liveItemInScope(q, ['c', 'shop', 'api', 'main']), true);
  t.equal(liveItemInScope(q, ['c', 'web', 'api', 'main']), false, 'filter');
  t.equal(liveItemInScope({ ...q, namespaces: undefined }, ['c', 'kube-system', 'api', 'main']), false, 'scope');
  t.equal(liveItemInScope(q, ['c', 'shop', 'worker', 'main']), false, 'pod filter');
});

t.test('cursors round-trip and reject garbage, another level or another query', async (t) => {
  const c = { after: ['a', 'b'], startNs: 1n, endNs: 99n };
  const cursor = encodeDiscoveryCursor('namespace', 'digest-1', c);
  const refused = { code: 'invalid_cursor' };
  t.same(decodeDiscoveryCursor(cursor, 'namespace', 'digest-1'), c);
  t.throws(() => decodeDiscoveryCursor(cursor, 'pod', 'digest-1'), refused, 'another level');
  t.throws(() => decodeDiscoveryCursor(cursor, 'namespace', 'digest-2'), refused, 'another query');
  const forged = encodeCursor('discovery:namespace', 'digest-1', [['a', 'b'], '99', '1']);
  for (const bad of ['', 'garbage', Buffer.from('[1,2]').toString('base64url'), forged]) {
    t.throws(() => decodeDiscoveryCursor(bad, 'namespace', 'digest-1'), refused, bad);
  }
});
