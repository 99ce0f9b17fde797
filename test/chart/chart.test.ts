// The Helm chart, rendered by the real helm (built once from the Go module proxy and cached,
// chart/tests/helm-binary.ts): lint, the objects a default install creates, the wiring that
// would break a cluster if it were wrong (mounts, probes, selectors, secrets, env names the
// programs actually read), the schema and render-time guards, NOTES and the generated README.

import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { documentedValues, renderChartReadme } from '../../chart/tests/generate-readme.ts';
import { ensureHelm, helmBinaryPath } from '../../chart/tests/helm-binary.ts';
import { isExecutableFile } from '../../dev/go-tool.ts';
import { loadConfig } from '../../aggregator/config.ts';
import { buildApp } from '../../aggregator/app.ts';
import { openSearchUrl, uniquePrefix } from '../helpers/services.ts';
import { ndjson, record } from '../helpers/records.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CHART = join(ROOT, 'chart');
const NAMESPACE = 'logging';
const RELEASE = 'logs';

// The first run builds helm (minutes); tell tap before its default per-file timeout bites.
if (!(await isExecutableFile(helmBinaryPath()))) t.setTimeout(15 * 60_000);
const HELM = await ensureHelm((m) => t.comment(m));

interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

function helm(args: string[]): Promise<HelmResult> {
  return new Promise((resolve) => {
    // No cluster: an unreachable kubeconfig makes sure nothing is looked up for real.
    const env = {
      ...process.env,
      KUBECONFIG: join(tmpdir(), 'k8s-logs-no-kubeconfig'),
      HELM_CACHE_HOME: join(tmpdir(), 'k8s-logs-helm-cache'),
    };
    execFile(HELM, args, { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  rules?: any[];
  roleRef?: any;
  subjects?: any[];
}

/** `helm template` with `--set`-style flags; resolves to the parsed objects, rejects on failure. */
async function render(flags: string[] = [], chartDir = CHART): Promise<K8sObject[]> {
  const r = await helm(['template', RELEASE, chartDir, '--namespace', NAMESPACE, ...flags]);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}):\n${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length > 0) throw d.errors[0];
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as K8sObject;
}

function container(workload: K8sObject): any {
  return workload.spec.template.spec.containers[0];
}

function env(c: any, name: string): any {
  return (c.env as any[]).find((e) => e.name === name);
}

function volume(workload: K8sObject, name: string): any {
  return (workload.spec.template.spec.volumes as any[]).find((v) => v.name === name);
}

function mount(c: any, name: string): any {
  return (c.volumeMounts as any[]).find((m) => m.name === name);
}

/**
 * The env a container gets from the rendered objects: plain values, and secretKeyRefs resolved
 * from the Secrets of the same render (a ref to a Secret the chart does not create is left out).
 */
function resolvedEnv(objects: K8sObject[], c: any): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const e of c.env as any[]) {
    if (typeof e.value === 'string') vars[e.name] = e.value;
    const ref = e.valueFrom?.secretKeyRef;
    const secret = ref && objects.find((o) => o.kind === 'Secret' && o.metadata.name === ref.name);
    const data = secret?.data?.[ref?.key];
    if (data !== undefined) vars[e.name] = Buffer.from(data, 'base64').toString();
  }
  return vars;
}

function deploymentEnv(objects: K8sObject[]): Record<string, string> {
  return resolvedEnv(objects, container(one(objects, 'Deployment')));
}

/** True when every label of `selector` is on `labels`. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

t.test('helm lint passes on the defaults and, strictly, on every chart/ci values file', async (t) => {
  const plain = await helm(['lint', CHART]);
  t.equal(plain.code, 0, `helm lint chart/\n${plain.stdout}${plain.stderr}`);
  const ciFiles = (await readdir(join(CHART, 'ci'))).filter((f) => f.endsWith('.yaml'));
  t.ok(ciFiles.length >= 3, 'chart/ci has values files');
  for (const file of ciFiles) {
    const r = await helm(['lint', '--strict', CHART, '-f', join(CHART, 'ci', file)]);
    t.equal(r.code, 0, `helm lint --strict -f ci/${file}\n${r.stdout}${r.stderr}`);
  }
});

t.test(
  'a default install creates the agent DaemonSet, its RBAC, the aggregator Deployment, Service and admin token',
  async (t) => {
    const objects = await render();
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    t.same(kinds, [
      'ClusterRole/logs-k8s-logs-agent',
      'ClusterRoleBinding/logs-k8s-logs-agent',
      'DaemonSet/logs-k8s-logs-agent',
      'Deployment/logs-k8s-logs-aggregator',
      'PodDisruptionBudget/logs-k8s-logs-aggregator',
      'Secret/logs-k8s-logs-admin-token',
      'Secret/logs-k8s-logs-agent-token',
      'Service/logs-k8s-logs-aggregator',
      'ServiceAccount/logs-k8s-logs-agent',
    ]);
    for (const o of objects.filter((o) => !o.kind.startsWith('Cluster')))
      t.equal(o.metadata.namespace, NAMESPACE, `${o.kind} namespace`);
  },
);

t.test('agent: reads the node logs read-only, keeps checkpoints on the host, knows its node', async (t) => {
  const ds = one(await render(), 'DaemonSet');
  const pod = ds.spec.template.spec;
  const c = container(ds);
  t.same(c.command, ['node', '--max-semi-space-size=2', '/app/dist/agent/main.js']);
  // The same runtime settings as the agent's interpreter line (agent/main.ts, measured there).
  const shebang = (await readFile(new URL('../../agent/main.ts', import.meta.url), 'utf8')).split('\n')[0]!;
  for (const kv of /^#!\/usr\/bin\/env -S ((?:\w+=\S* )*)node /.exec(shebang)![1]!.trim().split(' ')) {
    const [name, value] = kv.split('=');
    t.ok(
      c.env.some((e: { name: string; value?: string }) => e.name === name && e.value === value),
      `agent env ${kv}`,
    );
  }
  t.ok(selects(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels), 'selector matches the pod labels');

  t.match(volume(ds, 'varlog'), { hostPath: { path: '/var/log', type: 'Directory' } });
  t.match(
    mount(c, 'varlog'),
    { mountPath: '/var/log', readOnly: true },
    '/var/log (containers symlinks and pods) read-only',
  );
  t.match(volume(ds, 'dockercontainers'), { hostPath: { path: '/var/lib/docker/containers' } });
  t.match(mount(c, 'dockercontainers'), { mountPath: '/var/lib/docker/containers', readOnly: true });
  t.match(volume(ds, 'data'), { hostPath: { path: '/var/lib/k8s-logs-agent', type: 'DirectoryOrCreate' } });
  const dataMount = mount(c, 'data');
  t.notOk(dataMount.readOnly, 'checkpoint dir is writable');
  t.equal(
    env(c, 'K8S_LOGS_AGENT_DATA_DIR').value,
    dataMount.mountPath,
    'the agent writes checkpoints into the host dir',
  );
  t.ok(
    String(env(c, 'K8S_LOGS_AGENT_LOG_PATH').value).startsWith('/var/log/'),
    'log path is inside the /var/log mount',
  );

  t.same(env(c, 'NODE_NAME').valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  t.equal(env(c, 'K8S_LOGS_AGENT_CLUSTER').value, 'default');
  t.equal(env(c, 'K8S_LOGS_AGENT_AGGREGATOR_URL').value, `http://logs-k8s-logs-aggregator.${NAMESPACE}.svc:8080`);
  t.same(env(c, 'K8S_LOGS_AGENT_TOKEN').valueFrom, {
    secretKeyRef: { name: 'logs-k8s-logs-agent-token', key: 'token' },
  });

  const shutdownGraceMs = Number(env(c, 'K8S_LOGS_AGENT_SHUTDOWN_GRACE_MS').value);
  t.ok(
    pod.terminationGracePeriodSeconds * 1000 > shutdownGraceMs,
    `kubelet waits (${pod.terminationGracePeriodSeconds} s) longer than the agent drains (${shutdownGraceMs} ms)`,
  );
  t.ok(
    (pod.tolerations as any[]).some(
      (tol) => tol.key === 'node-role.kubernetes.io/control-plane' && tol.operator === 'Exists',
    ),
    'runs on control-plane nodes too',
  );
  t.match(c.ports, [{ name: 'metrics', containerPort: 2020 }]);
  t.equal(env(c, 'K8S_LOGS_AGENT_METRICS_PORT').value, '2020');
  t.match(ds.spec.template.metadata.annotations, {
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': '2020',
    'prometheus.io/path': '/metrics',
  });
  t.match(c.livenessProbe, { httpGet: { path: '/healthz', port: 'metrics' } });
  t.equal(c.resources.limits.memory, '256Mi');
  t.match(c.securityContext, {
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  });
  t.equal(pod.serviceAccountName, 'logs-k8s-logs-agent');
});

t.test('agent RBAC: the ServiceAccount may watch pods and namespaces, nothing more', async (t) => {
  const objects = await render();
  const role = one(objects, 'ClusterRole');
  t.same(role.rules, [{ apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['get', 'list', 'watch'] }]);
  const binding = one(objects, 'ClusterRoleBinding');
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
  const sa = one(objects, 'ServiceAccount');
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: NAMESPACE }]);
});

t.test(
  'apiReader: a ServiceAccount that may read pods, namespaces and pods/log, nothing more; off by default',
  async (t) => {
    t.notOk(
      (await render()).some((o) => o.metadata.name.endsWith('-api-reader')),
      'not in a default install',
    );
    const objects = (
      await render(['--set', 'apiReader.create=true', '--set', 'apiReader.annotations.team=logs'])
    ).filter((o) => o.metadata.name === 'logs-k8s-logs-api-reader');
    t.same(objects.map((o) => o.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'ServiceAccount']);
    t.same(one(objects, 'ClusterRole').rules, [
      { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    ]);
    const sa = one(objects, 'ServiceAccount');
    t.equal(sa.metadata.namespace, NAMESPACE);
    t.same(sa.metadata.annotations, { team: 'logs' });
    t.equal((sa as { automountServiceAccountToken?: boolean }).automountServiceAccountToken, false);
    const binding = one(objects, 'ClusterRoleBinding');
    t.same(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'logs-k8s-logs-api-reader',
    });
    t.same(binding.subjects, [{ kind: 'ServiceAccount', name: 'logs-k8s-logs-api-reader', namespace: NAMESPACE }]);
  },
);

t.test('aggregator: probes, Service, PDB and pods agree; OpenSearch and the admin token reach the env', async (t) => {
  const objects = await render([
    '--set',
    'opensearch.url=https://search.example:9200',
    '--set',
    'aggregator.replicas=3',
  ]);
  const dep = one(objects, 'Deployment');
  const c = container(dep);
  const podLabels = dep.spec.template.metadata.labels;
  t.equal(dep.spec.replicas, 3);
  t.same(c.command, ['node', '/app/dist/aggregator/server.js']);
  t.match(c.ports, [{ name: 'http', containerPort: 8080 }]);
  t.equal(env(c, 'K8S_LOGS_PORT').value, '8080', 'listens where the port says');
  t.match(c.readinessProbe, { httpGet: { path: '/readyz', port: 'http' } });
  t.match(c.livenessProbe, { httpGet: { path: '/healthz', port: 'http' } });
  t.equal(env(c, 'OPENSEARCH_URL').value, 'https://search.example:9200');
  t.notOk(env(c, 'OPENSEARCH_USERNAME'), 'no basic auth unless configured');

  const svc = one(objects, 'Service');
  t.ok(selects(svc.spec.selector, podLabels), 'Service selects the aggregator pods');
  t.notOk(selects(svc.spec.selector, one(objects, 'DaemonSet').spec.template.metadata.labels), 'but not the agents');
  t.match(svc.spec.ports, [{ port: 8080, targetPort: 'http' }]);
  const pdb = one(objects, 'PodDisruptionBudget');
  t.ok(selects(pdb.spec.selector.matchLabels, podLabels), 'PDB selects the aggregator pods');
  t.equal(pdb.spec.maxUnavailable, 1);

  const adminRef = env(c, 'K8S_LOGS_ADMIN_TOKEN').valueFrom.secretKeyRef;
  const secret = one(objects, 'Secret', adminRef.name);
  const token = Buffer.from(secret.data?.[adminRef.key] ?? '', 'base64').toString();
  t.ok(token.length >= 16, 'generated admin token is long enough for the aggregator (>= 16 chars)');

  const pod = dep.spec.template.spec;
  t.match(pod.securityContext, { runAsNonRoot: true, runAsUser: 1000 });
  t.match(c.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  t.match(mount(c, 'tmp'), { mountPath: '/tmp' }, 'a writable /tmp on the read-only root');
  t.equal(pod.automountServiceAccountToken, false);
  t.match(c.resources, { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } });
  t.match(dep.spec.template.metadata.annotations, {
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': '8080',
    'prometheus.io/path': '/metrics',
  });
});

t.test('every environment variable the chart sets is one the programs read', async (t) => {
  const objects = await render(['-f', join(CHART, 'ci', 'full-values.yaml'), '--set', 'opensearch.tls.caSecret=ca']);
  const agentHelp = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [join(ROOT, 'agent', 'main.ts'), '--help'], (err, out) =>
      err ? reject(err) : resolve(out),
    ),
  );
  const aggregatorConfig = await readFile(join(ROOT, 'aggregator', 'config.ts'), 'utf8');
  const extra = new Set(['K8S_LOGS_RETENTION_INTERVAL_MS']); // set through extraEnv in full-values.yaml
  for (const name of (container(one(objects, 'DaemonSet')).env as any[]).map((e) => e.name as string)) {
    if (name === 'NODE_NAME' || name.startsWith('MALLOC_')) continue; // MALLOC_*: read by glibc (agent/main.ts)
    t.ok(agentHelp.includes(`[${name}]`), `agent reads ${name}`);
  }
  for (const name of (container(one(objects, 'Deployment')).env as any[]).map((e) => e.name as string)) {
    if (name === 'NODE_EXTRA_CA_CERTS' || extra.has(name)) continue;
    t.ok(aggregatorConfig.includes(`'${name}'`), `aggregator reads ${name}`);
  }
});

t.test('ingest and query bounds: the chart defaults are the aggregator defaults, values reach the env', async (t) => {
  const configFrom = (objects: K8sObject[]) => loadConfig([], deploymentEnv(objects));
  const defaults = loadConfig([], {});
  const rendered = configFrom(await render());
  t.same(rendered.ingest, defaults.ingest, 'ingest bounds as the aggregator defaults them');
  t.same(rendered.query, defaults.query, 'query bounds as the aggregator defaults them');
  t.notOk(
    env(container(one(await render(), 'Deployment')), 'K8S_LOGS_INGEST_MAX_RECORD_AGE_MS'),
    'record age left to the aggregator (7 days or the retention, whichever is shorter)',
  );
  const short = configFrom(await render(['--set', 'aggregator.retentionDays=3']));
  t.equal(short.ingest.maxRecordAgeMs, 3 * 86_400_000, 'a short retention shortens the accepted age');

  const set = configFrom(
    await render([
      '--set',
      'aggregator.ingest.maxRecordAgeMs=86400000',
      '--set',
      'aggregator.ingest.maxRecordAheadMs=30000',
      '--set',
      'aggregator.ingest.maxInFlightBytes=268435456',
      '--set',
      'aggregator.ingest.maxBulkBytes=20971520',
      '--set',
      'aggregator.query.maxBodyBytes=65536',
      '--set',
      'aggregator.query.timeoutStandardMs=5000',
      '--set',
      'aggregator.query.timeoutHeavyMs=60000',
      '--set',
      'aggregator.query.maxWindowStandardHours=48',
      '--set',
      'aggregator.query.maxWindowHeavyHours=24',
      '--set',
      'aggregator.query.maxOpenPits=2',
    ]),
  );
  t.match(set.ingest, {
    maxRecordAgeMs: 86_400_000,
    maxRecordAheadMs: 30_000,
    maxInFlightBytes: 268_435_456,
    maxBulkBytes: 20_971_520,
  });
  t.same(set.query, {
    maxJsonBodyBytes: 65_536,
    standardTimeoutMs: 5000,
    heavyTimeoutMs: 60_000,
    maxWindowStandardHours: 48,
    maxWindowHeavyHours: 24,
    maxOpenPits: 2,
  });

  // What the aggregator would refuse at start fails the install instead of crash-looping.
  const tooOld = await helm([
    'template',
    RELEASE,
    CHART,
    '--set',
    'aggregator.retentionDays=3',
    '--set',
    'aggregator.ingest.maxRecordAgeMs=604800000',
  ]);
  t.not(tooOld.code, 0);
  t.match(tooOld.stderr, /aggregator\.ingest\.maxRecordAgeMs \(604800000\) exceeds aggregator\.retentionDays \(3 days/);
  const tooFew = await helm(['template', RELEASE, CHART, '--set', 'aggregator.ingest.maxInFlightBytes=1048576']);
  t.not(tooFew.code, 0);
  t.match(
    tooFew.stderr,
    /aggregator\.ingest\.maxInFlightBytes \(1048576\) is below aggregator\.ingest\.maxInflatedBytes/,
  );
  for (const bad of [
    'aggregator.query.maxOpenPits=0',
    'aggregator.query.timeoutHeavyMs=50',
    'aggregator.ingest.maxBulkBytes=1',
  ]) {
    const r = await helm(['template', RELEASE, CHART, '--set', bad]);
    t.not(r.code, 0, `${bad}: fails`);
    t.match(r.stderr, /values don't meet the specifications of the schema/i, `${bad}: a schema error`);
  }
});

t.test('existingSecret switches where the tokens and the OpenSearch credentials come from', async (t) => {
  const objects = await render(['-f', join(CHART, 'ci', 'existing-secrets-values.yaml')]);
  t.notOk(
    objects.some((o) => o.kind === 'Secret'),
    'the chart creates no Secret when all are given',
  );
  const agg = container(one(objects, 'Deployment'));
  t.same(env(agg, 'K8S_LOGS_ADMIN_TOKEN').valueFrom, { secretKeyRef: { name: 'k8s-logs-admin', key: 'admin-token' } });
  t.same(env(agg, 'OPENSEARCH_USERNAME').valueFrom, { secretKeyRef: { name: 'opensearch-credentials', key: 'user' } });
  t.same(env(agg, 'OPENSEARCH_PASSWORD').valueFrom, { secretKeyRef: { name: 'opensearch-credentials', key: 'pass' } });
  const caPath = env(agg, 'NODE_EXTRA_CA_CERTS').value as string;
  const caMount = mount(agg, 'opensearch-ca');
  t.equal(caPath, `${caMount.mountPath}/ca.crt`, 'Node trusts the mounted CA bundle');
  t.match(volume(one(objects, 'Deployment'), 'opensearch-ca'), {
    secret: { secretName: 'opensearch-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
  });
  const agent = container(one(objects, 'DaemonSet'));
  t.same(env(agent, 'K8S_LOGS_AGENT_TOKEN').valueFrom, {
    secretKeyRef: { name: 'k8s-logs-ingest', key: 'ingest-token' },
  });
  t.equal(env(agent, 'K8S_LOGS_AGENT_AGGREGATOR_URL').value, 'https://logs.example.com');
  t.match(
    container(one(objects, 'Deployment')).image,
    /^registry\.example\.com\/platform\/k8s-logs@sha256:/,
    'digest pins the image',
  );

  const inline = await render([
    '--set',
    'agent.ingestToken.value=s3cr3t-ingest-0123456789',
    '--set',
    'opensearch.auth.username=u',
    '--set',
    'opensearch.auth.password=p',
  ]);
  const ingestSecret = one(inline, 'Secret', 'logs-k8s-logs-agent-token');
  t.equal(Buffer.from(ingestSecret.data?.token ?? '', 'base64').toString(), 's3cr3t-ingest-0123456789');
  const osSecret = one(inline, 'Secret', 'logs-k8s-logs-opensearch');
  t.equal(Buffer.from(osSecret.data?.password ?? '', 'base64').toString(), 'p');
  t.same(env(container(one(inline, 'Deployment')), 'OPENSEARCH_PASSWORD').valueFrom, {
    secretKeyRef: { name: 'logs-k8s-logs-opensearch', key: 'password' },
  });
});

t.test(
  'a default install wires its agents: the aggregator registers the token the agents send, for this cluster only',
  async (t) => {
    const objects = await render(['--set', 'cluster=edge']);
    const secret = one(objects, 'Secret', 'logs-k8s-logs-agent-token');
    const generated = Buffer.from(secret.data?.token ?? '', 'base64').toString();
    t.match(
      generated,
      /^[A-Za-z0-9]{43}$/,
      'a random token, generated (kept on upgrades by lookup: chart-install.test.ts)',
    );
    t.not(
      generated,
      Buffer.from(one(await render(), 'Secret', 'logs-k8s-logs-agent-token').data?.token ?? '', 'base64').toString(),
    );
    const agentEnv = resolvedEnv(objects, container(one(objects, 'DaemonSet')));
    const aggEnv = deploymentEnv(objects);
    t.equal(aggEnv['K8S_LOGS_BOOTSTRAP_INGEST_TOKEN'], agentEnv['K8S_LOGS_AGENT_TOKEN'], 'one Secret feeds both');
    t.equal(aggEnv['K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER'], agentEnv['K8S_LOGS_AGENT_CLUSTER']);
    t.equal(aggEnv['K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER'], 'edge');

    // The rendered env on a real aggregator (the store and listener are the test's): the agents'
    // token ships at once, as the agents' cluster.
    const opensearchUrl = await openSearchUrl(t);
    const prefix = uniquePrefix('chart-wiring');
    const app = await buildApp({
      ...loadConfig([], {
        ...aggEnv,
        OPENSEARCH_URL: opensearchUrl,
        K8S_LOGS_INDEX_PREFIX: prefix,
        K8S_LOGS_LOG_LEVEL: 'silent',
      }),
      port: 0,
      host: '127.0.0.1',
    });
    t.teardown(async () => {
      await app.close();
      await fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(
        () => {},
      );
    });
    await app.prepareStore();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/ingest',
      headers: { authorization: `Bearer ${agentEnv['K8S_LOGS_AGENT_TOKEN']}`, 'content-type': 'application/x-ndjson' },
      payload: ndjson([record({ cluster: 'edge' }), record({ cluster: 'default' })]),
    });
    t.equal(res.statusCode, 200, res.body);
    t.match(
      res.json(),
      { accepted: 1, rejected: [{ line: 2, reason: 'cluster_mismatch' }] },
      "as this cluster's agents only",
    );

    // Agents sending elsewhere: that aggregator must issue the token; this one registers none.
    const remote = await render(['--set', 'agent.aggregatorUrl=https://logs.example.com']);
    t.notOk(
      remote.some((o) => o.metadata.name === 'logs-k8s-logs-agent-token'),
      'no generated token a remote aggregator cannot know',
    );
    t.notOk(env(container(one(remote, 'Deployment')), 'K8S_LOGS_BOOTSTRAP_INGEST_TOKEN'));
    const given = await render(['-f', join(CHART, 'ci', 'existing-secrets-values.yaml')]);
    t.notOk(
      env(container(one(given, 'Deployment')), 'K8S_LOGS_BOOTSTRAP_INGEST_TOKEN'),
      'an existing Secret is a token made through the API',
    );
  },
);

t.test('the schema rejects bad values before anything renders', async (t) => {
  const cases: Array<[string, string[], RegExp]> = [
    ['replicas as a word', ['--set', 'aggregator.replicas=many'], /aggregator.*replicas|replicas.*integer/is],
    ['an empty OpenSearch URL', ['--set', 'opensearch.url='], /opensearch.*url/is],
    ['an OpenSearch URL without scheme', ['--set', 'opensearch.url=opensearch:9200'], /opensearch.*url/is],
    ['a cluster id that cannot be an index name', ['--set', 'cluster=Prod_1'], /cluster/i],
    ['a misspelt key', ['--set', 'aggregator.replica=2'], /replica/i],
    ['an unknown agent format', ['--set', 'agent.format=syslog'], /format/i],
    ['an ingest token the aggregator would refuse', ['--set', 'agent.ingestToken.value=short'], /ingestToken/i],
  ];
  for (const [name, flags, message] of cases) {
    const r = await helm(['template', RELEASE, CHART, ...flags]);
    t.not(r.code, 0, `${name}: fails`);
    t.match(r.stderr, /values don't meet the specifications of the schema/i, `${name}: a schema error`);
    t.match(r.stderr, message, `${name}: names the value`);
  }
});

t.test('the agent memory limit must hold its queue', async (t) => {
  const tooSmall = await helm(['template', RELEASE, CHART, '--set', 'agent.maxQueueBytes=268435456']);
  t.not(tooSmall.code, 0);
  t.match(tooSmall.stderr, /agent\.resources\.limits\.memory \(256Mi\) is below 2 × agent\.maxQueueBytes \+ 96Mi/);
  const raised = await render(['--set', 'agent.maxQueueBytes=268435456', '--set', 'agent.resources.limits.memory=1Gi']);
  t.equal(env(container(one(raised, 'DaemonSet')), 'K8S_LOGS_AGENT_MAX_QUEUE_BYTES').value, '268435456');
  const gib = await render(['--set', 'agent.resources.limits.memory=0.5Gi']);
  t.equal(container(one(gib, 'DaemonSet')).resources.limits.memory, '0.5Gi', 'fractional quantities are understood');
});

t.test(
  'options: ServiceMonitor only with the CRD, priority class, no docker mount, derived grace period',
  async (t) => {
    const full = ['-f', join(CHART, 'ci', 'full-values.yaml')];
    const withoutCrd = await render(full);
    t.notOk(
      withoutCrd.some((o) => o.kind === 'ServiceMonitor'),
      'no ServiceMonitor without the monitoring.coreos.com API',
    );
    const objects = await render([...full, '--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor']);
    const sm = one(objects, 'ServiceMonitor');
    const svc = one(objects, 'Service');
    t.ok(selects(sm.spec.selector.matchLabels, svc.metadata.labels ?? {}), 'ServiceMonitor selects the Service');
    t.match(sm.spec.endpoints, [{ port: 'http', path: '/metrics' }]);
    t.equal(sm.metadata.labels?.release, 'prometheus');

    const ds = one(objects, 'DaemonSet');
    const pod = ds.spec.template.spec;
    t.equal(ds.metadata.name, 'logs-agent', 'fullnameOverride');
    t.equal(pod.priorityClassName, 'system-node-critical');
    t.equal(pod.terminationGracePeriodSeconds, 55, '45 s drain + 10 s');
    t.equal(pod.serviceAccountName, 'logs-agent');
    t.equal(pod.automountServiceAccountToken, false, 'no API token when metadata is off');
    t.notOk(volume(ds, 'dockercontainers'), 'docker dir not mounted when disabled');
    t.match(volume(ds, 'data'), { hostPath: { path: '/var/lib/k8s-logs-agent-prod' } });
    t.equal(env(container(ds), 'K8S_LOGS_AGENT_INCLUDE_ANNOTATIONS').value, 'team,cost-center');
    const rbac = objects.filter((o) => o.kind.startsWith('ClusterRole') || o.kind === 'ServiceAccount');
    t.same(
      rbac.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
      ['ClusterRole/logs-api-reader', 'ClusterRoleBinding/logs-api-reader', 'ServiceAccount/logs-api-reader'],
      "the agent's RBAC and ServiceAccount off; only the apiReader's",
    );
    t.equal(one(objects, 'Deployment').spec.template.spec.priorityClassName, 'high');

    const noAgent = await render(['--set', 'agent.enabled=false']);
    t.same(
      noAgent.map((o) => o.kind).sort(),
      ['Deployment', 'PodDisruptionBudget', 'Secret', 'Service'],
      'aggregator only',
    );
  },
);

t.test('NOTES show how to get the admin token, create the ingest token and make a first request', async (t) => {
  // helm template skips NOTES.txt; render it as a ConfigMap from a copy of the chart.
  const dir = await mkdtemp(join(tmpdir(), 'k8s-logs-chart-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const copy = join(dir, 'k8s-logs');
  await cp(CHART, copy, { recursive: true });
  const notes = await readFile(join(copy, 'templates', 'NOTES.txt'), 'utf8');
  await rename(join(copy, 'templates', 'NOTES.txt'), join(copy, 'templates', '_notes.tpl'));
  await writeFile(join(copy, 'templates', '_notes.tpl'), `{{- define "test.notes" -}}\n${notes}\n{{- end }}\n`);
  await writeFile(
    join(copy, 'templates', 'notes-configmap.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "test.notes" . | quote }}\n',
  );
  const text = async (flags: string[]) => one(await render(flags, copy), 'ConfigMap', 'notes').data?.notes ?? '';

  const defaults = await text([]);
  t.match(defaults, `kubectl get secret -n ${NAMESPACE} logs-k8s-logs-admin-token`);
  t.match(defaults, `kubectl port-forward -n ${NAMESPACE} svc/logs-k8s-logs-aggregator 8080:8080`);
  t.match(defaults, 'which the aggregator registers at start', 'no manual ingest token step');
  t.notMatch(defaults, 'kubectl create secret generic');
  const remote = await text(['--set', 'agent.aggregatorUrl=https://logs.example.com']);
  t.match(remote, 'kubectl create secret generic -n logging logs-k8s-logs-agent-token');
  t.match(remote, 'curl -s -X POST https://logs.example.com/v1/k8s/logs/tokens');
  t.match(remote, '"scopes":["ingest"],"clusters":["default"]');
  t.match(defaults, /curl -s -H "Authorization: Bearer \$TOKEN"/);
  t.notMatch(defaults, /WARNING/);

  const given = await text([
    '-f',
    join(CHART, 'ci', 'existing-secrets-values.yaml'),
    '--set',
    'aggregator.serviceMonitor.enabled=true',
  ]);
  t.match(given, 'kubectl get secret -n logging k8s-logs-admin');
  t.match(given, "jsonpath='{.data.admin-token}'");
  t.notMatch(given, 'kubectl create secret generic', 'no ingest token step when the Secret is given');
  t.match(given, /WARNING: aggregator\.serviceMonitor\.enabled is true/);
});

t.test('chart/README.md is generated from values.yaml and up to date', async (t) => {
  const values = await readFile(join(CHART, 'values.yaml'), 'utf8');
  const docs = documentedValues(values);
  t.ok(docs.length > 50, `${docs.length} documented values`);
  t.ok(
    docs.every((d) => d.description.length > 10),
    'every description says something',
  );
  t.throws(() => documentedValues('agent:\n  # Documented.\n  a: 1\n  b: 2\n'), /agent\.b has no comment/);
  const committed = await readFile(join(CHART, 'README.md'), 'utf8');
  t.equal(committed, await renderChartReadme(), 'chart/README.md is stale: run `node chart/tests/generate-readme.ts`');
});

t.test(
  'live tail fan-out: a headless Service of the aggregator pods, a generated shared secret, both in the env',
  async (t) => {
    t.notOk(
      (await render()).some((o) => o.metadata.name.endsWith('-peers')),
      'off by default',
    );
    const objects = await render(['--set', 'aggregator.ingest.liveTailFanout=true']);
    const dep = one(objects, 'Deployment');
    const c = container(dep);
    const peers = one(objects, 'Service', 'logs-k8s-logs-aggregator-peers');
    t.equal(peers.spec.clusterIP, 'None', 'headless: one A record per ready pod');
    t.ok(selects(peers.spec.selector, dep.spec.template.metadata.labels), 'selects the aggregator pods');
    t.equal(env(c, 'K8S_LOGS_LIVE_TAIL_PEER_SERVICE').value, `logs-k8s-logs-aggregator-peers.${NAMESPACE}.svc:8080`);
    const ref = env(c, 'K8S_LOGS_LIVE_TAIL_PEER_TOKEN').valueFrom.secretKeyRef;
    const secret = one(objects, 'Secret', ref.name);
    t.ok(Buffer.from(secret.data?.[ref.key] ?? '', 'base64').toString().length >= 32, 'a long random secret');
  },
);
