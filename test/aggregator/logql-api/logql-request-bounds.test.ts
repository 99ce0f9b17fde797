/**
 * Request bounds of the LogQL routes (`POST /search/logql` and the Loki API), against a real
 * aggregator on real OpenSearch: which rate class each route is in (the class also picks the
 * store timeout and the longest window, query/query-budget.ts), read from the limit the
 * route answers in `X-RateLimit-Limit`; and the query timeout, made certain rather than
 * hoped for: a recording proxy in front of OpenSearch (test/helpers/store-proxy.ts) holds the
 * query's search of the log indices, so the store cannot answer before the timeout.
 */
import t from 'tap';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import type { LogRecord } from '../../../shared/record.ts';

const base = Date.parse('2026-11-25T10:00:00Z');
const ts = (i: number) => new Date(base + i * 1000).toISOString().replace('Z', '000000Z');
const START = String(BigInt(base - 60_000) * 1_000_000n);
const END = String(BigInt(base + 60_000) * 1_000_000n);

function seed(n: number): LogRecord[] {
  const out: LogRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      record({
        cluster: 'alpha',
        namespace: 'shop',
        pod: 'shop-api-1',
        container: 'main',
        timestamp: ts(i),
        level: 'info',
        message: `level=info status=200 msg="req ${i}"`,
      }),
    );
  }
  return out;
}

t.test(
  'LogQL and Loki query routes are heavy-class requests; label, series and stats look-ups are standard',
  async (t) => {
    // Limits far above what the test sends, and different, so the header tells the class.
    const agg = await startTestAggregator(t, {
      name: 'logqlclass',
      rateLimit: { standardPerMinute: 100_000, heavyPerMinute: 1000 },
    });
    const reader = await agg.createToken({ name: 'r', scopes: ['logs:read'] });
    const seeded = await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(seed(5)));
    t.equal(seeded.status, 200);
    await agg.refresh();
    const auth = { authorization: `Bearer ${reader}` };

    const product = await fetch(`${agg.url}/v1/k8s/logs/search/logql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{namespace="shop"}', start: START, end: END }),
    });
    t.equal(product.status, 200, await product.text());
    t.equal(product.headers.get('x-ratelimit-limit'), '1000', 'POST /search/logql: heavy');

    const sel = '{namespace="shop"}';
    const range = { query: sel, start: START, end: END };
    const metricRange = { query: `count_over_time(${sel}[1m])`, start: START, end: END, step: '60' };
    const heavy: Array<[string, Record<string, string>]> = [
      ['/query', { query: `count_over_time(${sel}[5m])`, time: END }],
      ['/query_range', range],
      ['/query_range', metricRange],
      ['/index/volume_range', { ...range, step: '60' }],
      ['/detected_fields', range],
      ['/detected_field/status/values', range],
      ['/patterns', { ...range, step: '60' }],
    ];
    const standard: Array<[string, Record<string, string>]> = [
      ['/labels', { start: START, end: END }],
      ['/label/namespace/values', { start: START, end: END }],
      ['/series', { 'match[]': sel, start: START, end: END }],
      ['/index/stats', range],
      ['/index/volume', range],
      ['/detected_labels', range],
      ['/format_query', { query: sel }],
      ['/status/buildinfo', {}],
    ];
    for (const [routes, limit, cls] of [
      [heavy, '1000', 'heavy'],
      [standard, '100000', 'standard'],
    ] as const) {
      for (const [path, params] of routes) {
        const qs = new URLSearchParams(params).toString();
        const get = await fetch(`${agg.url}/loki/api/v1${path}?${qs}`, { headers: auth });
        t.equal(get.status, 200, `GET ${path}: ${await get.text()}`);
        t.equal(get.headers.get('x-ratelimit-limit'), limit, `GET ${path}: ${cls}`);
        const post = await fetch(`${agg.url}/loki/api/v1${path}`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
          body: qs,
        });
        t.equal(post.status, 200, `POST ${path}: ${await post.text()}`);
        t.equal(post.headers.get('x-ratelimit-limit'), limit, `POST ${path}: ${cls}`);
      }
    }
    // The tail is heavy too; a plain GET (no upgrade) is answered 400 after the class is counted.
    const tail = await fetch(`${agg.url}/loki/api/v1/tail?${new URLSearchParams({ query: sel })}`, { headers: auth });
    t.equal(tail.status, 400);
    t.equal(tail.headers.get('x-ratelimit-limit'), '1000', 'GET /tail: heavy');
  },
);

/** The next search of the log indices (not a system index, not a point-in-time open or close). */
const logSearch = (method: string, path: string) =>
  method === 'POST' && path.includes('/_search') && !path.startsWith('/.') && !path.includes('point_in_time');

t.test(
  'a LogQL query past its store timeout is 504 query_timeout on POST /search/logql and the Loki query routes',
  async (t) => {
    const agg = await startTestAggregator(t, {
      name: 'logqltimeout',
      storeProxy: true,
      query: { standardTimeoutMs: 200, heavyTimeoutMs: 300 },
    });
    const proxy = agg.storeProxy!;
    const reader = await agg.createToken({ name: 'r', scopes: ['logs:read'] });
    const seeded = await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(seed(20)));
    t.equal(seeded.status, 200);
    await agg.refresh();
    const auth = { authorization: `Bearer ${reader}` };
    const query = 'sum(count_over_time({namespace="shop"} |= "req" [1m]))';
    const search = () =>
      fetch(`${agg.url}/v1/k8s/logs/search/logql`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ query, start: START, end: END, step: 60 }),
      });
    const lokiRange = () =>
      fetch(
        `${agg.url}/loki/api/v1/query_range?${new URLSearchParams({ query, start: START, end: END, step: '60' })}`,
        {
          headers: auth,
        },
      );

    // Unheld, the same query reads the seeded lines and answers in time.
    const ok = await search();
    t.equal(ok.status, 200);
    const okBody = (await ok.json()) as {
      result: Array<{ values: [number, string][] }>;
      stats: { store_searches: number };
    };
    t.equal(
      okBody.result.flatMap((r) => r.values.map(([, v]) => Number(v))).reduce((a, b) => a + b, 0),
      20,
      'each seeded line counted in one 1m window of the 60 s steps',
    );
    t.ok(okBody.stats.store_searches > 0, 'from the store');
    t.equal((await lokiRange()).status, 200);

    const held = proxy.hold(logSearch);
    const timedOut = await search();
    await held.reached;
    held.release();
    t.equal(timedOut.status, 504);
    const body = (await timedOut.json()) as { error: { code: string; message: string } };
    t.equal(body.error.code, 'query_timeout');
    t.match(
      body.error.message,
      /longer than 300 ms and was cancelled; narrow the time window or the filters/,
      'the heavy timeout',
    );

    // Loki answers a query past its timeout 504 with this text (pkg/util/server/error.go).
    const heldLoki = proxy.hold(logSearch);
    const lokiTimedOut = await lokiRange();
    await heldLoki.reached;
    heldLoki.release();
    t.equal(lokiTimedOut.status, 504);
    t.match(lokiTimedOut.headers.get('content-type'), /^text\/plain/);
    t.equal(
      await lokiTimedOut.text(),
      'request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed',
    );

    const heldLog = proxy.hold(logSearch);
    const logTimedOut = await fetch(
      `${agg.url}/loki/api/v1/query_range?${new URLSearchParams({ query: '{namespace="shop"} |= "req"', start: START, end: END })}`,
      { headers: auth },
    );
    await heldLog.reached;
    heldLog.release();
    t.equal(logTimedOut.status, 504, 'a log query too');

    // After the release the held searches are answered to nobody; the next query is served.
    t.equal((await search()).status, 200);
  },
);
