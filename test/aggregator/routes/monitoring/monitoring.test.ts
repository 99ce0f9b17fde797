/**
 * The monitoring endpoints on a real aggregator and the shared OpenSearch, against a store
 * seeded with known records (written straight into day indices with chosen timestamps and
 * ingest times) and known heartbeats: every figure is asserted exactly.
 */
import t from 'tap';
import { startTestAggregator } from '../../../helpers/aggregator.ts';
import { getJson } from '../../../helpers/records.ts';

const agg = await startTestAggregator(t, { name: 'monitoring', storeProxy: true });
const base = `${agg.url}/v1/k8s/logs`;
const admin = agg.adminToken;
const payOnly = await agg.createToken({ name: 'pay reader', scopes: ['logs:read'], namespaces: ['pay'] });
const betaOnly = await agg.createToken({ name: 'beta reader', scopes: ['logs:read'], clusters: ['beta'] });

// [cluster, namespace, pod, level, message, timestamp, lag ms]. UTF-8 sizes: "héllo" 6, "😀" 4.
const seed = [
  ['alpha', 'shop', 'web-1', 'info', 'aaaa', '2026-11-20T10:00:00.000123456Z', 1000],
  ['alpha', 'shop', 'web-1', 'info', 'aaaa', '2026-11-20T10:01:00.000123456Z', 2000],
  ['alpha', 'shop', 'web-1', 'info', 'aaaa', '2026-11-20T10:02:00.000123456Z', 3000],
  ['alpha', 'shop', 'web-1', 'error', 'aaaa', '2026-11-20T10:03:00.000123456Z', 4000],
  ['alpha', 'shop', 'web-2', 'warn', 'héllo', '2026-11-20T10:10:00.000123456Z', 500],
  ['alpha', 'shop', 'web-2', 'warn', '😀', '2026-11-20T10:11:00.000123456Z', 500],
  ['alpha', 'pay', 'api-1', 'info', 'x', '2026-11-20T10:20:00.000123456Z', 10_000],
  ['alpha', 'pay', 'api-1', 'info', 'x', '2026-11-20T10:21:00.000123456Z', 10_000],
  ['alpha', 'pay', 'api-1', 'debug', 'x', '2026-11-20T10:22:00.000123456Z', 10_000],
  ['beta', 'shop', 'web-1', 'info', 'bb', '2026-11-20T10:30:00.000123456Z', 0],
  // Outside the metrics window, in the previous day's index.
  ['alpha', 'shop', 'web-1', 'warn', 'zzzz', '2026-11-19T23:59:59.000000007Z', 100],
] as const;

const bulk = seed.flatMap(([cluster, namespace, pod, level, message, timestamp, lagMs], i) => {
  const day = timestamp.slice(0, 10).replaceAll('-', '.');
  const ingestedAt = new Date(Date.parse(timestamp) + lagMs).toISOString();
  return [
    JSON.stringify({ create: { _index: `${agg.prefix}-${cluster}-${day}`, _id: `seed-${i}` } }),
    JSON.stringify({
      id: `seed-${i}-record`,
      timestamp,
      cluster,
      namespace,
      pod,
      container: 'app',
      stream: 'stdout',
      level,
      message,
      ingested_at: ingestedAt,
    }),
  ];
});
const seeded = await fetch(`${agg.opensearchUrl}/_bulk?refresh=true`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-ndjson' },
  body: bulk.join('\n') + '\n',
});
const seededBody = (await seeded.json()) as { errors: boolean; items: unknown[] };
if (seededBody.errors) throw new Error(`seeding failed: ${JSON.stringify(seededBody.items)}`);

// Heartbeats: two through the API (one from an older agent without counts), one stale
// written straight into the system index (its receive time 10 minutes back).
const heartbeat = async (cluster: string, body: Record<string, unknown>) => {
  const res = await fetch(`${agg.url}/v1/ingest/heartbeat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await agg.ingestToken(cluster)}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      cluster,
      agent_version: '0.1.0',
      files_watched: 2,
      sent_at: new Date().toISOString(),
      ...body,
    }),
  });
  if (res.status !== 204) throw new Error(`heartbeat: ${res.status} ${await res.text()}`);
};
await heartbeat('alpha', {
  node: 'node-a',
  bytes_behind: 100,
  started_at: '2026-11-20T09:00:00Z',
  discarded: { rate_limited: 5, line_truncated: 2 },
  rejected: { too_old: 1 },
});
await heartbeat('beta', { node: 'node-c', bytes_behind: 7 });
const staleAt = new Date(Date.now() - 600_000).toISOString();
const stale = await fetch(`${agg.opensearchUrl}/.${agg.prefix}-heartbeats/_doc/alpha%2Fnode-b?refresh=true`, {
  method: 'PUT',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    cluster: 'alpha',
    node: 'node-b',
    agent_version: '0.0.9',
    files_watched: 1,
    bytes_behind: 0,
    sent_at: staleAt,
    received_at: staleAt,
    discarded: { rate_limited: 3 },
  }),
});
if (stale.status !== 201 && stale.status !== 200) throw new Error(`stale heartbeat: ${stale.status}`);
// Samples of the agents' cumulative counts, placed around the window (10:00–10:59:59):
// - alpha/node-a, run started 09:00: baseline 09:57 (rate_limited 1), last in window 10:58,
//   one after the window (not counted) → rate_limited 4, line_truncated 2, too_old 1;
// - alpha/node-a, an earlier run whose last sample is before the window → nothing;
// - alpha/node-b, started inside the window (10:20) → all of its 3 count;
// - alpha/node-e, started before with no sample before the window: its first sample
//   inside (10:15, rate_limited 10) is the baseline → 16 − 10 = 6.
const sample = async (node: string, startedAt: string, receivedAt: string, discarded: object, rejected?: object) => {
  const doc = {
    cluster: 'alpha',
    node,
    started_at: startedAt,
    received_at: receivedAt,
    discarded,
    ...(rejected ? { rejected } : {}),
  };
  const id = encodeURIComponent(`alpha/${node}/${startedAt}/${receivedAt}`);
  const res = await fetch(`${agg.opensearchUrl}/.${agg.prefix}-heartbeat-samples/_doc/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(doc),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`sample: ${res.status} ${await res.text()}`);
};
await sample('node-a', '2026-11-20T09:00:00Z', '2026-11-20T09:57:00Z', { rate_limited: 1 });
await sample('node-a', '2026-11-20T09:00:00Z', '2026-11-20T10:30:00Z', { rate_limited: 4, line_truncated: 2 });
await sample(
  'node-a',
  '2026-11-20T09:00:00Z',
  '2026-11-20T10:58:00Z',
  { rate_limited: 5, line_truncated: 2 },
  { too_old: 1 },
);
await sample('node-a', '2026-11-20T09:00:00Z', '2026-11-20T11:20:00Z', { rate_limited: 50 });
await sample('node-a', '2026-11-20T08:00:00Z', '2026-11-20T09:55:00Z', { rate_limited: 70 });
await sample('node-b', '2026-11-20T10:20:00Z', '2026-11-20T10:40:00Z', { rate_limited: 3 });
await sample('node-e', '2026-11-20T07:00:00Z', '2026-11-20T10:15:00Z', { rate_limited: 10 });
await sample('node-e', '2026-11-20T07:00:00Z', '2026-11-20T10:45:00Z', { rate_limited: 16 });
await agg.refresh();

const window = 'start=2026-11-20T10:00:00Z&end=2026-11-20T10:59:59Z&interval=30m';

t.test(
  'GET /metrics: lines, bytes, over time, per cluster, top namespaces and pods, lag, agent discards',
  async (t) => {
    const res = await getJson(`${base}/metrics?${window}`, admin);
    t.equal(res.status, 200, JSON.stringify(res.body));
    const b = res.body;
    t.same(b.window, { start: '2026-11-20T10:00:00.000000000Z', end: '2026-11-20T10:59:59.000000000Z' });
    t.same(b.totals, { lines: 10, bytes: 31 });
    t.same(b.over_time, {
      interval: '30m',
      buckets: [
        { start: '2026-11-20T10:00:00.000Z', lines: 9, bytes: 29 },
        { start: '2026-11-20T10:30:00.000Z', lines: 1, bytes: 2 },
      ],
    });
    t.same(b.clusters, [
      { cluster: 'alpha', lines: 9, bytes: 29 },
      { cluster: 'beta', lines: 1, bytes: 2 },
    ]);
    t.same(b.top_namespaces, [
      { cluster: 'alpha', namespace: 'shop', lines: 6, bytes: 26 },
      { cluster: 'alpha', namespace: 'pay', lines: 3, bytes: 3 },
      { cluster: 'beta', namespace: 'shop', lines: 1, bytes: 2 },
    ]);
    t.same(b.top_pods, [
      { cluster: 'alpha', namespace: 'shop', pod: 'web-1', lines: 4, bytes: 16 },
      { cluster: 'alpha', namespace: 'pay', pod: 'api-1', lines: 3, bytes: 3 },
      { cluster: 'alpha', namespace: 'shop', pod: 'web-2', lines: 2, bytes: 10 },
      { cluster: 'beta', namespace: 'shop', pod: 'web-1', lines: 1, bytes: 2 },
    ]);
    t.match(b.ingest_lag, { records: 10, min_ms: 0, avg_ms: 4100, max_ms: 10_000 });
    t.same(b.agents, {
      agents: 3,
      agents_reporting: 2,
      discarded: { line_truncated: 2, rate_limited: 13 },
      rejected: { too_old: 1 },
      bytes_behind: 107,
    });

    const top = await getJson(`${base}/metrics?${window}&top=1&cluster=alpha`, admin);
    t.same(top.body.totals, { lines: 9, bytes: 29 });
    t.same(top.body.top_pods, [{ cluster: 'alpha', namespace: 'shop', pod: 'web-1', lines: 4, bytes: 16 }]);
    t.same(top.body.agents.discarded, { line_truncated: 2, rate_limited: 13 });
  },
);

t.test('GET /clusters/{clusterId}/metrics: one cluster with every namespace', async (t) => {
  const res = await getJson(`${base}/clusters/alpha/metrics?${window}`, admin);
  t.equal(res.status, 200, JSON.stringify(res.body));
  t.equal(res.body.cluster, 'alpha');
  t.same(res.body.totals, { lines: 9, bytes: 29 });
  t.same(res.body.namespaces, [
    { namespace: 'shop', lines: 6, bytes: 26 },
    { namespace: 'pay', lines: 3, bytes: 3 },
  ]);
  t.same(
    res.body.top_pods.map((p: { pod: string }) => p.pod),
    ['web-1', 'api-1', 'web-2'],
  );
  t.match(res.body.ingest_lag, { records: 9, min_ms: 500, max_ms: 10_000 });
  t.same(res.body.agents, {
    agents: 2,
    agents_reporting: 2,
    discarded: { line_truncated: 2, rate_limited: 13 },
    rejected: { too_old: 1 },
    bytes_behind: 100,
  });

  const beta = await getJson(`${base}/clusters/beta/metrics?${window}`, admin);
  t.same(beta.body.agents, { agents: 1, agents_reporting: 0, discarded: {}, rejected: {}, bytes_behind: 7 });
  t.equal((await getJson(`${base}/clusters/nowhere/metrics?${window}`, admin)).status, 404);
  t.equal((await getJson(`${base}/clusters/alpha/metrics?${window}`, betaOnly)).status, 403);
  t.equal((await getJson(`${base}/clusters/Not_A_Cluster/metrics`, admin)).status, 400);
});

t.test('GET /stats: documents, by day, by level, by cluster, oldest/newest, indices and store size', async (t) => {
  const res = await getJson(`${base}/stats`, admin);
  t.equal(res.status, 200, JSON.stringify(res.body));
  const b = res.body;
  t.equal(b.documents, 11);
  t.equal(b.oldest, '2026-11-19T23:59:59.000000007Z');
  t.equal(b.newest, '2026-11-20T10:30:00.000123456Z');
  t.same(b.by_day, [
    { day: '2026-11-19', documents: 1 },
    { day: '2026-11-20', documents: 10 },
  ]);
  t.same(b.by_level, [
    { level: 'info', documents: 6 },
    { level: 'warn', documents: 3 },
    { level: 'debug', documents: 1 },
    { level: 'error', documents: 1 },
  ]);
  t.same(b.by_cluster, [
    { cluster: 'alpha', documents: 10 },
    { cluster: 'beta', documents: 1 },
  ]);
  t.equal(b.index_count, 3);
  t.same(
    b.indices.map((i: { index: string; cluster: string; day: string; documents: number }) => [
      i.index,
      i.cluster,
      i.day,
      i.documents,
    ]),
    [
      [`${agg.prefix}-alpha-2026.11.19`, 'alpha', '2026-11-19', 1],
      [`${agg.prefix}-alpha-2026.11.20`, 'alpha', '2026-11-20', 9],
      [`${agg.prefix}-beta-2026.11.20`, 'beta', '2026-11-20', 1],
    ],
  );
  for (const i of b.indices) t.ok(i.store_bytes > 0, `${i.index} has a size`);
  t.equal(
    b.store_bytes,
    b.indices.reduce((s: number, i: { store_bytes: number }) => s + i.store_bytes, 0),
  );

  const beta = await getJson(`${base}/stats?cluster=beta`, admin);
  t.equal(beta.body.documents, 1);
  t.equal(beta.body.index_count, 1);
});

t.test('a namespace-restricted token sees only its namespaces in every figure', async (t) => {
  const m = await getJson(`${base}/metrics?${window}`, payOnly);
  t.equal(m.status, 200);
  t.same(m.body.totals, { lines: 3, bytes: 3 });
  t.same(m.body.clusters, [{ cluster: 'alpha', lines: 3, bytes: 3 }]);
  t.same(m.body.top_namespaces, [{ cluster: 'alpha', namespace: 'pay', lines: 3, bytes: 3 }]);
  t.same(m.body.top_pods, [{ cluster: 'alpha', namespace: 'pay', pod: 'api-1', lines: 3, bytes: 3 }]);
  t.match(m.body.ingest_lag, { records: 3, min_ms: 10_000, avg_ms: 10_000, max_ms: 10_000 });
  t.equal(m.body.agents, null, "agents' counts span namespaces: withheld");

  const c = await getJson(`${base}/clusters/alpha/metrics?${window}`, payOnly);
  t.same(c.body.namespaces, [{ namespace: 'pay', lines: 3, bytes: 3 }]);

  const s = await getJson(`${base}/stats`, payOnly);
  t.equal(s.body.documents, 3);
  t.same(s.body.by_level, [
    { level: 'info', documents: 2 },
    { level: 'debug', documents: 1 },
  ]);
  t.equal(s.body.store_bytes, null);
  t.equal(s.body.indices, null);

  const b = await getJson(`${base}/metrics?${window}`, betaOnly);
  t.same(b.body.totals, { lines: 1, bytes: 2 });
  t.equal(b.body.agents.agents, 1);
  t.equal((await getJson(`${base}/metrics?cluster=alpha`, betaOnly)).status, 403);
  t.equal((await getJson(`${base}/stats?cluster=alpha`, betaOnly)).status, 403, 'stats of a cluster outside the token');
  const payStats = await getJson(`${base}/stats?cluster=beta`, payOnly);
  t.equal(payStats.body.documents, 0, 'a namespace-limited token counts only its namespaces in any cluster');
});

t.test('bad input is a 400 naming the parameter; no token is a 401', async (t) => {
  const bad = await getJson(`${base}/metrics?start=yesterday`, admin);
  t.equal(bad.status, 400);
  const interval = await getJson(`${base}/metrics?${window.replace('30m', '7x')}`, admin);
  t.equal(interval.status, 400);
  t.match(interval.body.error.message, /interval/);
  t.equal((await getJson(`${base}/metrics?top=0`, admin)).status, 400);
  t.equal((await getJson(`${base}/stats?bogus=1`, admin)).status, 400);
  t.equal((await getJson(`${base}/health`, undefined)).status, 401);
});

t.test('GET /health: components with reasons; a silent agent degrades (200)', async (t) => {
  const res = await getJson(`${base}/health`, admin);
  t.equal(res.status, 200, JSON.stringify(res.body));
  t.equal(res.body.status, 'degraded');
  const byName = Object.fromEntries(res.body.components.map((c: { name: string }) => [c.name, c]));
  t.same(Object.keys(byName), ['opensearch', 'clusters', 'agents', 's3', 'jobs']);
  t.match(byName.s3, { status: 'ok', critical: false, reason: 'no enabled archive policy: S3 is not in use' });
  t.equal(byName.opensearch.critical, true);
  t.not(byName.opensearch.status, 'down');
  t.match(byName.clusters, {
    status: 'degraded',
    critical: false,
    reason: 'not every cluster reports: alpha (1 of 2 agent(s) silent)',
  });
  t.match(byName.agents, {
    status: 'degraded',
    reason: '1 of 3 agent(s) silent',
    details: { agents: 3, stale_agents: 1, bytes_behind: 107 },
  });
  t.match(byName.jobs, { status: 'ok', reason: 'no job has run yet' });

  // Scoped to beta: its one agent reports, so clusters and agents are ok.
  const beta = await getJson(`${base}/health`, betaOnly);
  const betaBy = Object.fromEntries(beta.body.components.map((c: { name: string }) => [c.name, c]));
  t.match(betaBy.clusters, { status: 'ok', reason: '1 cluster(s) reporting' });
  t.match(betaBy.agents, { status: 'ok', reason: '1 agent(s) reporting' });
  t.notOk(betaBy.jobs, 'a cluster-limited token gets no jobs (they span clusters)');

  // Limited to namespaces: no cluster and no agent (their heartbeats span namespaces), so
  // neither alpha's name nor its silent agent reaches this token, nor degrades its answer.
  const pay = await getJson(`${base}/health`, payOnly);
  t.equal(pay.status, 200);
  t.same(
    pay.body.components.map((c: { name: string }) => c.name),
    ['opensearch'],
    'no clusters, agents or jobs (jobs of any namespace carry ids and errors)',
  );
  t.equal(pay.body.status, pay.body.components[0].status, 'the overall state is that of the components it sees');
  t.notOk(JSON.stringify(pay.body).includes('alpha'), 'no cluster named');
});

t.test('GET /health is 503 when OpenSearch does not answer its probe', async (t) => {
  const held = agg.storeProxy!.hold((method, path) => method === 'GET' && path.startsWith('/_cluster/health'));
  t.teardown(() => held.release());
  const res = await getJson(`${base}/health`, admin);
  await held.reached;
  t.equal(res.status, 503);
  t.equal(res.body.status, 'down');
  t.match(res.body.components[0], { name: 'opensearch', status: 'down', reason: /no answer within/ });
});

t.test('GET /health jobs: the latest job of each type among many, orphans, counts over all jobs', async (t) => {
  // Types no handler of this aggregator claims, so the documents stay as written. 150
  // succeeded `sweep` jobs bury an older failure; `export` failed last; a `compact` job
  // runs on a lease that expired (its owner died). Reading "100 documents" would miss some.
  const job = (id: string, type: string, status: string, createdAt: string, extra: object = {}) => ({
    id,
    type,
    params: {},
    status,
    progress: null,
    result: null,
    error: status === 'failed' ? { code: 'handler_failed', message: 'boom' } : null,
    created_at: createdAt,
    started_at: createdAt,
    finished_at: status === 'running' ? null : createdAt,
    owner: 'replica-x',
    lease_expires_at: null,
    attempts: 1,
    cancel_requested: false,
    ...extra,
  });
  const minute = (n: number) => new Date(Date.parse('2026-11-20T00:00:00Z') + n * 60_000).toISOString();
  const docs = [
    job('sweep-failed', 'sweep', 'failed', minute(0)),
    ...Array.from({ length: 150 }, (_, i) => job(`sweep-${i}`, 'sweep', 'succeeded', minute(10 + i))),
    job('export-1', 'export', 'succeeded', minute(1)),
    job('export-2', 'export', 'failed', minute(2)),
    job('compact-1', 'compact', 'running', minute(3), {
      lease_expires_at: new Date(Date.now() - 60_000).toISOString(),
    }),
  ];
  const res = await fetch(`${agg.opensearchUrl}/.${agg.prefix}-jobs/_bulk?refresh=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: docs.flatMap((d) => [JSON.stringify({ create: { _id: d.id } }), JSON.stringify(d)]).join('\n') + '\n',
  });
  const body = (await res.json()) as { errors: boolean; items: unknown[] };
  t.equal(body.errors, false, JSON.stringify(body.items.slice(0, 2)));
  t.teardown(async () => {
    await fetch(`${agg.opensearchUrl}/.${agg.prefix}-jobs/_delete_by_query?refresh=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: { terms: { type: ['sweep', 'export', 'compact'] } } }),
    });
  });

  const health = await getJson(`${base}/health`, admin);
  const jobs = health.body.components.find((c: { name: string }) => c.name === 'jobs');
  t.same(jobs.details.by_status, { succeeded: 151, failed: 2, running: 1 });
  t.same(
    jobs.details.latest.map((j: { type: string; id: string; status: string }) => [j.type, j.id, j.status]),
    [
      ['compact', 'compact-1', 'running'],
      ['export', 'export-2', 'failed'],
      ['sweep', 'sweep-149', 'succeeded'],
    ],
  );
  t.equal(jobs.status, 'degraded');
  t.equal(
    jobs.reason,
    'compact job compact-1: running on an expired lease (owner gone); export: latest job export-2 failed (handler_failed)',
  );
});
