// Archive policy validation: every bad input is a 400 with the reason, including those only
// S3 and the store can tell (unknown bucket, unreachable S3, a policy that archives nothing).
import t from 'tap';
import { AppError } from '../../../aggregator/errors.ts';
import { assertPolicyUsable, parsePolicyInput } from '../../../aggregator/archive/policy-validation.ts';
import { createS3Client, SdkArchiveBucket } from '../../../aggregator/archive/s3-bucket.ts';
import { pickFreePort } from '../../../dev/s3/s3-server.ts';
import { dayRecords, startArchiveFixture } from '../../helpers/archive-fixture.ts';

const good = (bucket = 'archive-bucket') => ({
  name: 'nightly',
  selection: { clusters: ['alpha'], namespaces: ['payments'] },
  schedule: { age_days: 2 },
  destination: { bucket, prefix: 'logs/k8s' },
});

function reasonOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('no error');
}

t.test('a valid body takes every documented default', async (t) => {
  const p = parsePolicyInput(good(), { retentionDays: 7 });
  t.equal(p.enabled, true);
  t.same(p.selection, { clusters: ['alpha'], namespaces: ['payments'], levels: [], labels: {} });
  t.same(p.format, { compression: 'gzip', target_object_bytes: 64 * 1024 * 1024 });
  t.same(p.after, { delete_from_store: false, s3_retention_days: null });
  t.equal(p.destination.storage_class, 'STANDARD');
  t.equal(p.destination.server_side_encryption, 'none');
  t.equal(p.schedule.interval_minutes, 1440);
});

t.test('every bad input is a 400 naming the field', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['not an object', [1, 2], /JSON object/],
    ['no name', { ...good(), name: undefined }, /name/],
    ['unknown field', { ...good(), surprise: 1 }, /surprise|additional/i],
    ['bad cluster id', { ...good(), selection: { clusters: ['Bad_Cluster'] } }, /selection\.clusters/],
    ['unknown level', { ...good(), selection: { levels: ['loud'] } }, /selection\.levels/],
    ['age 0', { ...good(), schedule: { age_days: 0 } }, /schedule\.age_days/],
    ['bucket name', { ...good('Not_A_Bucket') }, /destination\.bucket/],
    [
      'prefix with a leading slash',
      { ...good(), destination: { bucket: 'b-1', prefix: '/logs' } },
      /destination\.prefix/,
    ],
    ['prefix with ..', { ...good(), destination: { bucket: 'b-1', prefix: 'a/../b' } }, /destination\.prefix/],
    [
      'storage class',
      { ...good(), destination: { bucket: 'b-1', storage_class: 'COLD' } },
      /destination\.storage_class/,
    ],
    [
      'kms key without aws:kms',
      { ...good(), destination: { bucket: 'b-1', kms_key_id: 'k' } },
      /destination\.kms_key_id/,
    ],
    ['compression', { ...good(), format: { compression: 'brotli' } }, /format\.compression/],
    ['tiny objects', { ...good(), format: { target_object_bytes: 10 } }, /format\.target_object_bytes/],
    ['age past retention', { ...good(), schedule: { age_days: 7 } }, /schedule\.age_days.*retention of 7 days/],
    ['S3 retention before archiving', { ...good(), after: { s3_retention_days: 2 } }, /after\.s3_retention_days/],
    ['duplicate namespaces', { ...good(), selection: { namespaces: ['a', 'a'] } }, /selection\.namespaces: duplicate/],
  ];
  for (const [what, body, want] of cases) {
    const err = reasonOf(() => parsePolicyInput(body, { retentionDays: 7 }));
    t.equal(err.status, 400, `${what}: 400`);
    t.match(JSON.stringify({ m: err.message, d: err.details }), want, `${what}: says why`);
  }
});

t.test('unknown bucket, unreachable S3 and a selection that archives nothing are 400s with the reason', async (t) => {
  const f = await startArchiveFixture(t, { name: 'arch-policy' });
  await f.write(dayRecords('alpha', 'payments', 3, 3));
  const s3 = createS3Client({
    endpoint: f.s3.endpoint,
    region: f.s3.region,
    accessKeyId: f.s3.accessKeyId,
    secretAccessKey: f.s3.secretAccessKey,
    forcePathStyle: true,
    requestTimeoutMs: 5000,
  });
  t.teardown(() => s3.destroy());
  const deps = { bucket: (name: string) => new SdkArchiveBucket(s3, name), client: f.client, indexPrefix: f.prefix };
  const check = async (body: unknown, d = deps) =>
    assertPolicyUsable(parsePolicyInput(body, { retentionDays: 7 }), d).then(
      () => undefined,
      (e: unknown) => e as AppError,
    );

  t.equal(await check(good(f.bucketName)), undefined, 'an existing bucket and a selection with records pass');
  const unknown = await check(good('no-such-bucket-here'));
  t.equal(unknown?.status, 400);
  t.match(unknown?.message, /unknown bucket "no-such-bucket-here"/);

  const deadPort = await pickFreePort();
  const dead = createS3Client({
    endpoint: `http://127.0.0.1:${deadPort}`,
    region: 'us-east-1',
    accessKeyId: 'x',
    secretAccessKey: 'y',
    forcePathStyle: true,
    requestTimeoutMs: 3000,
  });
  t.teardown(() => dead.destroy());
  const unreachable = await check(good(f.bucketName), { ...deps, bucket: (name) => new SdkArchiveBucket(dead, name) });
  t.equal(unreachable?.status, 400);
  t.match(unreachable?.message, /S3 is unreachable/);

  for (const selection of [
    { clusters: ['gamma'] },
    { clusters: ['alpha'], namespaces: ['nothing-here'] },
    { clusters: ['alpha'], levels: ['fatal'] },
    { clusters: ['alpha'], labels: { app: 'other' } },
  ]) {
    const nothing = await check({ ...good(f.bucketName), selection });
    t.equal(nothing?.status, 400, `${JSON.stringify(selection)}: 400`);
    t.match(nothing?.message, /would archive nothing/, `${JSON.stringify(selection)}: says it archives nothing`);
  }
});
