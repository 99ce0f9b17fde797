/**
 * Starts the embedded OpenSearch (dev/opensearch/) in a temp dir and proves, against the
 * real server, every OpenSearch feature the aggregator relies on (DESIGN.md §2, §3):
 * wildcard `message` with a `text` sub-field, flat_object labels, date_nanos timestamps,
 * `_bulk` create with 409 on resend, regexp/wildcard/match/term queries, highlight,
 * date_histogram/terms aggregations, and a point-in-time + search_after page walk.
 *
 * The first run in a fresh checkout builds the Maven launcher (minutes when ~/.m2 is
 * empty); later runs reuse target/.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { killStaleOpenSearch, startOpenSearch } from '../../dev/opensearch/opensearch-process.ts';
import type { RunningOpenSearch } from '../../dev/opensearch/opensearch-process.ts';

t.setTimeout(15 * 60_000);

const INDEX = 'k8s-logs-test-2024.05.01';
const LEVELS_ERROR_EVERY = 4;
const APPS = ['api', 'worker', 'web'] as const;

interface LogDoc {
  id: string;
  timestamp: string;
  cluster: string;
  namespace: string;
  pod: string;
  container: string;
  stream: string;
  level: string;
  message: string;
  labels: Record<string, string>;
}

/**
 * 24 records over three minutes (8 per minute), nanosecond timestamps, every 4th an
 * error, apps round-robin, and two recognisable message shapes every 6 records.
 */
function makeDoc(i: number): LogDoc {
  const minute = Math.floor(i / 8);
  const second = String((i % 8) * 5).padStart(2, '0');
  const nanos = String(100_000_000 + i * 1000 + 7);
  let message = `GET /items/${i} 200 OK`;
  if (i % 6 === 0) message = `connection refused to db-${i}:5432`;
  if (i % 6 === 3) message = `request timeout after ${100 + i}ms`;
  return {
    id: `doc-${String(i).padStart(2, '0')}`,
    timestamp: `2024-05-01T10:0${minute}:${second}.${nanos}Z`,
    cluster: 'test',
    namespace: 'default',
    pod: `pod-${i % 2}`,
    container: 'app',
    stream: i % LEVELS_ERROR_EVERY === 0 ? 'stderr' : 'stdout',
    level: i % LEVELS_ERROR_EVERY === 0 ? 'error' : 'info',
    message,
    labels: { app: APPS[i % 3] ?? 'api', 'pod-template-hash': 'abc123' },
  };
}
const DOCS = Array.from({ length: 24 }, (_, i) => makeDoc(i));

interface Hit {
  _id: string;
  _source?: LogDoc;
  highlight?: Record<string, string[]>;
  fields?: Record<string, unknown[]>;
  sort?: unknown[];
}
interface SearchBody {
  hits: { total: { value: number }; hits: Hit[] };
  aggregations?: Record<
    string,
    { buckets: Array<{ key: unknown; key_as_string?: string; doc_count: number }> }
  >;
  pit_id?: string;
}
interface BulkItem {
  create: { _id: string; status: number; error?: { type: string } };
}

let node: RunningOpenSearch | undefined;
let dataDir = '';

t.before(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'k8s-logs-opensearch-'));
  node = await startOpenSearch({ dataDir, heapMb: 768, log: (msg) => t.comment(msg) });
  t.comment(`build ${node.buildMs} ms, ready ${node.readyMs} ms, pid ${node.pid}`);
});
t.teardown(async () => {
  await node?.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

async function call<T>(
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  if (!node) throw new Error('OpenSearch is not running');
  const ndjson = Array.isArray(body);
  const res = await fetch(node.url + urlPath, {
    method,
    headers:
      body === undefined
        ? {}
        : { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
    body:
      body === undefined
        ? undefined
        : ndjson
          ? body.map((line) => JSON.stringify(line)).join('\n') + '\n'
          : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function search(body: unknown, index = INDEX): Promise<SearchBody> {
  const res = await call<SearchBody>('POST', `/${index}/_search`, body);
  if (res.status !== 200)
    throw new Error(`search failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const ids = (hits: Hit[]): string[] => hits.map((h) => h._id).sort();
const idsWhere = (pred: (d: LogDoc) => boolean): string[] =>
  DOCS.filter(pred)
    .map((d) => d.id)
    .sort();

t.test(
  'an index template maps message as wildcard+text, labels as flat_object, timestamp as date_nanos',
  async (t) => {
    const put = await call('PUT', '/_index_template/k8s-logs-test', {
      index_patterns: ['k8s-logs-test-*'],
      template: {
        settings: { number_of_shards: 1, number_of_replicas: 0 },
        mappings: {
          dynamic: 'strict',
          properties: {
            id: { type: 'keyword' },
            timestamp: { type: 'date_nanos' },
            cluster: { type: 'keyword' },
            namespace: { type: 'keyword' },
            pod: { type: 'keyword' },
            container: { type: 'keyword' },
            stream: { type: 'keyword' },
            level: { type: 'keyword' },
            message: { type: 'wildcard', fields: { text: { type: 'text' } } },
            labels: { type: 'flat_object' },
          },
        },
      },
    });
    t.equal(put.status, 200, JSON.stringify(put.body));

    const lines: unknown[] = [];
    for (const doc of DOCS) lines.push({ create: { _index: INDEX, _id: doc.id } }, doc);
    const bulk = await call<{ errors: boolean; items: BulkItem[] }>(
      'POST',
      '/_bulk?refresh=true',
      lines,
    );
    t.equal(bulk.status, 200);
    t.equal(bulk.body.errors, false);
    t.same(
      bulk.body.items.map((i) => i.create.status),
      DOCS.map(() => 201),
    );

    const mapping = await call<
      Record<string, { mappings: { properties: Record<string, { type: string }> } }>
    >('GET', `/${INDEX}/_mapping`);
    const props = mapping.body[INDEX]?.mappings.properties;
    t.match(props, {
      message: { type: 'wildcard', fields: { text: { type: 'text' } } },
      labels: { type: 'flat_object' },
      timestamp: { type: 'date_nanos' },
      level: { type: 'keyword' },
    });
  },
);

t.test('bulk create of an existing id fails per item with 409, the others succeed', async (t) => {
  const fresh: LogDoc = { ...makeDoc(1), id: 'doc-99' };
  const resend = DOCS[5]!;
  const bulk = await call<{ errors: boolean; items: BulkItem[] }>('POST', '/_bulk?refresh=true', [
    { create: { _index: INDEX, _id: resend.id } },
    resend,
    { create: { _index: INDEX, _id: fresh.id } },
    fresh,
  ]);
  t.equal(bulk.status, 200);
  t.equal(bulk.body.errors, true);
  t.match(bulk.body.items, [
    {
      create: { _id: resend.id, status: 409, error: { type: 'version_conflict_engine_exception' } },
    },
    { create: { _id: fresh.id, status: 201 } },
  ]);
  // Drop the extra record so the remaining tests see exactly DOCS.
  const del = await call('DELETE', `/${INDEX}/_doc/${fresh.id}?refresh=true`);
  t.equal(del.status, 200);
  const count = await call<{ count: number }>('GET', `/${INDEX}/_count`);
  t.equal(count.body.count, DOCS.length);
});

t.test('regexp and wildcard queries match the whole message, case-sensitively', async (t) => {
  const regexp = await search({
    size: 50,
    query: { regexp: { message: 'request timeout after 1[01][0-9]ms' } },
  });
  t.same(
    ids(regexp.hits.hits),
    idsWhere((d) => /^request timeout after 1[01][0-9]ms$/.test(d.message)),
  );
  t.equal(regexp.hits.hits.length, 3, 'timeouts of 103, 109 and 115 ms, not 121 ms');

  const wildcard = await search({
    size: 50,
    query: { wildcard: { message: { value: '*refused to db-1?:*' } } },
  });
  t.same(ids(wildcard.hits.hits), ['doc-12', 'doc-18']);

  const upper = await search({
    size: 50,
    query: { wildcard: { message: { value: '*REFUSED*' } } },
  });
  t.equal(upper.hits.total.value, 0, 'wildcard field is case-sensitive by default');
  const insensitive = await search({
    size: 50,
    query: { wildcard: { message: { value: '*REFUSED*', case_insensitive: true } } },
  });
  t.equal(insensitive.hits.total.value, 4);
});

t.test('a match on message.text finds words and highlights them', async (t) => {
  const res = await search({
    size: 50,
    query: { match: { 'message.text': 'refused' } },
    highlight: { fields: { 'message.text': {} } },
  });
  t.same(
    ids(res.hits.hits),
    idsWhere((d) => d.message.includes('refused')),
  );
  for (const hit of res.hits.hits) {
    t.match(hit.highlight?.['message.text']?.[0], /connection <em>refused<\/em> to db-\d+:5432/);
  }
});

t.test('a term on a flat_object sub-key filters by pod label', async (t) => {
  const res = await search({ size: 50, query: { term: { 'labels.app': 'api' } } });
  t.same(
    ids(res.hits.hits),
    idsWhere((d) => d.labels.app === 'api'),
  );
  t.equal(res.hits.hits.length, 8);
});

t.test('date_nanos keeps nanoseconds in ranges and doc values', async (t) => {
  const target = DOCS[5]!;
  const res = await search({
    size: 50,
    query: { range: { timestamp: { gte: target.timestamp, lte: target.timestamp } } },
    docvalue_fields: [{ field: 'timestamp', format: 'strict_date_optional_time_nanos' }],
    _source: false,
  });
  t.same(ids(res.hits.hits), [target.id]);
  t.same(res.hits.hits[0]?.fields?.timestamp, [target.timestamp]);
});

t.test('date_histogram and terms aggregations count per minute and per level', async (t) => {
  const res = await search({
    size: 0,
    aggs: {
      per_minute: { date_histogram: { field: 'timestamp', fixed_interval: '1m' } },
      levels: { terms: { field: 'level' } },
    },
  });
  t.same(
    res.aggregations?.per_minute?.buckets.map((b) => [b.key_as_string, b.doc_count]),
    [
      ['2024-05-01T10:00:00.000Z', 8],
      ['2024-05-01T10:01:00.000Z', 8],
      ['2024-05-01T10:02:00.000Z', 8],
    ],
  );
  t.same(
    res.aggregations?.levels?.buckets.map((b) => [b.key, b.doc_count]),
    [
      ['info', 18],
      ['error', 6],
    ],
  );
});

t.test(
  'a point in time with search_after walks every record once and ignores later writes',
  async (t) => {
    const pit = await call<{ pit_id: string }>(
      'POST',
      `/${INDEX}/_search/point_in_time?keep_alive=1m`,
    );
    t.equal(pit.status, 200, JSON.stringify(pit.body));
    const pitId = pit.body.pit_id;

    // Written after the PIT was opened: the walk must not see it.
    const late = await call('PUT', `/${INDEX}/_create/doc-late?refresh=true`, {
      ...makeDoc(7),
      id: 'doc-late',
    });
    t.equal(late.status, 201);

    const seen: string[] = [];
    let pages = 0;
    let after: unknown[] | undefined;
    for (;;) {
      const res = await call<SearchBody>('POST', '/_search', {
        size: 5,
        pit: { id: pitId, keep_alive: '1m' },
        sort: [{ timestamp: 'asc' }, { id: 'asc' }],
        // date_nanos sort values are epoch nanoseconds, beyond Number.MAX_SAFE_INTEGER, so
        // JSON.parse rounds them; resume from the exact formatted timestamp instead.
        docvalue_fields: [{ field: 'timestamp', format: 'strict_date_optional_time_nanos' }],
        _source: false,
        ...(after ? { search_after: after } : {}),
      });
      t.equal(res.status, 200, JSON.stringify(res.body));
      const hits = res.body.hits.hits;
      if (hits.length === 0) break;
      pages++;
      seen.push(...hits.map((h) => h._id));
      const last = hits[hits.length - 1]!;
      after = [last.fields?.timestamp?.[0], last.sort?.[1]];
      if (pages > 20) break;
    }
    t.equal(pages, 5, '24 records in pages of 5');
    t.same(
      seen,
      [...DOCS]
        .sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.id.localeCompare(b.id))
        .map((d) => d.id),
      'every record once, in timestamp order',
    );

    const close = await call<{ pits: Array<{ successful: boolean }> }>(
      'DELETE',
      '/_search/point_in_time',
      {
        pit_id: [pitId],
      },
    );
    t.equal(close.status, 200);
    t.match(close.body.pits, [{ successful: true }]);
  },
);

t.test(
  'killStaleOpenSearch leaves a pid that is not this data dir’s OpenSearch alone',
  async (t) => {
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'k8s-logs-stale-'));
    t.teardown(() => fs.rm(scratch, { recursive: true, force: true }));
    await fs.writeFile(path.join(scratch, 'opensearch.pid'), `${process.pid}\n`);
    t.equal(await killStaleOpenSearch(scratch), undefined);
    t.ok(isAlive(process.pid));
    // And the running node is not mistaken for one of another data dir.
    await fs.writeFile(path.join(scratch, 'opensearch.pid'), `${node?.pid}\n`);
    t.equal(await killStaleOpenSearch(scratch), undefined);
    t.ok(node && isAlive(node.pid));
  },
);

t.test('stop() terminates the JVM and removes the pid file', async (t) => {
  const running = node!;
  t.ok(isAlive(running.pid));
  await running.stop();
  t.notOk(isAlive(running.pid), 'java process is gone');
  await t.rejects(fs.access(path.join(dataDir, 'opensearch.pid')));
  const code = await running.exited;
  t.ok(code === 0 || code === 143 || code === null, `clean exit (code ${code})`);
  await t.rejects(fetch(`${running.url}/`), 'HTTP port is closed');
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
