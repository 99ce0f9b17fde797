// GET /s3/content on the real OpenSearch and S3: archived records read back through the API
// with the filters, order and paging of GET /, one object by key, NDJSON, the token's scope,
// the scan bound and the error envelopes.
import t from 'tap';
import { ingest, ndjson } from '../../helpers/records.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { dayRecords, dayTimestamp, startArchivingAggregator } from '../../helpers/archive-fixture.ts';
import { ArchiveCatalog } from '../../../aggregator/archive/archive-catalog.ts';
import { contentPage } from '../../../aggregator/archive/archive-content.ts';
import { createS3Client, SdkArchiveBucket } from '../../../aggregator/archive/s3-bucket.ts';
import type { LogRecord } from '../../../shared/record.ts';

const byTimeDesc = (a: LogRecord, b: LogRecord) =>
  a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;

t.test('GET /s3/content reads archived records back with the filters, order and paging of GET /', async (t) => {
  const { s3, bucketName, agg } = await startArchivingAggregator(t, 'arch-content');
  const recs = [
    ...dayRecords('alpha', 'payments', 3, 40),
    ...dayRecords('alpha', 'web', 3, 25),
    ...dayRecords('alpha', 'web', 2, 15),
  ];
  t.equal((await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(recs))).status, 200);
  await agg.refresh();
  const token = await agg.createToken({ name: 'archiver', scopes: ['archive'] });
  const webOnly = await agg.createToken({ name: 'web archive', scopes: ['archive'], namespaces: ['web'] });
  const call = async (path: string, tok = token, headers: Record<string, string> = {}) => {
    const res = await fetch(`${agg.url}/v1/k8s/logs${path}`, {
      headers: { authorization: `Bearer ${tok}`, ...headers },
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      text,
      body: (text && !headers.accept ? JSON.parse(text) : null) as any,
    };
  };
  const created = await fetch(`${agg.url}/v1/k8s/logs/archive/policies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'content',
      selection: { clusters: ['alpha'] },
      schedule: { age_days: 1 },
      destination: { bucket: bucketName, prefix: 'arch' },
      format: { target_object_bytes: 65536 },
    }),
  });
  t.equal(created.status, 201);
  const policyId = ((await created.json()) as { id: string }).id;

  // Nothing archived yet: an empty page, not an error.
  const empty = await call('/s3/content');
  t.equal(empty.status, 200, empty.text);
  t.same(empty.body.logs, []);

  agg.app.startJobs();
  const started = await fetch(`${agg.url}/v1/k8s/logs/archive/start`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ policy_id: policyId }),
  });
  const jobId = ((await started.json()) as { job_id: string }).job_id;
  const job = await waitFor(
    async () => {
      const j = (await call(`/archive/jobs?id=${jobId}`)).body.jobs?.[0];
      return j && ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
    },
    { what: 'the archive job to finish', timeoutMs: 120_000, intervalMs: 200 },
  );
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));

  // Paging through everything, newest first, 7 at a time (pages cross objects): exactly the source, in GET /'s order.
  const seen: LogRecord[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await call(`/s3/content?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.equal(page.status, 200, page.text);
    t.equal(page.body.total, recs.length, 'total is exact');
    seen.push(...page.body.logs);
    cursor = page.body.next_cursor;
    pages++;
  } while (cursor && pages < 100);
  t.equal(seen.length, recs.length);
  t.same(
    seen.map((r) => r.id),
    [...recs].sort(byTimeDesc).map((r) => r.id),
    'every archived record once, newest first',
  );
  t.same(
    seen.find((r) => r.id === recs[0]!.id),
    recs[0],
    'a record comes back as it was ingested',
  );

  const forward = await call('/s3/content?direction=forward&limit=3&namespace=web');
  t.same(
    forward.body.logs.map((r: LogRecord) => r.id),
    recs
      .filter((r) => r.namespace === 'web')
      .sort(byTimeDesc)
      .reverse()
      .slice(0, 3)
      .map((r) => r.id),
    'forward = oldest first',
  );

  const errorsInWeb = await call('/s3/content?namespace=web&level=error&limit=1000');
  t.same(
    errorsInWeb.body.logs.map((r: LogRecord) => r.id).sort(),
    recs
      .filter((r) => r.namespace === 'web' && r.level === 'error')
      .map((r) => r.id)
      .sort(),
    'namespace and level filters',
  );
  const needle = recs[17]!.message.split(' ').slice(0, 3).join(' ').toUpperCase();
  const found = await call(`/s3/content?q=${encodeURIComponent(needle)}&pod=${recs[17]!.pod}&limit=1000`);
  t.same(
    found.body.logs.map((r: LogRecord) => r.id).sort(),
    recs
      .filter((r) => r.message.toLowerCase().includes(needle.toLowerCase()) && r.pod === recs[17]!.pod)
      .map((r) => r.id)
      .sort(),
    'q is a case-insensitive substring; pod filters',
  );
  t.ok(found.body.logs.length >= 1);
  const dayStart = dayTimestamp(2, 0);
  const windowed = await call(`/s3/content?start=${dayStart}&end=${dayTimestamp(2, 2, 999_999_999)}&limit=1000`);
  t.same(
    windowed.body.logs.map((r: LogRecord) => r.id).sort(),
    recs
      .filter((r) => r.timestamp >= dayStart && r.timestamp <= dayTimestamp(2, 2, 999_999_999))
      .map((r) => r.id)
      .sort(),
    'the time window is inclusive at both ends',
  );
  t.ok(
    windowed.body.scanned_objects < (await call('/s3/content?limit=1')).body.scanned_objects,
    'objects outside the window are not read',
  );

  // One object by key.
  const objects = (await call('/s3/metadata?limit=1000')).body.objects as Array<{
    key: string;
    namespace: string;
    records: number;
  }>;
  const paymentsObject = objects.find((o) => o.namespace === 'payments')!;
  const one = await call(`/s3/content?key=${encodeURIComponent(paymentsObject.key)}&limit=1000`);
  t.equal(one.status, 200);
  t.equal(one.body.logs.length, paymentsObject.records, 'exactly the records of that object');
  t.equal(one.body.scanned_objects, 1);
  t.ok(one.body.logs.every((r: LogRecord) => r.namespace === 'payments'));

  // NDJSON: every match.
  const nd = await call('/s3/content?namespace=payments', token, { accept: 'application/x-ndjson' });
  t.equal(nd.status, 200);
  t.match(nd.type, /application\/x-ndjson/);
  const lines = nd.text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogRecord);
  t.same(
    lines.map((r) => r.id).sort(),
    recs
      .filter((r) => r.namespace === 'payments')
      .map((r) => r.id)
      .sort(),
  );
  const capped = await call('/s3/content?max=5', token, { accept: 'application/x-ndjson' });
  t.equal(capped.text.split('\n').filter(Boolean).length, 5, 'max caps the export');

  // A namespace-restricted token sees only its namespaces, through every way in.
  const scoped = await call('/s3/content?limit=1000', webOnly);
  t.equal(scoped.body.total, 40);
  t.ok(scoped.body.logs.every((r: LogRecord) => r.namespace === 'web'));
  t.equal((await call('/s3/content?namespace=payments', webOnly)).status, 403);
  const foreignKey = await call(`/s3/content?key=${encodeURIComponent(paymentsObject.key)}`, webOnly);
  t.equal(foreignKey.status, 403);
  t.equal(foreignKey.body.error.code, 'forbidden');
  const scopedNd = await call('/s3/content', webOnly, { accept: 'application/x-ndjson' });
  t.equal(scopedNd.text.split('\n').filter(Boolean).length, 40);

  // Error envelopes.
  const missing = await call('/s3/content?key=arch/nope');
  t.equal(missing.status, 404);
  t.equal(missing.body.error.code, 'not_found');
  t.equal((await call('/s3/content?level=loud')).status, 400);
  t.equal((await call('/s3/content?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z')).status, 400);
  t.equal((await call('/s3/content?start=yesterday')).status, 400);
  const badCursor = await call('/s3/content?cursor=abc');
  t.equal(badCursor.status, 400);
  t.equal(badCursor.body.error.code, 'invalid_cursor');
  const firstPage = await call('/s3/content?limit=2');
  const otherQuery = await call(
    `/s3/content?limit=2&namespace=web&cursor=${encodeURIComponent(firstPage.body.next_cursor)}`,
  );
  t.equal(otherQuery.status, 400, 'a cursor of other filters is refused');
  t.equal((await call('/s3/content?unknown=1')).status, 400);

  // The scan bound refuses rather than half-answers.
  const s3client = createS3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
    requestTimeoutMs: 10_000,
  });
  t.teardown(() => s3client.destroy());
  const deps = {
    client: agg.app.opensearch,
    catalog: new ArchiveCatalog(agg.app.opensearch, agg.prefix),
    bucket: (name: string) => new SdkArchiveBucket(s3client, name),
  };
  const base = {
    startTs: null,
    endTs: null,
    scopeClusters: null,
    scopeNamespaces: null,
    direction: 'backward' as const,
    limit: 10,
  };
  await t.rejects(
    contentPage({ ...deps, maxScanBytes: 100 }, base),
    { code: 'window_too_large' },
    'the scan bound refuses',
  );
  t.equal((await contentPage({ ...deps, maxScanBytes: 1 << 30 }, base)).total, recs.length);
});
