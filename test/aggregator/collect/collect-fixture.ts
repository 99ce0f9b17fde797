/**
 * The stack of the collect tests: the real kube-apiserver with the fake kubelet
 * (test/helpers/kube.ts), an aggregator on the shared OpenSearch with that cluster
 * registered through the API (`POST /clusters/configs`) with a token of the chart's own
 * `apiReader` ServiceAccount (so a permission collection needs and the chart lacks fails
 * these tests), and helpers to read back what a job
 * stored. `restart()` closes the aggregator (its job runner hands its leases back) and
 * builds a new one on the same indices. With `private`, the cluster is an API server of the
 * test's own that it may stop and start.
 */
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from '../../../aggregator/app.ts';
import { loadConfig } from '../../../aggregator/config.ts';
import { openSearchUrl, uniquePrefix } from '../../helpers/services.ts';
import { testKube, type TestKube } from '../../helpers/kube.ts';
import { apiReaderServiceAccount } from '../../helpers/chart-rbac.ts';
import { waitForValue } from '../../helpers/wait-for.ts';

interface T {
  teardown(fn: () => unknown): void;
  comment?: (msg: string) => void;
}

export interface CollectStack {
  kube: TestKube;
  cluster: string;
  adminToken: string;
  api(): string;
  call(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: Record<string, any>; headers: Headers }>;
  restart(): Promise<void>;
  app(): FastifyInstance;
  /** Messages stored for `namespace` (refreshing first), with their ids. */
  stored(
    namespace: string,
  ): Promise<
    Array<{
      id: string;
      message: string;
      pod: string;
      container: string;
      level: string;
      labels: Record<string, string>;
    }>
  >;
  token(body: Record<string, unknown>): Promise<string>;
  job(id: string): Promise<Record<string, any>>;
  /** The job once it has ended (succeeded, failed or cancelled: the caller checks which). */
  finished(id: string, timeoutMs?: number): Promise<Record<string, any>>;
}

/** `private`: an API server of the test's own (same etcd), which it may stop and start (`kube.apiServer`). */
export async function collectStack(
  t: T,
  env: Record<string, string> = {},
  opts: { private?: boolean } = {},
): Promise<CollectStack | undefined> {
  const kube = await testKube(t, { kubelet: true, ...(opts.private ? { private: true } : {}) });
  if (!kube) return undefined;
  const opensearch = await openSearchUrl(t);
  const prefix = uniquePrefix('collect');
  const adminToken = `collect-admin-${prefix}`;
  const config = {
    ...loadConfig([], {
      OPENSEARCH_URL: opensearch,
      K8S_LOGS_INDEX_PREFIX: prefix,
      K8S_LOGS_ADMIN_TOKEN: adminToken,
      K8S_LOGS_RATE_LIMIT_STANDARD: '0',
      K8S_LOGS_RATE_LIMIT_HEAVY: '0',
      K8S_LOGS_CREDENTIALS_KEY: 'c'.repeat(64),
      K8S_LOGS_KUBE_TIMEOUT_MS: '5000',
      K8S_LOGS_COLLECT_RECONNECT_MIN_MS: '20',
      K8S_LOGS_COLLECT_RECONNECT_MAX_MS: '500',
      K8S_LOGS_COLLECT_CHECKPOINT_INTERVAL_MS: '200',
      K8S_LOGS_COLLECT_CONFIG_REFRESH_MS: '200',
      ...env,
    }),
    port: 0,
    host: '127.0.0.1',
  };
  let app: FastifyInstance;
  let url = '';
  const start = async () => {
    app = await buildApp(config, { logger: pino({ level: 'warn' }) });
    await app.prepareStore();
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/k8s/logs`;
    app.startJobs();
  };
  await start();
  t.teardown(async () => {
    await app.close();
    await fetch(`${opensearch}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
  });
  const call: CollectStack['call'] = async (method, path, body, token = adminToken) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
  const cluster = `k-${prefix.slice(-8)}`;
  const reader = await apiReaderServiceAccount(t, kube.driver.api, await kube.namespace('api-reader'));
  const reg = await call('POST', '/clusters/configs', {
    id: cluster,
    name: 'collect test cluster',
    api: {
      server: kube.access.url,
      ca_data: Buffer.from(kube.access.caPem).toString('base64'),
      token: reader.access.token,
    },
  });
  if (reg.status !== 201) throw new Error(`registering the cluster: ${reg.status} ${JSON.stringify(reg.body)}`);
  const job = async (id: string): Promise<Record<string, any>> => {
    const res = await call('GET', `/collect/jobs?id=${encodeURIComponent(id)}`);
    if (res.status !== 200) throw new Error(`job ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body['jobs'][0];
  };
  return {
    kube,
    cluster,
    adminToken,
    api: () => url,
    call,
    app: () => app,
    async restart() {
      await app.close();
      await start();
    },
    async stored(namespace) {
      await fetch(`${opensearch}/${prefix}-*/_refresh?allow_no_indices=true`, { method: 'POST' });
      const res = await fetch(`${opensearch}/${prefix}-*/_search?allow_no_indices=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          size: 10000,
          query: { term: { namespace } },
          sort: [{ timestamp: 'asc' }, { id: 'asc' }],
        }),
      });
      const body = (await res.json()) as { hits?: { hits: Array<{ _source: any }> } };
      return (body.hits?.hits ?? []).map((h) => h._source);
    },
    async token(body) {
      const res = await call('POST', '/tokens', body);
      if (res.status !== 201) throw new Error(`token: ${res.status}`);
      return res.body['token'];
    },
    job,
    finished(id, timeoutMs = 30_000) {
      return waitForValue(
        () => job(id),
        (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status),
        { what: `job ${id} finished`, timeoutMs, intervalMs: 100 },
      );
    },
  };
}
