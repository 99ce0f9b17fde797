/**
 * Collect throughput: lines per second one continuous collect job with 50 followed pods
 * stores into OpenSearch (pods/log of the simulated Kubernetes API, dev/fake-cluster),
 * against the agent's ingest path for the same lines in the same run (the same records as
 * gzip NDJSON batches of 1000 to POST /v1/ingest, 4 senders, as an agent's batcher sends
 * them). Both end when every line is acknowledged by OpenSearch (the job's progress counts
 * only stored lines). Prints one JSON line; the ratio is what to compare across machines.
 *
 *   npm run bench -- bench/aggregator/collect.bench.ts [--pods 50] [--lines 1000]
 */
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { buildApp } from '../../aggregator/app.ts';
import { loadConfig } from '../../aggregator/config.ts';
import { startFakeKubeApi } from '../../dev/fake-cluster/fake-kube-api.ts';
import { benchOpenSearch, dropPrefix, emitResult, freshPrefix, log, round, runConcurrently } from './bench-services.ts';

const { values } = parseArgs({
  options: { pods: { type: 'string', default: '50' }, lines: { type: 'string', default: '1000' } },
});
const PODS = Number(values.pods);
const LINES = Number(values.lines);
const TOTAL = PODS * LINES;

const os = await benchOpenSearch(1024);
const prefix = freshPrefix('collect');
const adminToken = 'bench-collect-admin-token';
const kubeToken = 'bench-collect-kube-token';
const kube = await startFakeKubeApi({ token: kubeToken });
const app = await buildApp({
  ...loadConfig([], {
    OPENSEARCH_URL: os.url,
    K8S_LOGS_INDEX_PREFIX: prefix,
    K8S_LOGS_ADMIN_TOKEN: adminToken,
    K8S_LOGS_RATE_LIMIT_STANDARD: '0',
    K8S_LOGS_RATE_LIMIT_HEAVY: '0',
    K8S_LOGS_CREDENTIALS_KEY: 'b'.repeat(64),
    K8S_LOGS_COLLECT_CHECKPOINT_INTERVAL_MS: '200',
    K8S_LOGS_LOG_LEVEL: 'warn',
  }),
  port: 0,
  host: '127.0.0.1',
});
try {
  await app.prepareStore();
  await app.listen({ host: '127.0.0.1', port: 0 });
  app.startJobs();
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/v1/k8s/logs${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const reg = await call('POST', '/clusters/configs', {
    id: 'bench',
    name: 'bench',
    api: { server: kube.url, token: kubeToken, insecure_skip_tls_verify: true },
  });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  kube.addNode('bench-node');
  const pods = Array.from({ length: PODS }, (_, i) =>
    kube.addPod({ namespace: 'bench', name: `pod-${i}`, nodeName: 'bench-node', containers: ['main'] }),
  );
  const lineText = (p: number, i: number) =>
    `{"level":"info","msg":"request served","pod":${p},"seq":${i},"path":"/api/v1/items/${i % 97}","ms":${i % 50}}`;

  // API collection.
  const job = await call('POST', '/collect/continuous', { cluster: 'bench', namespace: 'bench' });
  if (job.status !== 202) throw new Error(`collect: ${job.status} ${JSON.stringify(job.body)}`);
  const id = job.body['job_id'];
  for (let waited = 0; kube.openStreams('log') < PODS; waited += 50) {
    if (waited > 60_000) throw new Error(`only ${kube.openStreams('log')} follow streams after 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  log(`${PODS} follow streams open; writing ${TOTAL} lines`);
  const t0 = performance.now();
  for (let i = 0; i < LINES; i++)
    for (let p = 0; p < PODS; p++) kube.appendLog('bench', pods[p]!.metadata.name, 'main', lineText(p, i));
  for (;;) {
    const res = await call('GET', `/collect/jobs?id=${id}`);
    if ((res.body['jobs'][0].progress?.lines ?? 0) >= TOTAL) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const collectSeconds = (performance.now() - t0) / 1000;
  await call('DELETE', `/collect/jobs?id=${id}`);
  log(`collect: ${TOTAL} lines in ${round(collectSeconds, 2)} s`);

  // The agent's ingest of the same lines.
  const tokenRes = await call('POST', '/tokens', { name: 'bench agent', scopes: ['ingest'], clusters: ['bench'] });
  const ingestToken = tokenRes.body['token'];
  const base = Date.now() * 1_000_000;
  const batches: Buffer[] = [];
  let seq = 0;
  for (let start = 0; start < TOTAL; start += 1000) {
    const lines: string[] = [];
    for (let k = start; k < Math.min(TOTAL, start + 1000); k++) {
      const p = k % PODS;
      const i = Math.floor(k / PODS);
      const ns = BigInt(base + seq++);
      const ts =
        new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19) +
        '.' +
        (ns % 1_000_000_000n).toString().padStart(9, '0') +
        'Z';
      lines.push(
        JSON.stringify({
          id: `agentbench-${k.toString(36)}`,
          timestamp: ts,
          cluster: 'bench',
          namespace: 'bench-agent',
          pod: `pod-${p}`,
          container: 'main',
          node: 'bench-node',
          stream: 'stdout',
          level: 'info',
          message: lineText(p, i),
        }),
      );
    }
    batches.push(gzipSync(Buffer.from(lines.join('\n') + '\n')));
  }
  const t1 = performance.now();
  await runConcurrently(batches.length, 4, async (b) => {
    for (;;) {
      const res = await fetch(`${url}/v1/ingest`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${ingestToken}`,
          'content-type': 'application/x-ndjson',
          'content-encoding': 'gzip',
        },
        body: batches[b]!,
      });
      await res.arrayBuffer();
      if (res.status === 200) return;
      if (res.status !== 429 && res.status !== 503) throw new Error(`ingest: ${res.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  const ingestSeconds = (performance.now() - t1) / 1000;
  log(`agent ingest: ${TOTAL} lines in ${round(ingestSeconds, 2)} s`);
  const collectRate = TOTAL / collectSeconds;
  const ingestRate = TOTAL / ingestSeconds;
  emitResult({
    bench: 'collect',
    pods: PODS,
    lines: TOTAL,
    collect_lines_per_second: Math.round(collectRate),
    agent_ingest_lines_per_second: Math.round(ingestRate),
    ratio_collect_to_ingest: round(collectRate / ingestRate, 2),
  });
} finally {
  await app.close();
  await kube.close();
  await dropPrefix(os.url, prefix);
  await os.stop();
}
