/**
 * Starts a real aggregator (buildApp + a real listener on port 0) on the shared test
 * OpenSearch with its own index prefix, and hands out tokens made through the API.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../aggregator/app.ts';
import { configWith, type AggregatorConfig } from '../../aggregator/config.ts';
import { openSearchUrl, uniquePrefix } from './services.ts';
import { StoreProxy } from './store-proxy.ts';

/**
 * Fixtures carry fixed dates (days or months back), so test aggregators accept records up
 * to ten years old unless a test asks for the real window (`ingest.maxRecordAgeMs`).
 */
export const FIXTURE_MAX_AGE_MS = 3650 * 86_400_000;

export interface TestAggregator {
  app: FastifyInstance;
  url: string;
  prefix: string;
  opensearchUrl: string;
  adminToken: string;
  createToken(body: Record<string, unknown>): Promise<string>;
  ingestToken(cluster: string): Promise<string>;
  /** The proxy between the aggregator and OpenSearch, when asked for (`storeProxy: true`). */
  storeProxy: StoreProxy | undefined;
  /** Refresh the test's indices so just-written records are searchable. */
  refresh(): Promise<void>;
}

export async function startTestAggregator(
  t: { teardown(fn: () => unknown): void },
  opts: {
    name?: string;
    rateLimit?: { standardPerMinute?: number; heavyPerMinute?: number };
    ingest?: Partial<AggregatorConfig['ingest']>;
    query?: Partial<AggregatorConfig['query']>;
    /** The S3 endpoint of archive policies. */
    archive?: Partial<AggregatorConfig['archive']>;
    deps?: AppDeps;
    /** Put a recording, pausable proxy (test/helpers/store-proxy.ts) between the aggregator and OpenSearch. */
    storeProxy?: boolean;
  } = {},
): Promise<TestAggregator> {
  const opensearchUrl = await openSearchUrl(t);
  const prefix = uniquePrefix(opts.name ?? 'agg');
  const adminToken = `admin-${randomBytes(16).toString('hex')}`;
  // Where the aggregator reaches OpenSearch: the shared node, or a recording proxy in front of it.
  const storeProxy = opts.storeProxy ? await StoreProxy.start(opensearchUrl) : undefined;
  const app = await buildApp(
    configWith({ opensearchUrl: storeProxy?.url ?? opensearchUrl, adminToken, indexPrefix: prefix, rateLimit: { standardPerMinute: 0, heavyPerMinute: 0, ...opts.rateLimit }, ingest: { maxRecordAgeMs: FIXTURE_MAX_AGE_MS, ...opts.ingest }, ...(opts.query ? { query: opts.query } : {}), ...(opts.archive ? { archive: opts.archive } : {}) }),
    opts.deps,
  );
  t.teardown(async () => {
    await app.close();
    await storeProxy?.close();
    // Drop the test's indices; the OpenSearch node is shared by the whole run.
    await fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
  });
  await app.prepareStore();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const url = `http://127.0.0.1:${address.port}`;
  const createToken = async (body: Record<string, unknown>) => {
    const res = await fetch(`${url}/v1/k8s/logs/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`token create failed: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { token: string }).token;
  };
  return {
    app,
    url,
    prefix,
    opensearchUrl,
    adminToken,
    storeProxy,
    createToken,
    ingestToken: (cluster) => createToken({ name: `agent ${cluster}`, scopes: ['ingest'], clusters: [cluster] }),
    refresh: async () => {
      await fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*/_refresh?expand_wildcards=all`, { method: "POST" });
    },
  };
}
