// GET /s3/metadata's filters (cluster, namespace, time overlap, paging under a filter) on a
// known archive, and the rate class of every archive route, on the real OpenSearch and S3.
// Each filtered listing is compared with the unfiltered one filtered here, so a filter that
// is ignored, or that drops an object it should keep, fails.
import t from 'tap';
import { ingest, ndjson } from '../../helpers/records.ts';
import { apiCaller, dayOf, dayRecords, startArchivingAggregator } from '../../helpers/archive-fixture.ts';

interface Listed {
  key: string;
  cluster: string;
  namespace: string;
  day: string;
  first_timestamp: string;
  last_timestamp: string;
  records: number;
}

t.test('/s3/metadata filters by cluster, namespace and time overlap, and pages under a filter', async (t) => {
  const { bucketName, agg } = await startArchivingAggregator(t, 'arch-meta');
  const recs = {
    alpha: [
      ...dayRecords('alpha', 'payments', 3, 200),
      ...dayRecords('alpha', 'web', 3, 20),
      ...dayRecords('alpha', 'web', 2, 15),
    ],
    beta: [...dayRecords('beta', 'payments', 2, 10), ...dayRecords('beta', 'web', 4, 5)],
  };
  for (const [cluster, rs] of Object.entries(recs))
    t.equal((await ingest(agg.url, await agg.ingestToken(cluster), ndjson(rs))).status, 200);
  await agg.refresh();
  const token = await agg.createToken({ name: 'archiver', scopes: ['archive'] });
  const { call, finished } = apiCaller(agg.url, token);
  agg.app.startJobs();
  const created = await call('POST', '/archive/policies', {
    name: 'all',
    enabled: false,
    schedule: { age_days: 1 },
    destination: { bucket: bucketName, prefix: 'meta' },
  });
  t.equal(created.status, 201, created.text);
  const job = await finished((await call('POST', '/archive/start', { policy_id: created.body.id })).body.job_id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));

  const list = async (query: string): Promise<Listed[]> => {
    const out: Listed[] = [];
    let cursor: string | null = null;
    do {
      const sep = query ? '&' : '';
      const res = await call(
        'GET',
        `/s3/metadata?${query}${sep}limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      t.equal(res.status, 200, res.text);
      out.push(...res.body.objects);
      cursor = res.body.next_cursor;
      t.equal(res.body.has_more, cursor !== null);
    } while (cursor);
    return out;
  };
  const keys = (os: Listed[]) => os.map((o) => o.key).sort();
  const all = await list('');
  t.equal(
    all.reduce((n, o) => n + o.records, 0),
    recs.alpha.length + recs.beta.length,
    'the unfiltered listing covers every record',
  );
  t.equal(all.length, 5, 'one object per partition');
  t.equal(new Set(keys(all)).size, all.length, 'paging returns each object once');

  const expectFilter = async (query: string, keep: (o: Listed) => boolean, what: string) => {
    const want = keys(all.filter(keep));
    t.ok(want.length > 0 && want.length < all.length, `${what}: a strict subset`);
    t.same(keys(await list(query)), want, what);
  };
  await expectFilter('cluster=beta', (o) => o.cluster === 'beta', 'cluster');
  await expectFilter('namespace=web', (o) => o.namespace === 'web', 'namespace');
  await expectFilter(
    'cluster=alpha&namespace=payments',
    (o) => o.cluster === 'alpha' && o.namespace === 'payments',
    'cluster and namespace',
  );
  await expectFilter(`start=${dayOf(2)}T00:00:00Z`, (o) => o.day >= dayOf(2), 'start: objects ending at or after it');
  await expectFilter(`end=${dayOf(3)}T23:59:59Z`, (o) => o.day <= dayOf(3), 'end: objects beginning at or before it');
  await expectFilter(
    `cluster=alpha&start=${dayOf(3)}T00:00:00Z&end=${dayOf(3)}T23:59:59.999999999Z`,
    (o) => o.cluster === 'alpha' && o.day === dayOf(3),
    'a day of a cluster',
  );

  // Overlap at the bounds, inclusive, to the nanosecond: a window that only touches an
  // object's last record, or its first, lists it.
  const part = all.find((o) => o.cluster === 'alpha' && o.namespace === 'payments')!;
  const touching = async (start: string, end: string) =>
    keys(await list(`cluster=alpha&namespace=payments&start=${start}&end=${end}`));
  const lastNs = BigInt(part.last_timestamp.slice(20, 29));
  t.ok(
    (await touching(part.last_timestamp, `${part.last_timestamp.slice(0, 19)}.999999999Z`)).includes(part.key),
    'a window starting at its last record',
  );
  t.ok(
    (await touching(`${part.first_timestamp.slice(0, 19)}.000000000Z`, part.first_timestamp)).includes(part.key),
    'a window ending at its first record',
  );
  if (lastNs < 999_999_999n) {
    const after = `${part.last_timestamp.slice(0, 20)}${String(lastNs + 1n).padStart(9, '0')}Z`;
    t.notOk(
      (await touching(after, `${dayOf(2)}T23:59:59Z`)).includes(part.key),
      'a window starting a nanosecond after its last record does not',
    );
  }

  t.same(await list('cluster=gamma'), [], 'an unknown cluster lists nothing');
  for (const bad of ['start=yesterday', 'end=2026-13-01T00:00:00Z', 'cluster=', 'bucket=x', 'limit=0']) {
    const res = await call('GET', `/s3/metadata?${bad}`);
    t.equal(res.status, 400, `${bad}: ${res.text}`);
    t.equal(res.body.error.code, 'invalid_request', bad);
  }
});

t.test('archive routes: starting and restoring are heavy, the rest standard; NDJSON content is heavy', async (t) => {
  // Limits far above what the test sends, and different, so the header tells the class.
  const { bucketName, agg } = await startArchivingAggregator(
    t,
    'arch-rates',
    {},
    { rateLimit: { standardPerMinute: 100_000, heavyPerMinute: 1000 } },
  );
  const token = await agg.createToken({ name: 'archiver', scopes: ['archive'] });
  t.equal(
    (await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(dayRecords('alpha', 'web', 2, 3)))).status,
    200,
  );
  await agg.refresh();
  const { call } = apiCaller(agg.url, token);
  const policy = await call('POST', '/archive/policies', {
    name: 'rates',
    enabled: false,
    schedule: { age_days: 1 },
    destination: { bucket: bucketName, prefix: 'rates' },
  });
  t.equal(policy.status, 201, policy.text);
  const id = policy.body.id as string;
  const start = `${dayOf(2)}T00:00:00Z`;
  const end = `${dayOf(2)}T23:59:59Z`;
  const limitOf = async (method: string, path: string, body?: unknown, accept?: string) => {
    const res = await fetch(`${agg.url}/v1/k8s/logs${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(accept ? { accept } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    t.ok(res.status < 500, `${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    return res.headers.get('x-ratelimit-limit');
  };
  const cases: Array<[string, string, unknown, string | undefined, string]> = [
    ['POST', '/archive/start', { policy_id: id }, undefined, '1000'],
    ['POST', '/archive/restore', { cluster: 'alpha', start, end }, undefined, '1000'],
    ['GET', '/archive/policies', undefined, undefined, '100000'],
    ['PUT', `/archive/policies?id=${id}`, { ...policy.body, id: undefined }, undefined, '100000'],
    ['GET', '/archive/jobs', undefined, undefined, '100000'],
    ['DELETE', `/archive/restore?cluster=alpha&start=${start}&end=${end}`, undefined, undefined, '100000'],
    ['GET', '/s3/metadata', undefined, undefined, '100000'],
    ['GET', '/s3/stats', undefined, undefined, '100000'],
    ['GET', '/storage/info', undefined, undefined, '100000'],
    ['GET', `/s3/content?start=${start}&end=${end}`, undefined, undefined, '100000'],
    ['GET', `/s3/content?start=${start}&end=${end}`, undefined, 'application/x-ndjson', '1000'],
  ];
  for (const [method, path, body, accept, want] of cases)
    t.equal(await limitOf(method, path, body, accept), want, `${method} ${path}${accept ? ` (${accept})` : ''}`);
});
