/**
 * Real services for tests. `npm test` (test/run.ts) starts OpenSearch and the S3 server
 * once and passes OPENSEARCH_URL / S3_ENDPOINT to every test file; a test file run alone
 * (`npx tap test/…`) starts its own and stops it in teardown. Either way each test uses
 * its own index prefix / bucket, so files can run in parallel against one server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startOpenSearch } from '../../dev/opensearch/opensearch-process.ts';
import { startS3Server, type S3Endpoint } from '../../dev/s3/s3-server.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function openSearchUrl(t: Teardown): Promise<string> {
  const fromEnv = process.env['OPENSEARCH_URL'];
  if (fromEnv) return fromEnv;
  const dir = await mkdtemp(path.join(tmpdir(), 'k8s-logs-os-'));
  const os = await startOpenSearch({ dataDir: dir, heapMb: 768 });
  t.teardown(async () => {
    await os.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return os.url;
}

export async function s3Endpoint(t: Teardown): Promise<S3Endpoint> {
  const endpoint = process.env['S3_ENDPOINT'];
  if (endpoint) {
    return {
      endpoint,
      region: process.env['S3_REGION'] ?? 'us-east-1',
      accessKeyId: process.env['S3_ACCESS_KEY_ID'] ?? '',
      secretAccessKey: process.env['S3_SECRET_ACCESS_KEY'] ?? '',
    };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'k8s-logs-s3-'));
  const s3 = await startS3Server({ dataDir: dir });
  t.teardown(async () => {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return s3;
}

/** A fresh, lower-case index prefix so tests never see each other's data. */
export function uniquePrefix(name: string): string {
  return `t${randomBytes(4).toString('hex')}-${name}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 30);
}
