/**
 * Shared plumbing of the aggregator benchmarks: OpenSearch (OPENSEARCH_URL or an embedded
 * node started here and always stopped), an in-process aggregator on its own index prefix,
 * flags, percentiles and a JSON result line.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../aggregator/app.ts';
import { configWith } from '../../aggregator/config.ts';
import { startOpenSearch } from '../../dev/opensearch/opensearch-process.ts';
import type { LogIndexSettings } from '../../aggregator/store/log-indices.ts';

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

export interface BenchOpenSearch {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export async function benchOpenSearch(heapMb: number): Promise<BenchOpenSearch> {
  const fromEnv = process.env['OPENSEARCH_URL'];
  if (fromEnv) return { url: fromEnv, embedded: false, stop: async () => {} };
  const dir = await mkdtemp(path.join(tmpdir(), 'k8s-logs-bench-os-'));
  log(`starting embedded OpenSearch (heap ${heapMb} MiB) in ${dir}`);
  const os = await startOpenSearch({ dataDir: dir, heapMb });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await os.stop();
    await rm(dir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stop().then(() => process.exit(130)));
  return { url: os.url, embedded: true, stop };
}

export interface BenchAggregator {
  app: FastifyInstance;
  url: string;
  prefix: string;
  adminToken: string;
  token(body: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export function freshPrefix(name: string): string {
  return `bench-${name}-${randomBytes(3).toString('hex')}`;
}

/** `index`: log index settings instead of the config defaults (e.g. LEGACY_INDEX_SETTINGS as a baseline). */
export async function benchAggregator(opensearchUrl: string, prefix: string, index?: Partial<LogIndexSettings>): Promise<BenchAggregator> {
  const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`;
  const config = configWith({ opensearchUrl, indexPrefix: prefix, adminToken, logLevel: 'silent', rateLimit: { standardPerMinute: 0, heavyPerMinute: 0 } });
  const app = await buildApp(index ? { ...config, opensearch: { ...config.opensearch, ...index } } : config);
  await app.prepareStore();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return {
    app,
    url,
    prefix,
    adminToken,
    async token(body) {
      const res = await fetch(`${url}/v1/k8s/logs/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { token: string }).token;
    },
    close: () => app.close(),
  };
}

export async function dropPrefix(opensearchUrl: string, prefix: string): Promise<void> {
  await fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' });
  await fetch(`${opensearchUrl}/_index_template/${prefix}-logs`, { method: 'DELETE' });
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The one machine-readable result line (stdout); everything else goes to stderr. */
export function emitResult(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Runs `senders` workers that pull the next job index until `jobs` run out. */
export async function runConcurrently(jobs: number, senders: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (next < jobs) await work(next++);
    }),
  );
}
