// The archive API end to end on the real OpenSearch and S3: policy CRUD with bad inputs,
// /archive/start running the job on the job runner, and exact /s3/* figures on a known dataset.
import t from 'tap';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { gunzipSync } from 'node:zlib';
import { ingest, ndjson } from '../../helpers/records.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { s3ClientConfig } from '../../../dev/s3/s3-server.ts';
import { dayRecords, startArchivingAggregator } from '../../helpers/archive-fixture.ts';

t.test('archive API: policies, a job started through the API, exact /s3 figures, namespace-scoped views', async (t) => {
  // A small scan bound, so that /s3/content over the whole archive is refused (checked at the end).
  const scanBound = 1024;
  const { s3, bucketName, agg } = await startArchivingAggregator(t, 'arch-api', { contentMaxScanBytes: scanBound });
  const recs = [
    ...dayRecords('alpha', 'payments', 3, 30),
    ...dayRecords('alpha', 'web', 3, 12),
    ...dayRecords('alpha', 'web', 2, 8),
  ];
  const ing = await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(recs));
  t.equal(ing.status, 200);
  await agg.refresh();
  const token = await agg.createToken({ name: 'archiver', scopes: ['archive'] });
  const webOnly = await agg.createToken({ name: 'web archive', scopes: ['archive'], namespaces: ['web'] });
  const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
  const call = async (method: string, path: string, body?: unknown, tok = token) => {
    const res = await fetch(`${agg.url}/v1/k8s/logs${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tok}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, etag: res.headers.get('etag'), body: (text ? JSON.parse(text) : null) as any };
  };
  const policy = {
    name: 'nightly',
    // Not scheduled: this test runs it through /archive/start alone (archive-schedule.test.ts runs policies by schedule).
    enabled: false,
    selection: { clusters: ['alpha'] },
    schedule: { age_days: 1 },
    destination: { bucket: bucketName, prefix: 'arch' },
    format: { target_object_bytes: 65536 },
  };

  t.equal((await call('GET', '/archive/policies', undefined, reader)).status, 403, 'the archive scope is needed');
  const bad = await call('POST', '/archive/policies', { ...policy, schedule: { age_days: 0 } });
  t.equal(bad.status, 400);
  t.match(JSON.stringify(bad.body), /schedule\.age_days/);
  const unknownBucket = await call('POST', '/archive/policies', {
    ...policy,
    destination: { bucket: 'no-such-bucket-x' },
  });
  t.equal(unknownBucket.status, 400);
  t.match(unknownBucket.body.error.message, /unknown bucket/);
  const nothing = await call('POST', '/archive/policies', { ...policy, selection: { clusters: ['gamma'] } });
  t.equal(nothing.status, 400);
  t.match(nothing.body.error.message, /would archive nothing/);

  const created = await call('POST', '/archive/policies', policy);
  t.equal(created.status, 201);
  const id = created.body.id as string;
  t.ok(created.etag);
  t.equal((await call('GET', `/archive/policies?id=${id}`)).body.policies[0].name, 'nightly');
  const updated = await call('PUT', `/archive/policies?id=${id}`, { ...policy, name: 'nightly-2' });
  t.equal(updated.status, 200);
  t.equal(updated.body.name, 'nightly-2');
  t.equal(
    await call('PUT', `/archive/policies?id=${id}`, { ...policy, name: 'stale' }).then(async () => {
      const res = await fetch(`${agg.url}/v1/k8s/logs/archive/policies?id=${id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'if-match': created.etag! },
        body: JSON.stringify(policy),
      });
      return res.status;
    }),
    412,
    'a stale If-Match is refused',
  );
  t.equal((await call('DELETE', '/archive/policies?id=nope')).status, 404);
  t.equal((await call('GET', '/archive/policies')).body.policies.length, 1);

  agg.app.startJobs();
  const started = await call('POST', '/archive/start', { policy_id: id });
  t.equal(started.status, 202);
  const job = await waitFor(
    async () => {
      const j = (await call('GET', `/archive/jobs?id=${started.body.job_id}`)).body.jobs?.[0];
      return j && ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
    },
    { what: 'the archive job to finish', timeoutMs: 120_000, intervalMs: 200 },
  );
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  t.equal(job.result.records, recs.length);
  t.equal((await call('GET', `/archive/jobs?policy_id=${id}`)).body.jobs.length, 1);
  // A second policy, never run: its job filter is empty and full pages stay full (the store filters).
  const other = await call('POST', '/archive/policies', {
    ...policy,
    name: 'payments only',
    selection: { clusters: ['alpha'], namespaces: ['payments'] },
  });
  t.equal(other.status, 201, JSON.stringify(other.body));
  const otherJobs = await call('GET', `/archive/jobs?policy_id=${other.body.id}&limit=1`);
  t.same(otherJobs.body, { jobs: [], has_more: false, next_cursor: null });

  // Independent truth: the bucket's own listing.
  const sdk = new S3Client(s3ClientConfig(s3));
  t.teardown(() => sdk.destroy());
  const listed = (await sdk.send(new ListObjectsV2Command({ Bucket: bucketName, Prefix: 'arch/' }))).Contents ?? [];
  const dataObjects = listed.filter((o) => o.Key!.endsWith('.ndjson.gz'));
  const meta = await call('GET', '/s3/metadata?limit=2');
  t.equal(meta.body.objects.length, 2);
  t.equal(meta.body.has_more, true);
  const rest = await call('GET', `/s3/metadata?limit=1000&cursor=${encodeURIComponent(meta.body.next_cursor)}`);
  const all = [...meta.body.objects, ...rest.body.objects];
  t.same(
    all.map((o: any) => o.key).sort(),
    dataObjects.map((o) => o.Key).sort(),
    'metadata lists exactly the objects in the bucket',
  );
  t.equal(
    all.reduce((n: number, o: any) => n + o.records, 0),
    recs.length,
  );

  // Every catalog field against the object itself, read back with the SDK and gunzip.
  const truth = new Map<
    string,
    {
      cluster: string;
      namespace: string;
      day: string;
      first: string;
      last: string;
      records: number;
      raw: number;
      stored: number;
    }
  >();
  for (const o of dataObjects) {
    const got = await sdk.send(new GetObjectCommand({ Bucket: bucketName, Key: o.Key! }));
    const raw = gunzipSync(Buffer.from(await got.Body!.transformToByteArray()));
    const lines = raw
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));
    const stamps = lines.map((l: { timestamp: string }) => l.timestamp).sort();
    truth.set(o.Key!, {
      cluster: lines[0].cluster,
      namespace: lines[0].namespace,
      day: stamps[0]!.slice(0, 10),
      first: stamps[0]!,
      last: stamps.at(-1)!,
      records: lines.length,
      raw: raw.length,
      stored: o.Size!,
    });
  }
  for (const o of all) {
    const want = truth.get(o.key)!;
    t.match(
      o,
      {
        bucket: bucketName,
        cluster: want.cluster,
        namespace: want.namespace,
        day: want.day,
        first_timestamp: want.first,
        last_timestamp: want.last,
        records: want.records,
        raw_bytes: want.raw,
        stored_bytes: want.stored,
        compression: 'gzip',
        storage_class: 'STANDARD',
        job_id: started.body.job_id,
        policy_id: id,
      },
      `metadata of ${o.key} matches the object`,
    );
  }
  const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);
  const objs = [...truth.values()];
  const stampsAll = recs.map((r) => r.timestamp).sort();
  const byDay: Record<string, { objects: number; records: number; stored_bytes: number; raw_bytes: number }> = {};
  for (const o of objs) {
    const d = (byDay[o.day] ??= { objects: 0, records: 0, stored_bytes: 0, raw_bytes: 0 });
    d.objects++;
    d.records += o.records;
    d.stored_bytes += o.stored;
    d.raw_bytes += o.raw;
  }

  const stats = (await call('GET', '/s3/stats')).body;
  t.same(stats.totals, {
    objects: objs.length,
    records: recs.length,
    stored_bytes: sum(objs.map((o) => o.stored)),
    raw_bytes: sum(objs.map((o) => o.raw)),
    compression_ratio: sum(objs.map((o) => o.raw)) / sum(objs.map((o) => o.stored)),
  });
  t.same(stats.by_day, byDay, 'by day, every figure');
  t.same(Object.keys(stats.by_day).length, 2, 'two days archived');
  t.same(stats.by_storage_class, { STANDARD: sum(objs.map((o) => o.stored)) });
  t.equal(stats.oldest_record, stampsAll[0]);
  t.equal(stats.newest_record, stampsAll.at(-1));
  t.same(
    stats.policies,
    {
      [id]: {
        name: 'stale',
        enabled: false,
        last_run: {
          job_id: started.body.job_id,
          status: 'succeeded',
          created_at: job.created_at,
          finished_at: job.finished_at,
        },
      },
      [other.body.id]: { name: 'payments only', enabled: false, last_run: null },
    },
    'every policy, with its last run or null',
  );
  t.equal(stats.totals.objects, dataObjects.length);
  t.equal(stats.totals.records, recs.length);
  t.equal(
    stats.totals.stored_bytes,
    dataObjects.reduce((n, o) => n + o.Size!, 0),
    'stored bytes equal the bucket listing',
  );
  t.equal(stats.by_namespace.payments.records, 30);
  t.equal(stats.by_namespace.web.records, 20);
  t.equal(stats.by_cluster.alpha.records, 50);
  t.ok(stats.totals.compression_ratio > 1);

  const scoped = await call('GET', '/s3/stats', undefined, webOnly);
  t.equal(scoped.body.totals.records, 20, 'a namespace-restricted token sees only its namespaces');
  t.same(Object.keys(scoped.body.by_namespace), ['web']);
  t.same(Object.keys(scoped.body.policies), [id], 'a policy of other namespaces only is not shown to a web token');
  const scopedMeta = await call('GET', '/s3/metadata', undefined, webOnly);
  t.ok(scopedMeta.body.objects.every((o: any) => o.namespace === 'web'));

  const info = (await call('GET', '/storage/info')).body;
  t.equal(info.archive.endpoint, s3.endpoint);
  t.same(info.archive.buckets, [{ bucket: bucketName, reachable: true, versioning: 'Disabled', object_lock: false }]);
  const described = {
    enabled: false,
    bucket: bucketName,
    prefix: 'arch',
    storage_class: 'STANDARD',
    compression: 'gzip',
  };
  t.same(info.archive.policies, [
    { id, name: 'stale', ...described },
    { id: other.body.id, name: 'payments only', ...described },
  ]);
  t.match(info.store, { index_prefix: agg.prefix, retention_days: Number, indices: Number, documents: Number });
  const empty = await call(
    'GET',
    '/s3/stats',
    undefined,
    await agg.createToken({ name: 'nobody', scopes: ['archive'], namespaces: ['nothing-here'] }),
  );
  t.match(empty.body, {
    totals: { objects: 0, records: 0, stored_bytes: 0, raw_bytes: 0, compression_ratio: null },
    oldest_record: null,
    newest_record: null,
  });
  t.notMatch(JSON.stringify(info), new RegExp(s3.secretAccessKey), 'no secret in /storage/info');

  // The scan bound of /s3/content, through the route: the whole archive holds more stored
  // bytes than one request may scan, so the request is refused with the figures.
  t.ok(sum(objs.map((o) => o.stored)) > scanBound, 'the archive is larger than the bound');
  const tooMuch = await call('GET', '/s3/content?start=now-30d&end=now');
  t.equal(tooMuch.status, 400, JSON.stringify(tooMuch.body));
  t.equal(tooMuch.body.error.code, 'window_too_large');
  t.match(tooMuch.body.error.message, new RegExp(`more than the ${scanBound} bytes one request may scan`));
});
