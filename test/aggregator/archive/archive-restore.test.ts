// Restore on the real OpenSearch and S3: archived (and deleted) days come back into the store
// through POST /archive/restore as a job, visible to GET / and /search, exactly once however
// often they are restored, and go again with DELETE /archive/restore.
import t from 'tap';
import { ingest, ndjson } from '../../helpers/records.ts';
import { apiCaller, dayOf, dayRecords, jobContext, startArchivingAggregator } from '../../helpers/archive-fixture.ts';
import { ArchiveCatalog } from '../../../aggregator/archive/archive-catalog.ts';
import { createS3Client, SdkArchiveBucket } from '../../../aggregator/archive/s3-bucket.ts';
import { restoreJobHandler } from '../../../aggregator/jobs/restore-job.ts';
import type { LogRecord } from '../../../shared/record.ts';

t.test('restore brings back exactly the archived records, idempotently, and removes them again', async (t) => {
  const { s3, bucketName, agg } = await startArchivingAggregator(t, 'arch-restore');
  const alpha = [
    ...dayRecords('alpha', 'payments', 3, 30),
    ...dayRecords('alpha', 'web', 3, 25),
    ...dayRecords('alpha', 'web', 2, 15),
  ];
  const beta = dayRecords('beta', 'web', 3, 12);
  t.equal((await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(alpha))).status, 200);
  t.equal((await ingest(agg.url, await agg.ingestToken('beta'), ndjson(beta))).status, 200);
  await agg.refresh();
  const token = await agg.createToken({ name: 'archiver', scopes: ['archive'] });
  const webOnly = await agg.createToken({ name: 'web archive', scopes: ['archive'], namespaces: ['web'] });
  const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
  const { call, finished } = apiCaller(agg.url, token);
  const start = `${dayOf(3)}T00:00:00Z`;
  const end = `${dayOf(2)}T23:59:59.999999999Z`;
  const stored = async (cluster: string) => {
    const res = await call('GET', `/?cluster=${cluster}&start=${start}&end=${end}&limit=1000`, undefined, reader);
    t.equal(res.status, 200, res.text);
    return res.body.logs as LogRecord[];
  };
  const ids = (rs: readonly LogRecord[]) => rs.map((r) => r.id).sort();

  // alpha: archived and deleted after verification; beta: archived, kept in the store.
  const policy = (cluster: string, del: boolean) => ({
    name: `p-${cluster}`,
    selection: { clusters: [cluster] },
    schedule: { age_days: 1 },
    destination: { bucket: bucketName, prefix: `arch-${cluster}` },
    after: { delete_from_store: del },
  });
  agg.app.startJobs();
  for (const [cluster, del] of [
    ['alpha', true],
    ['beta', false],
  ] as const) {
    const p = await call('POST', '/archive/policies', policy(cluster, del));
    t.equal(p.status, 201, p.text);
    const run = await finished((await call('POST', '/archive/start', { policy_id: p.body.id })).body.job_id);
    t.equal(run.status, 'succeeded', JSON.stringify(run.error));
  }
  t.same(await stored('alpha'), [], 'the alpha days were deleted from the store after archiving');
  t.equal((await stored('beta')).length, beta.length);

  // Bad input and scope.
  t.equal((await call('POST', '/archive/restore', { cluster: 'alpha', start: end, end: start })).status, 400);
  t.equal((await call('POST', '/archive/restore', { cluster: 'Alpha!', start, end })).status, 400);
  t.equal((await call('POST', '/archive/restore', { cluster: 'alpha', start: 'soon', end })).status, 400);
  t.equal((await call('POST', '/archive/restore', { cluster: 'alpha', start, end, extra: 1 })).status, 400);
  t.equal((await call('POST', '/archive/restore', { cluster: 'alpha', start, end }, reader)).status, 403);
  const foreign = await call(
    'POST',
    '/archive/restore',
    { cluster: 'alpha', start, end, namespaces: ['payments'] },
    webOnly,
  );
  t.equal(foreign.status, 403, 'a namespace-restricted token restores only its namespaces');

  // A restricted token without namespaces restores its own: web only.
  const first = await call('POST', '/archive/restore', { cluster: 'alpha', start, end }, webOnly);
  t.equal(first.status, 202, first.text);
  const j1 = await finished(first.body.job_id);
  t.equal(j1.status, 'succeeded', JSON.stringify(j1.error));
  t.equal(j1.type, 'restore');
  t.same(j1.params.namespaces, ['web']);
  t.equal(j1.result.restored, 40);
  t.equal(j1.result.already_present, 0);
  t.equal(Object.keys(j1.progress.objects).length, j1.result.objects, 'progress lists every object');
  const web = alpha.filter((r) => r.namespace === 'web');
  t.same(ids(await stored('alpha')), ids(web), 'GET / sees exactly the restored records');
  t.same(
    (await stored('alpha')).find((r) => r.id === web[0]!.id),
    web[0],
    'a restored record equals the ingested one',
  );
  const search = await call('POST', '/search', { clusters: ['alpha'], start, end, limit: 1000 }, reader);
  t.equal(search.status, 200, search.text);
  t.same(ids(search.body.logs), ids(web), '/search sees them too');
  const logql = await call('POST', '/search/logql', { query: '{cluster="alpha"}', start, end, limit: 1000 }, reader);
  t.equal(logql.status, 200, logql.text);
  t.same(
    (logql.body.result as Array<{ stream: Record<string, string>; values: [string, string][] }>)
      .flatMap((s) => s.values.map(([, line]) => `${s.stream['namespace']} ${line}`))
      .sort(),
    web.map((r) => `web ${r.message}`).sort(),
    'LogQL sees exactly the restored lines, with their labels',
  );
  const counted = await call(
    'POST',
    '/search/logql',
    { query: 'sum by (namespace) (count_over_time({cluster="alpha"}[3d]))', end },
    reader,
  );
  t.equal(counted.status, 200, counted.text);
  t.same(
    (counted.body.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => [
      s.metric,
      s.value[1],
    ]),
    [[{ namespace: 'web' }, String(web.length)]],
    'and LogQL metric queries count them',
  );

  // Twice: nothing stored twice. All namespaces: only what was missing.
  const again = await finished(
    (await call('POST', '/archive/restore', { cluster: 'alpha', start, end, namespaces: ['web'] })).body.job_id,
  );
  t.equal(again.result.restored, 0);
  t.equal(again.result.already_present, 40);
  const all = await finished((await call('POST', '/archive/restore', { cluster: 'alpha', start, end })).body.job_id);
  t.equal(all.result.restored, 30);
  t.equal(all.result.already_present, 40);
  t.same(ids(await stored('alpha')), ids(alpha), 'every archived alpha record once');

  // Records still in their day index are not copied.
  const b = await finished((await call('POST', '/archive/restore', { cluster: 'beta', start, end })).body.job_id);
  t.equal(b.result.restored, 0);
  t.equal(b.result.already_present, beta.length);
  t.equal((await stored('beta')).length, beta.length, 'no copy of a record the store still holds');

  // Removal.
  const outside = await call(
    'DELETE',
    `/archive/restore?cluster=alpha&start=${start}&end=${end}&namespace=payments`,
    undefined,
    webOnly,
  );
  t.equal(outside.status, 403);
  const rmWeb = await call('DELETE', `/archive/restore?cluster=alpha&start=${start}&end=${end}&namespace=web`);
  t.equal(rmWeb.status, 200, rmWeb.text);
  t.equal(rmWeb.body.deleted, 40);
  t.same(ids(await stored('alpha')), ids(alpha.filter((r) => r.namespace === 'payments')));
  const rmAll = await call('DELETE', `/archive/restore?cluster=alpha&start=${start}&end=${end}`);
  t.equal(rmAll.body.deleted, 30);
  t.same(await stored('alpha'), []);
  t.equal((await stored('beta')).length, beta.length, 'original day indices are never touched');
  const left = await fetch(`${agg.opensearchUrl}/_cat/indices/${agg.prefix}-alpha-*?format=json`).then((r) => r.json());
  t.same(left, [], 'restored indices left empty are deleted');

  // Resume: a restore stopped after its first object finishes exactly on the next attempt.
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
    indexPrefix: agg.prefix,
    catalog: new ArchiveCatalog(agg.app.opensearch, agg.prefix),
    bucket: (name: string) => new SdkArchiveBucket(s3client, name),
  };
  const params = {
    cluster: 'alpha',
    namespaces: [],
    start: `${dayOf(3)}T00:00:00.000000000Z`,
    end: `${dayOf(2)}T23:59:59.999999999Z`,
  };
  const { ctx } = jobContext('restore-resume', params);
  await t.rejects(
    restoreJobHandler({
      ...deps,
      onObject: () => {
        throw new Error('killed after the first object');
      },
    }).run(ctx),
    /killed/,
  );
  const saved = ctx.saved as { objects: Record<string, { restored: number }> };
  t.equal(Object.keys(saved.objects).length, 1, 'the first object is checkpointed');
  const resumed = jobContext('restore-resume', params, saved).ctx;
  const result = await restoreJobHandler(deps).run(resumed);
  t.equal(result['restored'], alpha.length, 'the resumed job counts each record once');
  t.same(ids(await stored('alpha')), ids(alpha), 'and the store holds each once');
});
