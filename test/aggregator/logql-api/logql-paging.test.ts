/**
 * Paging of LogQL log queries on real OpenSearch (POST /v1/k8s/logs/search/logql): the
 * cursor carries the last entry's timestamp *and* record id, so many lines sharing one
 * nanosecond across page boundaries are each returned exactly once, in both directions;
 * and the store's own `search_after` pages (1000 hits) do not lose or repeat lines whose
 * timestamps differ by less than JSON's 2^53 precision of a nanosecond sort value.
 */
import t from 'tap';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import type { LogRecord } from '../../../shared/record.ts';
import { formatNanos, parseRfc3339Nanos } from '../../../shared/time.ts';

const agg = await startTestAggregator(t, { name: 'logqlpage' });
const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });

const T = parseRfc3339Nanos('2026-11-25T10:00:00.123456789Z')!;
const all: LogRecord[] = [];
// 3 pods × 20 lines at exactly T, framed by 5 lines each at T-1 and T+1.
for (const [offset, perPod] of [
  [-1n, 5],
  [0n, 20],
  [1n, 5],
] as const) {
  for (const pod of ['a-1', 'b-1', 'c-1']) {
    for (let i = 0; i < perPod; i++) {
      all.push(
        record({
          cluster: 'alpha',
          namespace: 'ties',
          pod,
          container: 'main',
          timestamp: formatNanos(T + offset),
          message: `tie ${pod} ${offset} ${i}`,
        }),
      );
    }
  }
}
// 2,300 lines one nanosecond apart: the store reads them in 3 pages of 1000.
const DENSE = 2300;
for (let i = 0; i < DENSE; i++) {
  all.push(
    record({
      cluster: 'alpha',
      namespace: 'dense',
      pod: `p-${i % 4}`,
      container: 'main',
      timestamp: formatNanos(T + BigInt(i)),
      message: `dense ${i}`,
    }),
  );
}
const res = await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(all));
if (res.status !== 200) throw new Error(`seed ingest failed: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
await agg.refresh();

async function logql(body: Record<string, unknown>) {
  const r = await fetch(`${agg.url}/v1/k8s/logs/search/logql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
    body: JSON.stringify({ start: '2026-11-25T09:59:00Z', end: '2026-11-25T10:01:00Z', ...body }),
  });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
}

/** Every page of a query, in order: each entry as [ts, line]. */
async function pages(query: string, limit: number, direction: 'forward' | 'backward') {
  const out: [string, string][][] = [];
  let cursor: string | undefined;
  do {
    const got = await logql({ query, limit, direction, ...(cursor ? { cursor } : {}) });
    if (got.status !== 200) throw new Error(`${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
    const page = (got.body.result as Array<{ values: [string, string][] }>).flatMap((s) => s.values);
    out.push(page);
    cursor = got.body.next_cursor ?? undefined;
    if (out.length > 100) throw new Error('more than 100 pages');
  } while (cursor);
  return out;
}

const ties = all.filter((r) => r.namespace === 'ties');
for (const direction of ['forward', 'backward'] as const) {
  for (const limit of [7, 13, 30]) {
    t.test(`${direction}, limit ${limit}: 60 lines at one nanosecond, each exactly once`, async (t) => {
      const got = await pages('{namespace="ties"}', limit, direction);
      const lines = got.flat().map(([, line]) => line);
      t.equal(lines.length, ties.length, `${got.length} pages`);
      t.equal(new Set(lines).size, ties.length, 'no line twice');
      t.same(new Set(lines), new Set(ties.map((r) => r.message)), 'every line');
      t.ok(got.length >= Math.ceil(ties.length / limit), 'paged');
      // Pages follow each other in time: no page goes back past the previous one's edge.
      const ns = got.map((p) => p.map(([ts]) => BigInt(ts)));
      for (let i = 1; i < ns.length; i++) {
        if (ns[i]!.length === 0) continue;
        const prev = ns[i - 1]!;
        const edge =
          direction === 'forward' ? prev.reduce((a, b) => (b > a ? b : a)) : prev.reduce((a, b) => (b < a ? b : a));
        const first =
          direction === 'forward' ? ns[i]!.reduce((a, b) => (b < a ? b : a)) : ns[i]!.reduce((a, b) => (b > a ? b : a));
        t.ok(direction === 'forward' ? first >= edge : first <= edge, `page ${i} continues from ${edge}`);
      }
    });
  }
}

t.test('a filtered query pages through ties too (the cursor is the last line returned, not scanned)', async (t) => {
  const got = await pages('{namespace="ties"} |~ "tie (a|c)-1 0 "', 4, 'backward');
  const lines = got.flat().map(([, line]) => line);
  t.equal(lines.length, 40);
  t.equal(new Set(lines).size, 40);
});

for (const direction of ['forward', 'backward'] as const) {
  t.test(`${direction}: ${DENSE} lines 1 ns apart in one request, across the store's pages`, async (t) => {
    const got = await logql({ query: '{namespace="dense"}', limit: 5000, direction });
    t.equal(got.status, 200);
    const lines = (got.body.result as Array<{ values: [string, string][] }>).flatMap((s) => s.values.map(([, l]) => l));
    t.equal(lines.length, DENSE);
    t.equal(new Set(lines).size, DENSE, 'no line twice');
    t.equal(got.body.has_more, false);
  });
}

t.test('a cursor of the old shape (timestamp only) is refused', async (t) => {
  const first = await logql({ query: '{namespace="ties"}', limit: 5 });
  const decoded = JSON.parse(Buffer.from(first.body.next_cursor as string, 'base64url').toString('utf8'));
  decoded[3] = { b: decoded[3].b };
  const bad = await logql({
    query: '{namespace="ties"}',
    limit: 5,
    cursor: Buffer.from(JSON.stringify(decoded)).toString('base64url'),
  });
  t.equal(bad.status, 400);
});
