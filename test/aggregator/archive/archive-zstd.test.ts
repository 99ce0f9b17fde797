// A zstd policy end to end on the real OpenSearch and S3: the job writes `.ndjson.zst` objects
// that hold exactly the source records (read back with the AWS SDK and node:zlib, not the
// product's reader), deletes the verified days, and /s3/content, /s3/metadata and restore
// read those objects back: restore brings back exactly the archived records.
import t from 'tap';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { zstdDecompressSync } from 'node:zlib';
import { ingest, ndjson } from '../../helpers/records.ts';
import { s3ClientConfig } from '../../../dev/s3/s3-server.ts';
import { apiCaller, dayOf, dayRecords, startArchivingAggregator } from '../../helpers/archive-fixture.ts';
import type { LogRecord } from '../../../shared/record.ts';

t.test('a zstd policy archives, verifies, deletes, serves and restores exactly the source records', async (t) => {
  const { s3, bucketName, agg } = await startArchivingAggregator(t, 'arch-zstd');
  const recs = [
    ...dayRecords('alpha', 'payments', 3, 30),
    ...dayRecords('alpha', 'web', 3, 20),
    ...dayRecords('alpha', 'web', 2, 10),
  ];
  t.equal((await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(recs))).status, 200);
  await agg.refresh();
  const token = await agg.createToken({ name: 'archiver', scopes: ['archive'] });
  const reader = await agg.createToken({ name: 'reader', scopes: ['logs:read'] });
  const { call, finished } = apiCaller(agg.url, token);
  const start = `${dayOf(3)}T00:00:00Z`;
  const end = `${dayOf(2)}T23:59:59.999999999Z`;
  const stored = async () => {
    const res = await call('GET', `/?cluster=alpha&start=${start}&end=${end}&limit=1000`, undefined, reader);
    t.equal(res.status, 200, res.text);
    return res.body.logs as LogRecord[];
  };
  const sorted = (rs: readonly LogRecord[]) => rs.map((r) => JSON.stringify(r)).sort();

  const policy = await call('POST', '/archive/policies', {
    name: 'zstd',
    enabled: false,
    selection: { clusters: ['alpha'] },
    schedule: { age_days: 1 },
    destination: { bucket: bucketName, prefix: 'z' },
    // Small objects: the 60 records span several parts per partition.
    format: { compression: 'zstd', target_object_bytes: 64 * 1024 },
    after: { delete_from_store: true },
  });
  t.equal(policy.status, 201, policy.text);
  agg.app.startJobs();
  const run = await finished((await call('POST', '/archive/start', { policy_id: policy.body.id })).body.job_id);
  t.equal(run.status, 'succeeded', JSON.stringify(run.error));
  t.equal(run.result.records, recs.length);
  t.same(await stored(), [], 'the verified days were deleted from the store');

  // Independent read-back: every data object is zstd, and together they are the source, each record once.
  const sdk = new S3Client(s3ClientConfig(s3));
  t.teardown(() => sdk.destroy());
  const listed = (await sdk.send(new ListObjectsV2Command({ Bucket: bucketName, Prefix: 'z/' }))).Contents ?? [];
  const data = listed.filter((o) => !o.Key!.endsWith('_manifest.json'));
  t.ok(data.length >= 3, `one object or more per partition (${data.length})`);
  t.ok(
    data.every((o) => o.Key!.endsWith('.ndjson.zst')),
    'zstd objects carry .ndjson.zst',
  );
  const lines: string[] = [];
  for (const o of data) {
    const got = await sdk.send(new GetObjectCommand({ Bucket: bucketName, Key: o.Key! }));
    const body = zstdDecompressSync(Buffer.from(await got.Body!.transformToByteArray()));
    lines.push(...body.toString('utf8').split('\n').filter(Boolean));
  }
  t.same(lines.sort(), sorted(recs), 'the objects hold exactly the source records');

  const meta = await call('GET', '/s3/metadata?limit=1000');
  t.equal(meta.body.objects.length, data.length);
  t.ok(
    meta.body.objects.every((o: { compression: string }) => o.compression === 'zstd'),
    'the catalog says zstd',
  );
  const content = await call('GET', `/s3/content?cluster=alpha&start=${start}&end=${end}&limit=1000`);
  t.equal(content.status, 200, content.text);
  t.same(sorted(content.body.logs), sorted(recs), '/s3/content reads the zstd objects');

  const restore = await call('POST', '/archive/restore', { cluster: 'alpha', start, end });
  t.equal(restore.status, 202, restore.text);
  const restored = await finished(restore.body.job_id);
  t.equal(restored.status, 'succeeded', JSON.stringify(restored.error));
  t.equal(restored.result.restored, recs.length);
  t.same(sorted(await stored()), sorted(recs), 'restore brings back exactly the archived records');
});
