/**
 * Archive throughput: records/s and MB/s (uncompressed NDJSON) from OpenSearch to S3 through
 * the archive path (point-in-time stream → deterministic gzip parts → PutObject → manifest),
 * against a plain export of the same records to a local gzip file in the same run (the same
 * PIT stream, one gzip stream, no S3, no checksums, no manifest). Prints one JSON line;
 * `archive_vs_plain` is the ratio of the two throughputs (1.0 = archiving costs nothing).
 *
 *   npm run bench -- bench/aggregator/archive-throughput.bench.ts --records 100000 [--compression zstd]
 *
 * OPENSEARCH_URL / S3_ENDPOINT (+ S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY) use
 * running services; otherwise they are started here and stopped at the end.
 */
import { configWith, indexSettingsOf } from '../../aggregator/config.ts';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import type { LogRecord } from '../../shared/record.ts';
import { createOpenSearchClient } from '../../aggregator/store/opensearch.ts';
import { bootstrapStore } from '../../aggregator/store/bootstrap.ts';
import { BulkWriter } from '../../aggregator/store/bulk-writer.ts';
import { archivePartition } from '../../aggregator/archive/archive-partition.ts';
import { partitionFilters, type ArchiveSelection } from '../../aggregator/archive/archive-selection.ts';
import { partitionIndex, streamPartition } from '../../aggregator/archive/partition-source.ts';
import { createS3Client, SdkArchiveBucket } from '../../aggregator/archive/s3-bucket.ts';
import { ensureBucket, ensureS3ServerInstalled, startS3Server, type S3Endpoint } from '../../dev/s3/s3-server.ts';
import { benchOpenSearch, freshPrefix, log } from './bench-services.ts';

const { values } = parseArgs({
  options: { records: { type: 'string', default: '100000' }, compression: { type: 'string', default: 'gzip' } },
  allowPositionals: true,
  strict: false,
});
const total = Number(values.records);
const compression: 'gzip' | 'zstd' = values.compression === 'zstd' ? 'zstd' : 'gzip';
if (values.compression !== compression) throw new Error('--compression: gzip or zstd');
const DAY_MS = 86_400_000;
const os = await benchOpenSearch(1024);
const work = await mkdtemp(path.join(tmpdir(), 'k8s-logs-bench-arch-'));
let s3Server: Awaited<ReturnType<typeof startS3Server>> | undefined;
try {
  let s3: S3Endpoint;
  if (process.env['S3_ENDPOINT']) {
    s3 = {
      endpoint: process.env['S3_ENDPOINT'],
      region: process.env['S3_REGION'] ?? 'us-east-1',
      accessKeyId: process.env['S3_ACCESS_KEY_ID'] ?? '',
      secretAccessKey: process.env['S3_SECRET_ACCESS_KEY'] ?? '',
    };
  } else {
    await ensureS3ServerInstalled((m) => log(m));
    s3Server = await startS3Server({ dataDir: path.join(work, 's3') });
    s3 = s3Server;
  }
  const prefix = freshPrefix('archive');
  const client = createOpenSearchClient({
    ...configWith({}).opensearch,
    url: os.url,
    username: undefined,
    password: undefined,
    requestTimeoutMs: 60_000,
    indexPrefix: prefix,
    shards: 1,
    replicas: 0,
  });
  await bootstrapStore(client, { indexPrefix: prefix, index: { ...indexSettingsOf(configWith({}).opensearch), shards: 1, replicas: 0 } });
  const bucketName = `bench-${randomBytes(4).toString('hex')}`;
  await ensureBucket(s3, bucketName);

  // Two days × two namespaces, log-like lines with some repetition (as real logs have).
  const partitions = [3, 2].flatMap((d) =>
    ['payments', 'web'].map((namespace) => ({
      cluster: 'bench',
      day: new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - d * DAY_MS).toISOString().slice(0, 10),
      namespace,
    })),
  );
  const writer = new BulkWriter(client, prefix);
  log(`writing ${total} records`);
  let batch: LogRecord[] = [];
  for (let i = 0; i < total; i++) {
    const p = partitions[i % partitions.length]!;
    const ts = new Date(Date.parse(`${p.day}T00:00:00Z`) + Math.floor((i / total) * (DAY_MS - 1000)))
      .toISOString()
      .replace('Z', `${String(i % 1_000_000).padStart(6, '0')}Z`);
    batch.push({
      id: `bench-${i.toString(36).padStart(8, '0')}`,
      timestamp: ts,
      cluster: p.cluster,
      namespace: p.namespace,
      pod: `${p.namespace}-${i % 17}`,
      container: 'app',
      stream: i % 9 === 0 ? 'stderr' : 'stdout',
      level: i % 23 === 0 ? 'error' : 'info',
      message: `GET /api/v1/items/${i % 997} 200 ${(i * 7919) % 2000}ms user=${(i * 31) % 5000} trace=${(i * 2654435761) >>> 0}`,
      labels: { app: p.namespace, version: `v${i % 3}` },
    });
    if (batch.length === 5000) {
      await writer.write(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await writer.write(batch);
  await client.indices.refresh({ index: `${prefix}-*` });
  const selection: ArchiveSelection = { clusters: [], namespaces: [], levels: [], labels: {}, ageDays: 1 };

  // Baseline first, then the archive: both read the same records through the same stream.
  let t0 = performance.now();
  let plainRaw = 0;
  let plainStored = 0;
  for (const [i, p] of partitions.entries()) {
    const file = path.join(work, `plain-${i}.ndjson.gz`);
    const lines = (async function* () {
      for await (const page of streamPartition(client, partitionIndex(prefix, p), partitionFilters(selection, p))) {
        let chunk = '';
        for (const r of page) chunk += r.line + '\n';
        plainRaw += Buffer.byteLength(chunk);
        yield chunk;
      }
    })();
    await pipeline(Readable.from(lines), createGzip({ level: 6 }), createWriteStream(file));
    plainStored += (await stat(file)).size;
  }
  const plainMs = performance.now() - t0;

  const s3client = createS3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
    requestTimeoutMs: 60_000,
  });
  const target = {
    bucket: new SdkArchiveBucket(s3client, bucketName),
    prefix: 'bench',
    compression,
    targetObjectBytes: 8 * 1024 * 1024,
    storageClass: 'STANDARD',
    serverSideEncryption: undefined,
    kmsKeyId: undefined,
  };
  t0 = performance.now();
  let records = 0;
  let raw = 0;
  let stored = 0;
  let objects = 0;
  for (const p of partitions) {
    const done = await archivePartition({
      client,
      indexPrefix: prefix,
      selection,
      partition: p,
      target,
      jobId: 'bench',
      policyId: 'bench',
    });
    if (!done) continue;
    records += done.manifest.records;
    raw += done.manifest.raw_bytes;
    stored += done.manifest.stored_bytes;
    objects += done.manifest.objects.length;
  }
  const archiveMs = performance.now() - t0;
  s3client.destroy();
  await fetch(`${os.url}/${prefix}-*`, { method: 'DELETE' }).catch(() => {});
  await client.close();
  const MB = 1024 * 1024;
  const result = {
    bench: 'archive-throughput',
    records,
    objects,
    archive: {
      compression,
      records_per_s: Math.round(records / (archiveMs / 1000)),
      mb_per_s: +(raw / MB / (archiveMs / 1000)).toFixed(2),
      compression_ratio: +(raw / stored).toFixed(2),
      ms: Math.round(archiveMs),
    },
    plain_gzip_file: {
      records_per_s: Math.round(records / (plainMs / 1000)),
      mb_per_s: +(plainRaw / MB / (plainMs / 1000)).toFixed(2),
      compression_ratio: +(plainRaw / plainStored).toFixed(2),
      ms: Math.round(plainMs),
    },
    archive_vs_plain: +(plainMs / archiveMs).toFixed(2),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  await s3Server?.stop();
  await rm(work, { recursive: true, force: true });
  await os.stop();
}
