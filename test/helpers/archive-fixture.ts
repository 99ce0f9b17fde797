/**
 * A store + bucket for archive tests: the shared OpenSearch with its own index prefix
 * (template bootstrapped, records written through the real BulkWriter), a fresh bucket on
 * the S3 server, an archive policy over them, and independent read-back through the AWS
 * SDK and gunzip (not through the archive code under test).
 */
import { configWith, indexSettingsOf } from '../../aggregator/config.ts';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { LogRecord } from '../../shared/record.ts';
import { createOpenSearchClient, type OpenSearch } from '../../aggregator/store/opensearch.ts';
import { bootstrapStore } from '../../aggregator/store/bootstrap.ts';
import { BulkWriter } from '../../aggregator/store/bulk-writer.ts';
import { ArchiveCatalog } from '../../aggregator/archive/archive-catalog.ts';
import { createS3Client, SdkArchiveBucket, type ArchiveBucket } from '../../aggregator/archive/s3-bucket.ts';
import type { ArchivePolicy } from '../../aggregator/archive/archive-policy.ts';
import { archiveJobHandler, type ArchiveJobDeps } from '../../aggregator/jobs/archive-job.ts';
import { ensureBucket, s3ClientConfig, type S3Endpoint } from '../../dev/s3/s3-server.ts';
import { openSearchUrl, s3Endpoint, uniquePrefix } from './services.ts';
import { startTestAggregator } from './aggregator.ts';
import { waitFor } from './wait-for.ts';

const DAY_MS = 86_400_000;

export interface ArchiveFixture {
  client: OpenSearch;
  prefix: string;
  s3: S3Endpoint;
  bucketName: string;
  bucket: ArchiveBucket;
  sdk: S3Client;
  catalog: ArchiveCatalog;
  write(records: LogRecord[]): Promise<void>;
  refresh(): Promise<void>;
  /** Every line of every `.ndjson.gz` object under `prefix/`, read with the SDK and gunzip. */
  archivedLines(prefix?: string): Promise<string[]>;
  dayIndices(): Promise<string[]>;
}

export async function startArchiveFixture(
  t: { teardown(fn: () => unknown): void },
  opts: { name: string; s3?: S3Endpoint },
): Promise<ArchiveFixture> {
  const url = await openSearchUrl(t);
  const s3 = opts.s3 ?? (await s3Endpoint(t));
  const prefix = uniquePrefix(opts.name);
  const client = createOpenSearchClient({
    ...configWith({}).opensearch,
    url,
    username: undefined,
    password: undefined,
    requestTimeoutMs: 30_000,
    indexPrefix: prefix,
    shards: 1,
    replicas: 0,
  });
  await bootstrapStore(client, {
    indexPrefix: prefix,
    index: { ...indexSettingsOf(configWith({}).opensearch), shards: 1, replicas: 0 },
  });
  const bucketName = `t-${randomBytes(5).toString('hex')}`;
  await ensureBucket(s3, bucketName);
  const s3client = createS3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
    requestTimeoutMs: 10_000,
  });
  const sdk = new S3Client(s3ClientConfig(s3));
  const writer = new BulkWriter(client, prefix);
  t.teardown(async () => {
    await fetch(`${url}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
    await client.close();
    s3client.destroy();
    sdk.destroy();
  });
  const refresh = async () =>
    void (await client.indices.refresh({
      index: `${prefix}-*,.${prefix}-*`,
      expand_wildcards: 'all',
      ignore_unavailable: true,
      allow_no_indices: true,
    }));
  return {
    client,
    prefix,
    s3,
    bucketName,
    bucket: new SdkArchiveBucket(s3client, bucketName),
    sdk,
    catalog: new ArchiveCatalog(client, prefix),
    refresh,
    async write(records) {
      const outcomes = await writer.write(records);
      const bad = outcomes.filter((o) => o.kind !== 'created' && o.kind !== 'duplicate');
      if (bad.length > 0) throw new Error(`fixture write failed: ${JSON.stringify(bad[0])}`);
      await refresh();
    },
    async archivedLines(keyPrefix = '') {
      const lines: string[] = [];
      let token: string | undefined;
      do {
        const page = await sdk.send(
          new ListObjectsV2Command({
            Bucket: bucketName,
            Prefix: keyPrefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        for (const o of page.Contents ?? []) {
          if (!o.Key?.endsWith('.ndjson.gz')) continue;
          const res = await sdk.send(new GetObjectCommand({ Bucket: bucketName, Key: o.Key }));
          const body = Buffer.from(await res.Body!.transformToByteArray());
          lines.push(...gunzipSync(body).toString('utf8').split('\n').filter(Boolean));
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return lines;
    },
    async dayIndices() {
      const res = await client.cat.indices({ index: `${prefix}-*`, format: 'json', h: 'index' } as never);
      return ((res.body as Array<{ index: string }>) ?? []).map((i) => i.index).sort();
    },
  };
}

/** Canonical timestamp `daysAgo` days before today (UTC), at `seconds` past 10:00 plus `nanos`. */
export function dayTimestamp(daysAgo: number, seconds: number, nanos = 0): string {
  const start = Math.floor(Date.now() / DAY_MS) * DAY_MS - daysAgo * DAY_MS + 10 * 3_600_000;
  const iso = new Date(start + seconds * 1000).toISOString();
  return `${iso.slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`;
}

export function dayOf(daysAgo: number): string {
  return dayTimestamp(daysAgo, 0).slice(0, 10);
}

let seq = 0;
/** `n` records of one cluster/namespace/day with unique ids and distinct messages. */
export function dayRecords(
  cluster: string,
  namespace: string,
  daysAgo: number,
  n: number,
  extra: Partial<LogRecord> = {},
): LogRecord[] {
  const out: LogRecord[] = [];
  for (let i = 0; i < n; i++) {
    seq++;
    out.push({
      id: `arch-${process.pid}-${seq.toString(36).padStart(7, '0')}`,
      timestamp: dayTimestamp(daysAgo, Math.floor(i / 3), (seq * 7919) % 1_000_000_000),
      cluster,
      namespace,
      pod: `pod-${i % 4}`,
      container: 'app',
      stream: i % 5 === 0 ? 'stderr' : 'stdout',
      level: i % 7 === 0 ? 'error' : 'info',
      message: `${namespace} request ${seq} took ${(seq * 37) % 1000} ms path=/api/v1/items/${seq % 97}`,
      labels: { app: namespace, tier: i % 2 === 0 ? 'web' : 'worker' },
      ...extra,
    });
  }
  return out;
}

export function policyFor(
  f: Pick<ArchiveFixture, 'bucketName'>,
  over: {
    id?: string;
    selection?: Partial<ArchivePolicy['selection']>;
    after?: Partial<ArchivePolicy['after']>;
    format?: Partial<ArchivePolicy['format']>;
    ageDays?: number;
    prefix?: string;
  } = {},
): ArchivePolicy {
  return {
    id: over.id ?? 'pol-1',
    name: 'test policy',
    enabled: true,
    selection: { clusters: [], namespaces: [], levels: [], labels: {}, ...over.selection },
    schedule: { age_days: over.ageDays ?? 1, interval_minutes: 1440 },
    destination: {
      bucket: f.bucketName,
      prefix: over.prefix ?? 'archive',
      storage_class: 'STANDARD',
      server_side_encryption: 'none',
    },
    format: { compression: 'gzip', target_object_bytes: 64 * 1024, ...over.format },
    after: { delete_from_store: false, s3_retention_days: null, ...over.after },
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
  };
}

/** The archive job handler of `policy` on the fixture's store and bucket; `over` replaces any dependency. */
export function archiveHandlerFor(
  f: Pick<ArchiveFixture, 'client' | 'prefix' | 'bucket' | 'catalog'>,
  policy: ArchivePolicy,
  over: Partial<ArchiveJobDeps> = {},
) {
  return archiveJobHandler({
    client: f.client,
    indexPrefix: f.prefix,
    bucket: () => f.bucket,
    policy: async (id) => (id === policy.id ? policy : undefined),
    catalog: f.catalog,
    ...over,
  });
}

/** A JobContext for running a handler directly: checkpoints are kept in `saved`. */
export function jobContext<P>(id: string, params: P, progress: Record<string, unknown> | null = null) {
  const controller = new AbortController();
  const ctx = {
    id,
    params,
    progress,
    attempt: 1,
    signal: controller.signal,
    saved: progress,
    async checkpoint(p: Record<string, unknown>) {
      ctx.saved = JSON.parse(JSON.stringify(p)) as Record<string, unknown>;
    },
  };
  return { ctx, controller };
}

/** `inner` with some methods replaced (the rest delegate): for fault injection. */
export function wrapBucket(inner: ArchiveBucket, over: Partial<Omit<ArchiveBucket, 'bucket'>>): ArchiveBucket {
  return {
    bucket: inner.bucket,
    put: over.put ?? ((k, b, o) => inner.put(k, b, o)),
    get: over.get ?? ((k, r) => inner.get(k, r)),
    stream: over.stream ?? ((k) => inner.stream(k)),
    head: over.head ?? ((k) => inner.head(k)),
    list: over.list ?? ((p, c) => inner.list(p, c)),
    delete: over.delete ?? ((k) => inner.delete(k)),
    check: over.check ?? (() => inner.check()),
    protection: over.protection ?? (() => inner.protection()),
  };
}

/**
 * A test aggregator archiving to a fresh bucket of the run's S3 server: what the archive
 * route tests share (the API path, unlike {@link startArchiveFixture}'s direct wiring).
 */
export async function startArchivingAggregator(
  t: { teardown(fn: () => unknown): void },
  name: string,
  archive: { scheduleTickMs?: number; contentMaxScanBytes?: number } = {},
  more: Omit<NonNullable<Parameters<typeof startTestAggregator>[1]>, 'name' | 'archive'> = {},
) {
  const s3 = await s3Endpoint(t);
  const bucketName = `t-${randomBytes(5).toString('hex')}`;
  await ensureBucket(s3, bucketName);
  const agg = await startTestAggregator(t, {
    ...more,
    name,
    archive: {
      s3Endpoint: s3.endpoint,
      s3Region: s3.region,
      s3AccessKeyId: s3.accessKeyId,
      s3SecretAccessKey: s3.secretAccessKey,
      s3ForcePathStyle: true,
      ...archive,
    },
  });
  return { s3, bucketName, agg };
}

/** Calls of the product API (`/v1/k8s/logs…`) with a token, answering status, text and parsed body. */
export function apiCaller(baseUrl: string, defaultToken: string) {
  const call = async (method: string, path: string, body?: unknown, tok = defaultToken) => {
    const res = await fetch(`${baseUrl}/v1/k8s/logs${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tok}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, body: (text ? JSON.parse(text) : null) as any };
  };
  /** The archive or restore job once it has ended (any end: the caller checks which). */
  const finished = (id: string) =>
    waitFor(
      async () => {
        const j = (await call('GET', `/archive/jobs?id=${id}`)).body.jobs?.[0];
        return j && ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
      },
      { what: `job ${id} to finish`, timeoutMs: 120_000, intervalMs: 200 },
    );
  return { call, finished };
}
