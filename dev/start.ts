/**
 * `npm start`: the whole system on this machine with embedded defaults.
 *
 *   embedded OpenSearch (Java, Maven Central jars)   .data/opensearch
 *   S3-compatible server (versitygw)                 .data/s3
 *   fake Kubernetes API with a demo cluster          (in memory, seeded identities)
 *   log generator writing CRI files for its pods     .data/node/containers
 *   aggregator                                       http://127.0.0.1:8080 (PORT to change)
 *   agent tailing the generated files                .data/agent (checkpoints)
 *   web UI (built from ui/src when stale)            served by the aggregator under /ui/
 *
 * Prints the API URL, the admin token and a curl to paste. Ctrl-C stops everything; the
 * data stays in .data/ and the next start reuses it (same tokens, same offsets).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildApp } from '../aggregator/app.ts';
import { loadConfig as loadAggregatorConfig } from '../aggregator/config.ts';
import { startAgent } from '../agent/agent.ts';
import { loadConfig as loadAgentConfig } from '../agent/config.ts';
import { agentEnv, aggregatorEnv } from './stack-env.ts';
import { startOpenSearch, killStaleOpenSearch } from './opensearch/opensearch-process.ts';
import { ensureS3ServerInstalled, startS3Server, killStaleS3Server, ensureBucket } from './s3/s3-server.ts';
import { startFakeKubeApi } from './fake-cluster/fake-kube-api.ts';
import { populateDemoCluster } from './fake-cluster/demo-cluster.ts';
import { startLogGenerator } from './log-generator/log-generator.ts';
import { buildUi, uiIsStale } from '../ui/build.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const DATA = path.join(ROOT, '.data');
const CLUSTER = 'dev';
const NODE = 'dev-node-1';
const PORT = Number(process.env['PORT'] ?? 8080);
const say = (msg: string) => process.stderr.write(`[k8s-logs] ${msg}\n`);

const stops: Array<() => Promise<unknown>> = [];
let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping…');
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => say(`stop failed: ${(err as Error).message}`));
    say('stopped; data kept in .data/');
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

/** A secret kept in .data/ so every start uses the same one. */
async function persistentSecret(file: string, make: () => string): Promise<string> {
  const p = path.join(DATA, file);
  if (existsSync(p)) return (await readFile(p, 'utf8')).trim();
  const value = make();
  await writeFile(p, value + '\n', { mode: 0o600 });
  return value;
}

try {
  await mkdir(DATA, { recursive: true });
  say('starting OpenSearch and the S3 server (the first start builds OpenSearch from Maven Central: a few minutes)…');
  await Promise.all([killStaleOpenSearch(path.join(DATA, 'opensearch')), killStaleS3Server(path.join(DATA, 's3'))]);
  const [opensearch, s3] = await Promise.all([
    startOpenSearch({ dataDir: path.join(DATA, 'opensearch'), heapMb: 1024, log: (m) => say(`opensearch: ${m}`) }),
    (async () => {
      await ensureS3ServerInstalled((m) => say(`s3: ${m}`));
      return startS3Server({ dataDir: path.join(DATA, 's3') });
    })(),
  ]);
  stops.push(() => opensearch.stop(), () => s3.stop());
  await ensureBucket(s3, 'k8s-logs-archive');
  say(`OpenSearch ${opensearch.url}, S3 ${s3.endpoint}`);

  const kubeToken = await persistentSecret('kube-token', () => `demo-sa-${randomBytes(24).toString('base64url')}`);
  const kube = await startFakeKubeApi({ token: kubeToken });
  stops.push(() => kube.close());
  const pods = populateDemoCluster(kube, { nodeName: NODE });
  const kubeconfigPath = path.join(DATA, 'kubeconfig');
  await writeFile(kubeconfigPath, kube.kubeConfig().exportConfig());

  const adminToken = await persistentSecret('admin-token', () => `k8sl_admin_${randomBytes(24).toString('base64url')}`);
  const credentialsKey = await persistentSecret('credentials-key', () => randomBytes(32).toString('base64'));
  // Every K8S_LOGS_* / OPENSEARCH_* of this environment reaches the aggregator (stack-env.ts);
  // the stack's own wiring below wins.
  const config = loadAggregatorConfig(['--host', '127.0.0.1', '--port', String(PORT)], aggregatorEnv(process.env, {
    K8S_LOGS_LOG_LEVEL: process.env['K8S_LOGS_LOG_LEVEL'] ?? 'warn',
    OPENSEARCH_URL: opensearch.url,
    K8S_LOGS_ADMIN_TOKEN: adminToken,
    // The demo cluster's API connection is registered below (POST /clusters/configs), its
    // token encrypted with this key, as in a real install.
    K8S_LOGS_CREDENTIALS_KEY: credentialsKey,
    // Archive policies write to the local S3 server.
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
  }));
  // The UI is served from ui/dist: build it first when a source changed since the last build.
  if (await uiIsStale()) {
    const ui = await buildUi();
    say(`web UI built: ${ui.totalBytes} bytes (ui/dist)`);
  }
  const app = await buildApp(config);
  stops.push(() => app.close());
  await app.prepareStore();
  await app.listen({ host: config.host, port: config.port });
  const apiUrl = `http://127.0.0.1:${PORT}`;

  // Register the demo cluster with its (new, per start) API URL: create, or replace the
  // registration of an earlier start.
  const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const registration = { name: 'Demo cluster', labels: { env: 'dev' }, api: { server: kube.url, token: kubeToken, insecure_skip_tls_verify: true } };
  let reg = await fetch(`${apiUrl}/v1/k8s/logs/clusters/configs`, { method: 'POST', headers: admin, body: JSON.stringify({ id: CLUSTER, ...registration }) });
  if (reg.status === 409) {
    reg = await fetch(`${apiUrl}/v1/k8s/logs/clusters/configs?id=${CLUSTER}`, { method: 'PUT', headers: admin, body: JSON.stringify(registration) });
  }
  if (reg.status !== 201 && reg.status !== 200) throw new Error(`could not register the demo cluster: ${reg.status} ${await reg.text()}`);

  // A continuous collection of one demo namespace through the cluster's API (pods/log), as
  // `POST /collect/continuous` runs it; one per data directory (a later start finds it running).
  const collectNamespace = pods[0]?.namespace ?? 'default';
  const running = await fetch(`${apiUrl}/v1/k8s/logs/collect/jobs?type=continuous&cluster=${CLUSTER}`, { headers: admin });
  const runningJobs = running.ok ? ((await running.json()) as { jobs: Array<{ id: string; status: string }> }).jobs : [];
  let collectJob = runningJobs.find((j) => j.status === 'running' || j.status === 'pending')?.id;
  if (!collectJob) {
    const started = await fetch(`${apiUrl}/v1/k8s/logs/collect/continuous`, { method: 'POST', headers: admin, body: JSON.stringify({ cluster: CLUSTER, namespace: collectNamespace }) });
    collectJob = started.status === 202 ? ((await started.json()) as { job_id: string }).job_id : `not started (${started.status}: ${await started.text()})`;
  }

  // The agent's ingest token, kept across starts; recreated if it was revoked.
  const ingestTokenFile = path.join(DATA, 'ingest-token');
  let ingestToken = existsSync(ingestTokenFile) ? (await readFile(ingestTokenFile, 'utf8')).trim() : '';
  const probe = ingestToken ? await fetch(`${apiUrl}/v1/ingest/config`, { headers: { authorization: `Bearer ${ingestToken}` } }) : undefined;
  if (!probe || probe.status !== 200) {
    const res = await fetch(`${apiUrl}/v1/k8s/logs/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `agent ${CLUSTER}/${NODE}`, scopes: ['ingest'], clusters: [CLUSTER] }),
    });
    if (res.status !== 201) throw new Error(`could not create the agent's ingest token: ${res.status} ${await res.text()}`);
    ingestToken = ((await res.json()) as { token: string }).token;
    await writeFile(ingestTokenFile, ingestToken + '\n', { mode: 0o600 });
  }

  const logDir = path.join(DATA, 'node', 'containers');
  const generator = await startLogGenerator({
    dir: logDir,
    pods,
    eventsPerSecond: 20,
    mirror: (pod, container, line, time) => {
      try {
        kube.appendLog(pod.namespace, pod.name, container, line, time);
      } catch {
        // the pod may have been deleted meanwhile
      }
    },
  });
  stops.push(() => generator.stop());

  const agent = await startAgent(
    // Every K8S_LOGS_AGENT_* of this environment reaches the agent (stack-env.ts).
    loadAgentConfig({
      env: agentEnv(process.env, {
        ...(process.env['K8S_LOGS_AGENT_LOG_LEVEL'] ? {} : { logLevel: 'warn' }),
        ...(process.env['K8S_LOGS_AGENT_METRICS_PORT'] ? {} : { metricsPort: 0, metricsHost: '127.0.0.1' }),
        aggregatorUrl: apiUrl,
        token: ingestToken,
        cluster: CLUSTER,
        node: NODE,
        dataDir: path.join(DATA, 'agent'),
        logPath: logDir,
        kubernetes: kubeconfigPath,
      }),
    }),
  );
  stops.push(() => agent.stop(5000));
  const archiveLine = await ensureDemoArchivePolicy(apiUrl, adminToken);

  process.stdout.write(`
k8s-logs is running.

  UI           ${apiUrl}/ui/   (sign in with the admin token)
  API          ${apiUrl}/v1/k8s/logs/
  API docs     ${apiUrl}/docs
  Metrics      ${apiUrl}/metrics   (agent: http://127.0.0.1:${agent.metricsPort}/metrics)
  OpenSearch   ${opensearch.url}
  S3           ${s3.endpoint}   (bucket k8s-logs-archive)
  Admin token  ${adminToken}

Try:
  curl -s -H 'Authorization: Bearer ${adminToken}' '${apiUrl}/v1/k8s/logs/?namespace=shop&limit=5'
  curl -s -H 'Authorization: Bearer ${adminToken}' '${apiUrl}/v1/k8s/logs/clusters/status'
  curl -s -H 'Authorization: Bearer ${adminToken}' '${apiUrl}/v1/k8s/logs/archive/policies'
  curl -s -H 'Authorization: Bearer ${adminToken}' '${apiUrl}/v1/k8s/logs/collect/jobs?type=continuous'

Archive: ${archiveLine}
Cluster "${CLUSTER}": ${await clusterStatusLine(apiUrl, adminToken)}
Continuous collection of namespace ${collectNamespace} through the cluster API: ${collectJob}
Pods: ${pods.map((p) => `${p.namespace}/${p.name}`).join(', ')}
Ctrl-C stops everything; data stays in .data/.
`);
} catch (err) {
  say(`failed to start: ${(err as Error).stack ?? String(err)}`);
  await shutdown(1);
}

/**
 * The demo archive policy (`demo`, bucket k8s-logs-archive): created once the first records
 * are in the store (a policy that would archive nothing is refused), kept across starts.
 * Days are archived once a day old; the store keeps them (no delete after archiving).
 */
async function ensureDemoArchivePolicy(apiUrl: string, adminToken: string): Promise<string> {
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const api = `${apiUrl}/v1/k8s/logs`;
  const listed = await fetch(`${api}/archive/policies?limit=1000`, { headers });
  if (listed.status !== 200) return `policies unavailable (${listed.status})`;
  const existing = ((await listed.json()) as { policies: Array<{ id: string; name: string }> }).policies.find((p) => p.name === 'demo');
  if (existing) return `policy "demo" (${existing.id}), daily, bucket k8s-logs-archive`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`${api}/?cluster=${CLUSTER}&start=now-1h&limit=1`, { headers });
    if (res.status === 200 && ((await res.json()) as { logs: unknown[] }).logs.length > 0) break;
    if (Date.now() > deadline) return 'no records yet after 60 s: demo policy not created (restart to retry)';
    await new Promise((r) => setTimeout(r, 1000));
  }
  const created = await fetch(`${api}/archive/policies`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      name: 'demo',
      selection: { clusters: [CLUSTER] },
      schedule: { age_days: 1, interval_minutes: 60 },
      destination: { bucket: 'k8s-logs-archive', prefix: 'k8s-logs' },
      format: { compression: 'gzip' },
      after: { delete_from_store: false, s3_retention_days: 30 },
    }),
  });
  if (created.status !== 201) return `demo policy not created: ${created.status} ${await created.text()}`;
  return `policy "demo" (${((await created.json()) as { id: string }).id}) created: hourly check, days archived once a day old`;
}

/** One line of the demo cluster's `/clusters/status` (its API connection is probed then). */
async function clusterStatusLine(apiUrl: string, adminToken: string): Promise<string> {
  const res = await fetch(`${apiUrl}/v1/k8s/logs/clusters/status?id=${CLUSTER}`, { headers: { authorization: `Bearer ${adminToken}` } });
  if (res.status !== 200) return `status unavailable (${res.status})`;
  const c = ((await res.json()) as { clusters: Array<{ status: string; reasons: string[]; api: { state: string; kubernetes_version: string | null } | null }> }).clusters[0];
  if (!c) return 'not known yet';
  return `${c.status}, API ${c.api?.state ?? 'none'} (${c.api?.kubernetes_version ?? '?'})${c.reasons.length ? ` — ${c.reasons.join('; ')}` : ''}`;
}
