// Server-side encryption of archive objects on the real local S3 server (versitygw), which
// accepts the `x-amz-server-side-encryption` header and stores the object unencrypted: a
// policy asking for encryption there is refused (400, saying why) rather than archiving in
// the clear while claiming otherwise. The check's object does not stay behind.
import t from 'tap';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { AppError } from '../../../aggregator/errors.ts';
import { assertPolicyUsable, parsePolicyInput } from '../../../aggregator/archive/policy-validation.ts';
import type { ArchiveBucket, PutOptions } from '../../../aggregator/archive/s3-bucket.ts';
import { dayRecords, startArchiveFixture, wrapBucket } from '../../helpers/archive-fixture.ts';

t.test('a policy asking for server-side encryption the S3 server does not apply is a 400', async (t) => {
  const f = await startArchiveFixture(t, { name: 'arch-sse' });
  await f.write(dayRecords('alpha', 'web', 3, 3));
  const body = (sse: string, kms?: string) => ({
    name: 'encrypted',
    schedule: { age_days: 1 },
    destination: {
      bucket: f.bucketName,
      prefix: 'enc',
      server_side_encryption: sse,
      ...(kms ? { kms_key_id: kms } : {}),
    },
  });
  const puts: Array<{ key: string; opts: PutOptions }> = [];
  const recording = (over: Partial<Omit<ArchiveBucket, 'bucket'>> = {}) =>
    wrapBucket(f.bucket, {
      put: async (key, b, opts) => {
        puts.push({ key, opts });
        await f.bucket.put(key, b, opts);
      },
      ...over,
    });
  const check = (b: unknown, bucket: ArchiveBucket) =>
    assertPolicyUsable(parsePolicyInput(b, { retentionDays: 7 }), {
      bucket: () => bucket,
      client: f.client,
      indexPrefix: f.prefix,
    }).then(
      () => undefined,
      (e: unknown) => e as AppError,
    );

  // What the server records for an object written with the header: nothing.
  for (const [sse, kms] of [['AES256'], ['aws:kms', 'arn:aws:kms:us-east-1:111122223333:key/test']] as const) {
    puts.length = 0;
    const err = await check(body(sse, kms), recording());
    t.equal(err?.status, 400, `${sse}: 400`);
    t.match(
      err?.message,
      new RegExp(`the S3 server does not apply ${sse}: an object written with it came back unencrypted`),
    );
    t.match(JSON.stringify((err as any)?.details), /destination\.server_side_encryption/);
    t.equal(puts.length, 1, 'one check object written');
    t.same(
      [puts[0]!.opts.serverSideEncryption, puts[0]!.opts.kmsKeyId],
      [sse, kms],
      'with the policy’s encryption and key',
    );
    t.match(puts[0]!.key, /^enc\/_sse-check-[0-9a-f-]{36}$/);
    const left = await f.sdk.send(new ListObjectsV2Command({ Bucket: f.bucketName, Prefix: 'enc/' }));
    t.same(left.Contents ?? [], [], 'the check object is deleted');
  }

  t.equal(await check(body('none'), recording()), undefined, 'no encryption asked: no check object');

  // The same check against a server that does encrypt: the answer of such a server's HEAD
  // (this one's plus the header it would send) passes.
  const encrypting = recording({
    head: async (key) => {
      const h = await f.bucket.head(key);
      const raw = await f.sdk.send(new HeadObjectCommand({ Bucket: f.bucketName, Key: key }));
      t.equal(raw.ServerSideEncryption, undefined, 'the real server reports no encryption');
      return h && { ...h, serverSideEncryption: 'AES256' };
    },
  });
  t.equal(await check(body('AES256'), encrypting), undefined, 'an encrypting server passes');
  const wrong = await check(body('aws:kms'), encrypting);
  t.match(wrong?.message, /does not apply aws:kms: an object written with it came back as AES256/);
});
