// The archive job on the real OpenSearch and the real local S3 server: what lands in S3 is
// read back independently (AWS SDK + gunzip), and deletion happens only after verification.
import t from 'tap';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { archiveJobHandler } from '../../../aggregator/jobs/archive-job.ts';
import type { ArchiveBucket } from '../../../aggregator/archive/s3-bucket.ts';
import { parseManifest } from '../../../aggregator/archive/manifest.ts';
import {
  dayOf,
  dayRecords,
  jobContext,
  policyFor,
  startArchiveFixture,
  wrapBucket,
  type ArchiveFixture,
} from '../../helpers/archive-fixture.ts';
import type { ArchivePolicy } from '../../../aggregator/archive/archive-policy.ts';
import type { LogRecord } from '../../../shared/record.ts';

function handler(
  f: ArchiveFixture,
  policy: ArchivePolicy,
  bucket: ArchiveBucket = f.bucket,
  onPartition?: (key: string) => void | Promise<void>,
) {
  return archiveJobHandler({
    client: f.client,
    indexPrefix: f.prefix,
    bucket: () => bucket,
    policy: async (id) => (id === policy.id ? policy : undefined),
    catalog: f.catalog,
    ...(onPartition ? { onPartition } : {}),
  });
}

const asLines = (records: LogRecord[]) => records.map((r) => JSON.stringify(r)).sort();

t.test(
  'a job over several days and namespaces archives exactly the source records, and a rerun changes nothing',
  async (t) => {
    const f = await startArchiveFixture(t, { name: 'arch-exact' });
    const old = [
      ...dayRecords('alpha', 'payments', 3, 2500),
      ...dayRecords('alpha', 'web', 3, 40),
      ...dayRecords('alpha', 'payments', 2, 25),
      ...dayRecords('beta', 'kube-system', 2, 30),
    ];
    const fresh = dayRecords('alpha', 'payments', 0, 10);
    await f.write([...old, ...fresh]);
    // Below the API's minimum object size, so 2500 records make several objects.
    const policy = policyFor(f, { format: { target_object_bytes: 16 * 1024 } });
    const { ctx } = jobContext('job-1', { policy_id: policy.id });
    const result = await handler(f, policy).run(ctx);
    t.equal(result['partitions'], 4, 'cluster × day × namespace partitions of the archivable days');
    t.equal(result['records'], old.length);

    const lines = await f.archivedLines();
    t.same(
      lines.sort(),
      asLines(old),
      'objects hold exactly the archivable source records (fields and values), each once',
    );
    const keys = (await f.bucket.list('archive/')).objects.map((o) => o.key);
    t.ok(
      keys.includes(`archive/cluster=alpha/dt=${dayOf(3)}/namespace=payments/part-00001.ndjson.gz`),
      'a large partition is split into several objects',
    );
    t.ok(keys.includes(`archive/cluster=beta/dt=${dayOf(2)}/namespace=kube-system/_manifest.json`));
    t.notOk(
      keys.some((k) => k.includes(`dt=${dayOf(0)}`)),
      'today is not archived (age 1 day)',
    );
    const manifest = parseManifest(
      (await f.bucket.get(`archive/cluster=alpha/dt=${dayOf(3)}/namespace=payments/_manifest.json`)).toString(),
    );
    t.equal(manifest?.records, 2500);
    t.equal(manifest?.job_id, 'job-1');

    const before = await Promise.all(
      keys.filter((k) => k.endsWith('.gz')).map(async (k) => (await f.bucket.get(k)).toString('base64')),
    );
    const again = jobContext('job-2', { policy_id: policy.id });
    const second = await handler(f, policy).run(again.ctx);
    t.equal(second['records'], old.length);
    t.same(
      Object.values((again.ctx.saved as any).partitions).map((p: any) => p.skipped),
      [true, true, true, true],
      'the rerun confirms every partition from its manifest',
    );
    const after = await Promise.all(
      keys.filter((k) => k.endsWith('.gz')).map(async (k) => (await f.bucket.get(k)).toString('base64')),
    );
    t.same(after, before, 'no object changed');
    t.same((await f.archivedLines()).length, old.length, 'no duplicate');
    t.equal((await f.dayIndices()).length, 4, 'keep policy: no day index deleted');
  },
);

t.test('delete-after-verify deletes only verified days whose records the policy archives in full', async (t) => {
  const f = await startArchiveFixture(t, { name: 'arch-delete' });
  const alpha3 = [...dayRecords('alpha', 'payments', 3, 50), ...dayRecords('alpha', 'web', 3, 20)];
  const alpha2 = [...dayRecords('alpha', 'payments', 2, 30), ...dayRecords('alpha', 'batch', 2, 15)];
  const today = dayRecords('alpha', 'payments', 0, 5);
  await f.write([...alpha3, ...alpha2, ...today]);
  // Selects payments and web: day 3 is all theirs, day 2 also holds `batch`.
  const policy = policyFor(f, { selection: { namespaces: ['payments', 'web'] }, after: { delete_from_store: true } });
  const { ctx } = jobContext('job-del', { policy_id: policy.id });
  const result = await handler(f, policy).run(ctx);
  const days = result['days'] as Record<string, any>;
  t.same(days[`alpha/${dayOf(3)}`], { deleted: true, records: 70 });
  t.equal(days[`alpha/${dayOf(2)}`].deleted, false);
  t.equal(days[`alpha/${dayOf(2)}`].reason, 'index_holds_unselected_records');
  const indices = await f.dayIndices();
  t.notOk(
    indices.includes(`${f.prefix}-alpha-${dayOf(3).replaceAll('-', '.')}`),
    'the verified day is gone from the store',
  );
  t.ok(
    indices.includes(`${f.prefix}-alpha-${dayOf(2).replaceAll('-', '.')}`),
    'the day holding unselected records stays',
  );
  t.ok(indices.includes(`${f.prefix}-alpha-${dayOf(0).replaceAll('-', '.')}`), 'today stays');
  const settings = await f.client.indices.getSettings({ index: `${f.prefix}-alpha-${dayOf(2).replaceAll('-', '.')}` });
  t.notOk(JSON.stringify(settings.body).includes('"write":"true"'), 'the kept day is writable again');
  t.same(
    (await f.archivedLines()).sort(),
    asLines([...alpha3, ...alpha2.filter((r) => r.namespace === 'payments')]),
    'everything selected is in S3',
  );
  const sealed = parseManifest(
    (await f.bucket.get(`archive/cluster=alpha/dt=${dayOf(3)}/namespace=payments/_manifest.json`)).toString(),
  );
  t.equal(sealed?.sealed_parts, sealed?.objects.length, "the deleted day's manifests are sealed");

  // A late record for the deleted day recreates its index; the next run archives it as a
  // further part and keeps every earlier record.
  const late = dayRecords('alpha', 'payments', 3, 1);
  const resent = alpha3[0]!;
  await f.write([...late, resent]);
  const next = jobContext('job-late', { policy_id: policy.id });
  const r2 = await handler(f, policy).run(next.ctx);
  t.same(
    (r2['days'] as any)[`alpha/${dayOf(3)}`],
    { deleted: true, records: 2 },
    'the late day is deleted again once its late record is verified (the resend counted as archived)',
  );
  const lines = await f.archivedLines(`archive/cluster=alpha/dt=${dayOf(3)}/`);
  t.same(lines.sort(), asLines([...alpha3, ...late]), 'late record archived, the resent record not duplicated');
});

t.test(
  'an object corrupted in S3 is never taken as verified: its day is kept, and a later run repairs and deletes it',
  async (t) => {
    const f = await startArchiveFixture(t, { name: 'arch-corrupt' });
    const recs = [...dayRecords('alpha', 'payments', 3, 60), ...dayRecords('alpha', 'web', 2, 20)];
    await f.write(recs);
    const policy = policyFor(f, { after: { delete_from_store: true } });
    const corruptKey = `archive/cluster=alpha/dt=${dayOf(3)}/namespace=payments/part-00000.ndjson.gz`;
    let corrupting = true;
    // Every stored copy of this object is damaged in S3 itself (one flipped byte after the
    // upload), as bit rot or a broken proxy would leave it.
    const rotten: ArchiveBucket = wrapBucket(f.bucket, {
      put: async (key: string, body: Buffer, opts: Parameters<ArchiveBucket['put']>[2]) => {
        await f.bucket.put(key, body, opts);
        if (corrupting && key === corruptKey) {
          const bad = Buffer.from(body);
          bad[bad.length - 12]! ^= 0xff;
          await f.sdk.send(new PutObjectCommand({ Bucket: f.bucketName, Key: key, Body: bad }));
        }
      },
    });
    const { ctx } = jobContext('job-c1', { policy_id: policy.id });
    const r1 = await handler(f, policy, rotten).run(ctx);
    const d3 = (r1['days'] as any)[`alpha/${dayOf(3)}`];
    t.equal(d3.deleted, false, 'the day with the corrupted object is not deleted');
    t.match(d3.reason, /^verification_failed:(object_checksum_mismatch|object_unreadable|content_checksum_mismatch)$/);
    t.equal(d3.detail, corruptKey);
    t.same((r1['days'] as any)[`alpha/${dayOf(2)}`], { deleted: true, records: 20 }, 'the sound day is deleted');
    const c = await f.client.count({ index: `${f.prefix}-alpha-${dayOf(3).replaceAll('-', '.')}` });
    t.equal((c.body as any).count, 60, 'every record of the kept day is still in the store');

    corrupting = false;
    const r2 = await handler(f, policy, rotten).run(jobContext('job-c2', { policy_id: policy.id }).ctx);
    t.same(
      (r2['days'] as any)[`alpha/${dayOf(3)}`],
      { deleted: true, records: 60 },
      'the next run rewrites the damaged object from the store, verifies and deletes',
    );
    t.same((await f.archivedLines()).sort(), asLines(recs), 'nothing lost, nothing doubled');
  },
);

t.test('a partition streams every record exactly once across pages, timestamps nanoseconds apart', async (t) => {
  const f = await startArchiveFixture(t, { name: 'arch-nanos' });
  // 2100 records within one microsecond-dense second: date_nanos sort values are longs past
  // 2^53, so paging on them (rather than the records' own strings) overlaps or skips.
  const base = dayRecords('alpha', 'payments', 3, 2100);
  const recs = base.map((r, i) => ({
    ...r,
    timestamp: `${r.timestamp.slice(0, 19)}.${String(100_000_000 + i * 37).padStart(9, '0')}Z`.replace(
      /T\d\d:\d\d:\d\d/,
      'T11:00:00',
    ),
  }));
  await f.write(recs);
  const policy = policyFor(f, { format: { target_object_bytes: 16 * 1024 } });
  const r = await handler(f, policy).run(jobContext('job-nanos', { policy_id: policy.id }).ctx);
  t.equal(r['records'], recs.length);
  t.same((await f.archivedLines()).sort(), asLines(recs), 'every record once');
});
