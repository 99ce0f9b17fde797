/**
 * The archive's S3 side: one bucket behind the small interface the archive code uses
 * (`ArchiveBucket`), and its adapter on the AWS SDK v3. Every SDK failure becomes an
 * `S3Failure` with a stable kind, so callers decide (400 for a policy naming an unknown
 * bucket, retry-later for an unreachable endpoint) without reading SDK internals; the
 * message never carries credentials.
 *
 * Concurrency: the adapter is stateless apart from the SDK client, safe to share.
 */
import {
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type StorageClass,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';

export interface S3Connection {
  /** Endpoint URL; undefined = AWS's regional endpoint. */
  endpoint: string | undefined;
  region: string;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  /** Path-style addressing (`endpoint/bucket/key`), as local S3 servers need. */
  forcePathStyle: boolean;
  /** Per-request timeout, ms. */
  requestTimeoutMs: number;
}

export type S3FailureKind = 'unreachable' | 'no_such_bucket' | 'access_denied' | 'not_found' | 'failed';

export class S3Failure extends Error {
  override readonly name = 'S3Failure';
  readonly kind: S3FailureKind;
  constructor(kind: S3FailureKind, message: string, cause?: unknown) {
    super(message, { cause });
    this.kind = kind;
  }
}

export interface PutOptions {
  contentType: string;
  contentEncoding?: string;
  storageClass?: string;
  serverSideEncryption?: string;
  kmsKeyId?: string;
  metadata?: Record<string, string>;
}

export interface ListedObject {
  key: string;
  size: number;
  storageClass: string;
}

export interface ArchiveBucket {
  readonly bucket: string;
  put(key: string, body: Buffer, opts: PutOptions): Promise<void>;
  /** Whole object, or `range` as an HTTP range (`bytes=0-99`). Throws `not_found` when missing. */
  get(key: string, range?: string): Promise<Buffer>;
  /**
   * The object's bytes as a stream (one part of it in memory at a time). Throws `not_found`
   * when missing; a failure after the first byte is an error event on the stream.
   */
  stream(key: string): Promise<Readable>;
  /** undefined when missing. */
  head(
    key: string,
  ): Promise<
    { size: number; storageClass: string; metadata: Record<string, string>; serverSideEncryption?: string } | undefined
  >;
  list(prefix: string, continuationToken?: string): Promise<{ objects: ListedObject[]; next: string | undefined }>;
  delete(keys: readonly string[]): Promise<void>;
  /** Resolves when the bucket exists and is readable; throws S3Failure otherwise. */
  check(): Promise<void>;
  /** Versioning and object lock where the server says; undefined where it does not. */
  protection(): Promise<{ versioning: string | undefined; objectLock: boolean | undefined }>;
}

export function createS3Client(conn: S3Connection): S3Client {
  return new S3Client({
    ...(conn.endpoint ? { endpoint: conn.endpoint } : {}),
    region: conn.region,
    forcePathStyle: conn.forcePathStyle,
    ...(conn.accessKeyId && conn.secretAccessKey
      ? { credentials: { accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey } }
      : {}),
    requestHandler: { requestTimeout: conn.requestTimeoutMs, connectionTimeout: Math.min(conn.requestTimeoutMs, 5000) },
    // A dead endpoint should fail the call soon; the job retries on its own schedule.
    maxAttempts: 2,
  });
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
]);

/** Maps an SDK error to an S3Failure; `what` names the operation (and key) for the message. */
export function s3Failure(err: unknown, what: string): S3Failure {
  if (err instanceof S3Failure) return err;
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? e.cause?.code ?? '';
  if (
    NETWORK_CODES.has(code) ||
    e.name === 'TimeoutError' ||
    e.name === 'RequestTimeout' ||
    (status === undefined && /ECONN|socket|timeout/i.test(String((err as Error)?.message)))
  ) {
    return new S3Failure('unreachable', `${what}: S3 is unreachable (${code || e.name || 'network error'})`, err);
  }
  if (e.name === 'NoSuchBucket' || (what.startsWith('check') && status === 404))
    return new S3Failure('no_such_bucket', `${what}: the bucket does not exist`, err);
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404)
    return new S3Failure('not_found', `${what}: no such object`, err);
  if (e.name === 'AccessDenied' || e.name === 'Forbidden' || status === 403)
    return new S3Failure('access_denied', `${what}: access denied`, err);
  if (status !== undefined && status >= 500) return new S3Failure('unreachable', `${what}: S3 answered ${status}`, err);
  return new S3Failure('failed', `${what}: ${e.name ?? 'error'}${status ? ` (${status})` : ''}`, err);
}

export class SdkArchiveBucket implements ArchiveBucket {
  readonly bucket: string;
  readonly #s3: S3Client;

  constructor(client: S3Client, bucket: string) {
    this.#s3 = client;
    this.bucket = bucket;
  }

  async put(key: string, body: Buffer, opts: PutOptions): Promise<void> {
    try {
      await this.#s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentType: opts.contentType,
          ...(opts.contentEncoding ? { ContentEncoding: opts.contentEncoding } : {}),
          ...(opts.storageClass && opts.storageClass !== 'STANDARD'
            ? { StorageClass: opts.storageClass as StorageClass }
            : {}),
          ...(opts.serverSideEncryption
            ? { ServerSideEncryption: opts.serverSideEncryption as ServerSideEncryption }
            : {}),
          ...(opts.kmsKeyId ? { SSEKMSKeyId: opts.kmsKeyId } : {}),
          ...(opts.metadata ? { Metadata: opts.metadata } : {}),
        }),
      );
    } catch (err) {
      throw s3Failure(err, `put ${key}`);
    }
  }

  async get(key: string, range?: string): Promise<Buffer> {
    try {
      const res = await this.#s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: range } : {}) }),
      );
      if (!res.Body) throw new S3Failure('failed', `get ${key}: no body`);
      return Buffer.from(await res.Body.transformToByteArray());
    } catch (err) {
      throw s3Failure(err, `get ${key}`);
    }
  }

  async stream(key: string): Promise<Readable> {
    try {
      const res = await this.#s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!res.Body) throw new S3Failure('failed', `get ${key}: no body`);
      // In Node the SDK's body is an http.IncomingMessage (a Readable).
      return res.Body instanceof Readable ? res.Body : Readable.fromWeb(res.Body.transformToWebStream() as never);
    } catch (err) {
      throw s3Failure(err, `get ${key}`);
    }
  }

  async head(key: string) {
    try {
      const res = await this.#s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        size: res.ContentLength ?? 0,
        storageClass: res.StorageClass ?? 'STANDARD',
        metadata: res.Metadata ?? {},
        ...(res.ServerSideEncryption ? { serverSideEncryption: res.ServerSideEncryption } : {}),
      };
    } catch (err) {
      const f = s3Failure(err, `head ${key}`);
      if (f.kind === 'not_found') return undefined;
      throw f;
    }
  }

  async list(prefix: string, continuationToken?: string) {
    try {
      const res = await this.#s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(continuationToken ? { ContinuationToken: continuationToken } : {}),
        }),
      );
      return {
        objects: (res.Contents ?? []).map((o) => ({
          key: o.Key ?? '',
          size: o.Size ?? 0,
          storageClass: o.StorageClass ?? 'STANDARD',
        })),
        next: res.IsTruncated ? res.NextContinuationToken : undefined,
      };
    } catch (err) {
      throw s3Failure(err, `list ${prefix}`);
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        const res = await this.#s3.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        if (res.Errors && res.Errors.length > 0)
          throw new S3Failure(
            'failed',
            `delete: ${res.Errors.length} objects not deleted (${res.Errors[0]?.Code ?? 'error'})`,
          );
      } catch (err) {
        throw s3Failure(err, 'delete');
      }
    }
  }

  async check(): Promise<void> {
    try {
      await this.#s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw s3Failure(err, `check bucket "${this.bucket}"`);
    }
  }

  async protection() {
    let versioning: string | undefined;
    let objectLock: boolean | undefined;
    try {
      const v = await this.#s3.send(new GetBucketVersioningCommand({ Bucket: this.bucket }));
      versioning = v.Status ?? 'Disabled';
    } catch {
      versioning = undefined;
    }
    try {
      const l = await this.#s3.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket }));
      objectLock = l.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
    } catch (err) {
      objectLock = s3Failure(err, 'object lock').kind === 'not_found' ? false : undefined;
    }
    return { versioning, objectLock };
  }
}
