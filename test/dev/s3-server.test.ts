// The local S3 server must behave like S3 for the AWS SDK v3 at its default settings
// (CRC32 checksums on aws-chunked bodies included), and keep objects across restarts.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  ensureBucket,
  ensureS3ServerInstalled,
  killStaleS3Server,
  startS3Server,
  type RunningS3Server,
} from '../../dev/s3/s3-server.ts';

const BUCKET = 'k8s-logs-test';
const MiB = 1024 * 1024;

/** Deterministic, non-repeating-looking bytes so misplaced ranges or parts are detected. */
function pattern(length: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

async function getBytes(client: S3Client, key: string, range?: string): Promise<Buffer> {
  const res = await client.send(
    new GetObjectCommand({ Bucket: BUCKET, Key: key, ...(range ? { Range: range } : {}) }),
  );
  if (!res.Body) throw new Error(`no body for ${key}`);
  return Buffer.from(await res.Body.transformToByteArray());
}

/** Only endpoint, region, credentials and path style: every other setting is the SDK default. */
function clientConfig(server: RunningS3Server | undefined): S3ClientConfig {
  if (!server) throw new Error('server not started');
  return {
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    forcePathStyle: true,
  };
}

function clientFor(server: RunningS3Server): S3Client {
  return new S3Client(clientConfig(server));
}

const dataDir = await mkdtemp(join(tmpdir(), 'k8s-logs-s3-test-'));
let server: RunningS3Server | undefined;
let client: S3Client | undefined;

t.teardown(async () => {
  client?.destroy();
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

await ensureS3ServerInstalled((msg) => t.comment(msg));
server = await startS3Server({ dataDir, log: (msg) => t.comment(msg) });
client = clientFor(server);
await ensureBucket(server, BUCKET);
const s3 = client;

t.test('writes a pid file in the data dir and can create the same bucket twice', async (t) => {
  const pid = Number((await readFile(join(dataDir, 's3-server.pid'), 'utf8')).trim());
  t.equal(pid, server?.pid);
  if (server) await ensureBucket(server, BUCKET);
});

t.test('PutObject with default checksums; GetObject returns the same bytes', async (t) => {
  const body = pattern(100_000, 1);
  const put = await s3.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: 'put/one.bin', Body: body }),
  );
  t.ok(put.ETag, 'has an ETag');
  t.ok(put.ChecksumCRC32, 'server returned the CRC32 the SDK sent');
  t.ok((await getBytes(s3, 'put/one.bin')).equals(body), 'body round-trips');
});

t.test(
  'PutObject of a stream uses aws-chunked with a CRC32 trailer, and the server accepts it',
  async (t) => {
    // Record what the SDK really sends, to prove this exercises the streaming-trailer path.
    const sent: Record<string, string>[] = [];
    const recorder = new S3Client(clientConfig(server));
    recorder.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) sent.push({ ...request.headers });
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordHeaders' },
    );
    t.teardown(() => recorder.destroy());
    const body = pattern(300_000, 9);
    const put = await recorder.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'put/streamed.bin',
        Body: Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]),
        ContentLength: body.length,
      }),
    );
    t.equal(sent[0]?.['content-encoding'], 'aws-chunked');
    t.equal(sent[0]?.['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    t.equal(sent[0]?.['x-amz-trailer'], 'x-amz-checksum-crc32');
    t.ok(put.ChecksumCRC32);
    t.ok((await getBytes(s3, 'put/streamed.bin')).equals(body), 'body round-trips');

    sent.length = 0;
    const key = 'multipart/streamed.bin';
    const part = pattern(5 * MiB, 10);
    const { UploadId } = await recorder.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ChecksumAlgorithm: 'CRC32' }),
    );
    const p1 = await recorder.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        PartNumber: 1,
        Body: Readable.from([part]),
        ContentLength: part.length,
      }),
    );
    t.equal(
      sent[1]?.['x-amz-content-sha256'],
      'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'UploadPart streamed too',
    );
    await recorder.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        MultipartUpload: {
          Parts: [{ PartNumber: 1, ETag: p1.ETag, ChecksumCRC32: p1.ChecksumCRC32 }],
        },
      }),
    );
    t.ok((await getBytes(s3, key)).equals(part));
  },
);

t.test('HeadObject returns user metadata and ContentLength', async (t) => {
  await s3.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: 'meta/obj.ndjson',
      Body: '{"a":1}\n',
      ContentType: 'application/x-ndjson',
      Metadata: { records: '1', 'first-timestamp': '2026-01-02T03:04:05.123456789Z' },
    }),
  );
  const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'meta/obj.ndjson' }));
  t.equal(head.ContentLength, 8);
  t.equal(head.ContentType, 'application/x-ndjson');
  t.same(head.Metadata, { records: '1', 'first-timestamp': '2026-01-02T03:04:05.123456789Z' });
});

t.test('range GETs return exactly the requested bytes', async (t) => {
  const body = pattern(1000, 2);
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'range/obj', Body: body }));
  t.ok(
    (await getBytes(s3, 'range/obj', 'bytes=10-19')).equals(body.subarray(10, 20)),
    'bytes=10-19',
  );
  t.ok((await getBytes(s3, 'range/obj', 'bytes=-5')).equals(body.subarray(995)), 'bytes=-5');
  const res = await s3.send(
    new GetObjectCommand({ Bucket: BUCKET, Key: 'range/obj', Range: 'bytes=-5' }),
  );
  t.equal(res.ContentRange, 'bytes 995-999/1000');
  t.equal(res.ContentLength, 5);
  await res.Body?.transformToByteArray();
});

t.test('multipart upload with two 5 MiB parts and CRC32 part checksums', async (t) => {
  const key = 'multipart/manual.bin';
  const part1 = pattern(5 * MiB, 3);
  const part2 = pattern(5 * MiB + 123, 4);
  // The same calls lib-storage makes at default settings: CRC32 declared at creation,
  // each part's checksum echoed back in the completion.
  const created = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ChecksumAlgorithm: 'CRC32' }),
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error('no UploadId');
  const parts = [];
  for (const [i, body] of [part1, part2].entries()) {
    const res = await s3.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        PartNumber: i + 1,
        Body: body,
      }),
    );
    t.ok(res.ChecksumCRC32, `part ${i + 1} has a CRC32`);
    parts.push({ PartNumber: i + 1, ETag: res.ETag, ChecksumCRC32: res.ChecksumCRC32 });
  }
  const done = await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: BUCKET,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
  t.match(done.ETag, /-2"?$/, 'multipart ETag names two parts');
  const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
  t.equal(head.ContentLength, part1.length + part2.length);
  t.ok(
    (await getBytes(s3, key)).equals(Buffer.concat([part1, part2])),
    'body is the parts in order',
  );
});

t.test('multipart upload without checksums in the completion', async (t) => {
  const key = 'multipart/plain.bin';
  const part1 = pattern(5 * MiB, 7);
  const part2 = pattern(1000, 8);
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }),
  );
  const p1 = await s3.send(
    new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: part1 }),
  );
  const p2 = await s3.send(
    new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 2, Body: part2 }),
  );
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: BUCKET,
      Key: key,
      UploadId,
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: p1.ETag },
          { PartNumber: 2, ETag: p2.ETag },
        ],
      },
    }),
  );
  t.ok((await getBytes(s3, key)).equals(Buffer.concat([part1, part2])));
});

t.test('lib-storage Upload of a 12 MiB buffer goes multipart and round-trips', async (t) => {
  const key = 'multipart/lib-storage.bin';
  const body = pattern(12 * MiB + 17, 5);
  const upload = new Upload({
    client: s3,
    params: { Bucket: BUCKET, Key: key, Body: body, Metadata: { source: 'lib-storage' } },
  });
  let partEvents = 0;
  upload.on('httpUploadProgress', () => {
    partEvents++;
  });
  const res = await upload.done();
  t.match(res.ETag, /-3"?$/, 'uploaded as three parts');
  t.ok(partEvents >= 3);
  const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
  t.equal(head.ContentLength, body.length);
  t.same(head.Metadata, { source: 'lib-storage' });
  t.ok((await getBytes(s3, key)).equals(body));
});

t.test('ListObjectsV2 pages with continuation tokens and returns each key once', async (t) => {
  const expected = Array.from(
    { length: 25 },
    (_, i) => `list/day=2026-01-${String(i + 1).padStart(2, '0')}/part.ndjson.gz`,
  );
  await Promise.all(
    expected.map((Key) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: Key }))),
  );
  const seen: string[] = [];
  const pageSizes: number[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: BUCKET,
        Prefix: 'list/',
        MaxKeys: 10,
        ContinuationToken: token,
      }),
    );
    pageSizes.push(page.KeyCount ?? 0);
    for (const obj of page.Contents ?? []) if (obj.Key) seen.push(obj.Key);
    t.equal(page.IsTruncated, page.NextContinuationToken !== undefined);
    token = page.NextContinuationToken;
  } while (token !== undefined && pageSizes.length < 10);
  t.same(pageSizes, [10, 10, 5]);
  t.same(seen, [...expected].sort(), 'every key exactly once, in key order');
});

t.test('objects survive a restart on the same data dir', async (t) => {
  const body = pattern(4096, 6);
  await s3.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: 'persist/obj',
      Body: body,
      Metadata: { kept: 'yes' },
    }),
  );
  const before = server;
  if (!before) throw new Error('no server');
  await before.stop();
  await t.rejects(
    s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'persist/obj' })),
    'the first server is really gone',
  );
  server = await startS3Server({ dataDir, log: (msg) => t.comment(msg) });
  t.not(server.pid, before.pid);
  const again = clientFor(server);
  t.teardown(() => again.destroy());
  const head = await again.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'persist/obj' }));
  t.same(head.Metadata, { kept: 'yes' });
  t.ok((await getBytes(again, 'persist/obj')).equals(body));
  t.ok(
    (await getBytes(again, 'multipart/lib-storage.bin')).length > 12 * MiB,
    'earlier multipart object too',
  );
  // Point the shared client at the new server for any later test.
  client?.destroy();
  client = again;
});

t.test('a stale server recorded in the pid file is killed before a new start', async (t) => {
  const staleDir = await mkdtemp(join(tmpdir(), 'k8s-logs-s3-stale-'));
  t.teardown(() => rm(staleDir, { recursive: true, force: true }));
  const first = await startS3Server({ dataDir: staleDir });
  t.teardown(() => first.stop());
  // Simulate a crashed parent: the first server is still running when the next start comes.
  const second = await startS3Server({ dataDir: staleDir });
  t.teardown(() => second.stop());
  t.not(second.pid, first.pid);
  t.throws(() => process.kill(first.pid, 0), 'the stale server was stopped');
  await second.stop();
  t.equal(await killStaleS3Server(staleDir), undefined, 'nothing left to kill after stop()');
});
