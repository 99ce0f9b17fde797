// The chart installed for real: the real helm against the real kube-apiserver of the test
// run (test/helpers/kube.ts). Every object a default install or a chart/ci values file
// renders must be accepted and stored by the API server; upgrades keep generated secrets;
// uninstall leaves nothing; `--dry-run=server` validates without storing; and every value
// the API server refuses is refused by values.schema.json first.
//
// Nothing becomes ready (no kubelet runs the pods), so `--wait` is never used.

import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { ensureHelm, helmBinaryPath } from '../../chart/tests/helm-binary.ts';
import { isExecutableFile } from '../../dev/go-tool.ts';
import { KubeApiError, serviceAccountCan, testKube, uniqueKubeName } from '../helpers/kube.ts';
import { waitFor } from '../helpers/wait-for.ts';

const CHART = join(import.meta.dirname, '..', '..', 'chart');

if (!(await isExecutableFile(helmBinaryPath()))) t.setTimeout(15 * 60_000);
const HELM = await ensureHelm((m) => t.comment(m));
const kube = await testKube(t);
if (!kube) throw new Error('testKube without options never skips');
const { driver } = kube;
const kubeconfig = await kube.kubeconfigFile();
const helmHome = await mkdtemp(join(tmpdir(), 'k8s-logs-helm-'));
t.teardown(() => rm(helmHome, { recursive: true, force: true }));

interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

function helm(args: string[]): Promise<HelmResult> {
  const env = {
    ...process.env,
    KUBECONFIG: kubeconfig,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  return new Promise((resolve) => {
    execFile(HELM, args, { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** API path of one object of the kinds this chart renders. */
function objectPath(m: Manifest, namespace: string): string {
  const ns = m.metadata.namespace ?? namespace;
  const [group, version] = m.apiVersion.includes('/') ? m.apiVersion.split('/') : ['', m.apiVersion];
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  const plural = m.kind === 'NetworkPolicy' ? 'networkpolicies' : `${m.kind.toLowerCase()}s`;
  const clusterScoped = m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding';
  return `${base}${clusterScoped ? '' : `/namespaces/${ns}`}/${plural}/${m.metadata.name}`;
}

async function manifestOf(release: string, namespace: string): Promise<Manifest[]> {
  const r = await helm(['get', 'manifest', release, '--namespace', namespace]);
  if (r.code !== 0) throw new Error(`helm get manifest: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

async function exists(path: string): Promise<boolean> {
  try {
    await driver.api.get(path);
    return true;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return false;
    throw err;
  }
}

/** The ServiceMonitor kind, as a cluster with the Prometheus operator has it (chart/ci/full-values.yaml uses it). */
async function ensureServiceMonitorCrd(): Promise<void> {
  const name = 'servicemonitors.monitoring.coreos.com';
  if (await exists(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`)) return;
  await driver.api
    .create('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      metadata: { name },
      spec: {
        group: 'monitoring.coreos.com',
        scope: 'Namespaced',
        names: {
          plural: 'servicemonitors',
          singular: 'servicemonitor',
          kind: 'ServiceMonitor',
          listKind: 'ServiceMonitorList',
        },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    })
    .catch((err: unknown) => {
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    });
  // A new kind is served once the CRD is Established.
  await waitFor(
    async () => {
      const crd = await driver.api.get<{ status?: { conditions?: { type: string; status: string }[] } }>(
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
      );
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true;
    },
    { what: 'the ServiceMonitor CRD to be Established', timeoutMs: 60_000, intervalMs: 100 },
  );
}

const ciFiles = (await readdir(join(CHART, 'ci'))).filter((f) => f.endsWith('.yaml')).sort();

t.test(
  'helm install: the API server accepts and stores every object of the defaults and of each chart/ci file',
  async (t) => {
    await ensureServiceMonitorCrd();
    const cases: [string, string[]][] = [
      ['defaults', []],
      ...ciFiles.map((f): [string, string[]] => [f, ['-f', join(CHART, 'ci', f)]]),
    ];
    for (const [name, flags] of cases) {
      const ns = await kube.namespace('chart');
      const release = uniqueKubeName('logs');
      const r = await helm(['install', release, CHART, '--namespace', ns, ...flags]);
      t.equal(r.code, 0, `${name}: helm install\n${r.stderr}`);
      if (r.code !== 0) continue;
      const objects = await manifestOf(release, ns);
      t.ok(
        objects.some((o) => o.kind === 'Deployment'),
        `${name}: renders the aggregator Deployment`,
      );
      for (const o of objects) t.ok(await exists(objectPath(o, ns)), `${name}: ${o.kind}/${o.metadata.name} stored`);
      const un = await helm(['uninstall', release, '--namespace', ns]);
      t.equal(un.code, 0, `${name}: uninstall\n${un.stderr}`);
    }
  },
);

t.test(
  'helm upgrade --reuse-values keeps the generated admin and agent tokens; uninstall leaves nothing behind',
  async (t) => {
    const ns = await kube.namespace('chart-upgrade');
    const release = uniqueKubeName('logs');
    const installed = await helm(['install', release, CHART, '--namespace', ns, '--set', 'cluster=edge']);
    t.equal(installed.code, 0, installed.stderr);
    const objects = await manifestOf(release, ns);
    const secretOf = async (suffix: string) => {
      const s = objects.find((o) => o.kind === 'Secret' && o.metadata.name.endsWith(suffix));
      if (!s) throw new Error(`no Secret *${suffix}`);
      return (await driver.api.get<{ data: Record<string, string> }>(objectPath(s, ns))).data['token'];
    };
    const adminBefore = await secretOf('-admin-token');
    t.ok(adminBefore && Buffer.from(adminBefore, 'base64').length >= 32, 'a generated admin token');
    const deployment = objects.find((o) => o.kind === 'Deployment') as Manifest;
    const agentBefore = await secretOf('-agent-token');
    t.ok(agentBefore && Buffer.from(agentBefore, 'base64').length >= 32, "a generated agents' ingest token");

    const upgraded = await helm([
      'upgrade',
      release,
      CHART,
      '--namespace',
      ns,
      '--reuse-values',
      '--set',
      'aggregator.replicas=3',
    ]);
    t.equal(upgraded.code, 0, upgraded.stderr);
    t.equal(await secretOf('-admin-token'), adminBefore, 'the admin token survived the upgrade (lookup found it)');
    t.equal(await secretOf('-agent-token'), agentBefore, "the generated agents' token survived the upgrade");
    const env = (
      await driver.api.get<{
        spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } };
      }>(objectPath(deployment, ns))
    ).spec.template.spec.containers[0]!.env;
    t.equal(env.find((e) => e.name === 'K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER')?.value, 'edge', 'reused values kept');
    const dep = await driver.api.get<{ spec: { replicas: number } }>(objectPath(deployment, ns));
    t.equal(dep.spec.replicas, 3, 'the upgrade was applied');
    const history = await helm(['history', release, '--namespace', ns, '-o', 'json']);
    t.equal((JSON.parse(history.stdout) as unknown[]).length, 2, 'two revisions');

    const un = await helm(['uninstall', release, '--namespace', ns]);
    t.equal(un.code, 0, un.stderr);
    for (const o of objects) t.notOk(await exists(objectPath(o, ns)), `${o.kind}/${o.metadata.name} deleted`);
    const releases = await driver.api.get<{ items: unknown[] }>(
      `/api/v1/namespaces/${ns}/secrets?labelSelector=owner%3Dhelm`,
    );
    t.same(releases.items, [], "helm's release records are gone too");
  },
);

t.test(
  'the installed ServiceAccounts may do what the agent and the aggregator do, and nothing else (the real RBAC authorizer)',
  async (t) => {
    const ns = await kube.namespace('chart-rbac');
    const release = uniqueKubeName('logs');
    const r = await helm(['install', release, CHART, '--namespace', ns, '--set', 'apiReader.create=true']);
    t.equal(r.code, 0, r.stderr);
    t.teardown(() => helm(['uninstall', release, '--namespace', ns]));
    const accounts = (await manifestOf(release, ns)).filter((o) => o.kind === 'ServiceAccount');
    const named = (suffix: string) => {
      const sa = accounts.find((o) => o.metadata.name.endsWith(suffix));
      if (!sa) throw new Error(`no ServiceAccount *${suffix}`);
      return { namespace: ns, name: sa.metadata.name };
    };
    const can = (subject: { namespace: string; name: string }, verb: string, resource: string, subresource?: string) =>
      serviceAccountCan(driver.api, subject, { verb, resource, ...(subresource ? { subresource } : {}) });

    const agent = named('-agent');
    for (const verb of ['get', 'list', 'watch']) {
      t.ok(await can(agent, verb, 'pods'), `agent: ${verb} pods (all namespaces)`);
      t.ok(await can(agent, verb, 'namespaces'), `agent: ${verb} namespaces`);
    }
    for (const [verb, resource, subresource] of [
      ['get', 'secrets', undefined],
      ['list', 'nodes', undefined],
      ['get', 'pods', 'log'],
      ['delete', 'pods', undefined],
      ['patch', 'namespaces', undefined],
    ] as const) {
      t.notOk(
        await can(agent, verb, resource, subresource),
        `agent: not ${verb} ${resource}${subresource ? `/${subresource}` : ''}`,
      );
    }

    // What a registered cluster's live view and collection jobs do with the apiReader token.
    const reader = named('-api-reader');
    for (const verb of ['get', 'list', 'watch']) {
      t.ok(await can(reader, verb, 'pods'), `api-reader: ${verb} pods (all namespaces)`);
      t.ok(await can(reader, verb, 'namespaces'), `api-reader: ${verb} namespaces`);
    }
    t.ok(await can(reader, 'get', 'pods', 'log'), 'api-reader: get pods/log');
    for (const [verb, resource, subresource] of [
      ['get', 'secrets', undefined],
      ['list', 'nodes', undefined],
      ['create', 'pods', 'exec'],
      ['delete', 'pods', undefined],
      ['create', 'serviceaccounts', 'token'],
    ] as const) {
      t.notOk(
        await can(reader, verb, resource, subresource),
        `api-reader: not ${verb} ${resource}${subresource ? `/${subresource}` : ''}`,
      );
    }
  },
);

t.test('--dry-run=server: validated and admitted by the API server, nothing stored', async (t) => {
  const ns = await kube.namespace('chart-dry');
  const release = uniqueKubeName('logs');
  const r = await helm(['install', release, CHART, '--namespace', ns, '--dry-run=server']);
  t.equal(r.code, 0, r.stderr);
  const objects = parseAllDocuments(r.stdout.slice(r.stdout.indexOf('---')))
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null && typeof m === 'object' && 'kind' in m);
  t.ok(objects.length >= 6, 'the manifest was rendered');
  for (const o of objects) t.notOk(await exists(objectPath(o, ns)), `${o.kind}/${o.metadata.name} not stored`);
});

/** Whether the API server refuses any object of the chart rendered with `set` (dryRun=All: validated and admitted, not stored). */
async function serverRefuses(ns: string, set: string): Promise<string | undefined> {
  const r = await helm([
    'template',
    uniqueKubeName('logs'),
    CHART,
    '--namespace',
    ns,
    '--skip-schema-validation',
    '--set',
    set,
  ]);
  if (r.code !== 0) throw new Error(`helm template --set ${set}: ${r.stderr}`);
  const objects = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
  const refusals: string[] = [];
  for (const o of objects) {
    const collection = objectPath(o, ns).replace(/\/[^/]+$/, '');
    try {
      await driver.api.create(`${collection}?dryRun=All`, o);
    } catch (err) {
      if (!(err instanceof KubeApiError)) throw err;
      refusals.push(`${o.kind}/${o.metadata.name}: ${err.message.slice(0, 300)}`);
    }
  }
  return refusals.length > 0 ? refusals.join('\n') : undefined;
}

// Values that pass a type-only schema but that the API server refuses. For each: with the
// schema skipped, the server refuses an object (so the value really is bad); with the
// schema, helm refuses it before anything is sent.
const refused: [string, string][] = [
  ['fullnameOverride=Logs_Upper', 'object names are RFC 1123 (lower case)'],
  ['fullnameOverride=logs.prod', 'the Service name is an RFC 1123 label (no dots)'],
  ['nameOverride=Logs_Upper', 'the name is part of every object name'],
  ['aggregator.priorityClassName=High_Priority', 'priority class names are RFC 1123 subdomains'],
  ['agent.priorityClassName=-high', 'priority class names are RFC 1123 subdomains'],
  ['agent.serviceAccount.name=Agent_SA', 'ServiceAccount names are RFC 1123 subdomains'],
  ['aggregator.resources.requests.cpu=lots', 'resources are quantities'],
  ['aggregator.resources.limits.memory=1Gb', 'resources are quantities'],
  ['aggregator.adminToken.existingSecret=admin..token', 'Secret names are RFC 1123 subdomains'],
  ['aggregator.service.port=70000', 'ports are 1-65535'],
];

t.test('values.schema.json refuses what the API server refuses, before anything is sent', async (t) => {
  const ns = await kube.namespace('chart-schema');
  for (const [set, why] of refused) {
    const server = await serverRefuses(ns, set);
    t.ok(server, `${set}: the API server refuses it (${why})`);
    if (server) t.comment(server.split('\n')[0] ?? '');
    const schema = await helm(['template', 'logs', CHART, '--namespace', ns, '--set', set]);
    t.not(schema.code, 0, `${set}: refused by helm`);
    t.match(
      schema.stderr,
      /values don't meet the specifications of the schema/,
      `${set}: by values.schema.json (${why})`,
    );
  }
  // And the schema is not stricter than the server for the usual spellings.
  for (const set of [
    'fullnameOverride=logs',
    'nameOverride=logs-2',
    'aggregator.priorityClassName=high.priority',
    'agent.serviceAccount.name=agent.sa',
    'aggregator.resources.requests.cpu=250m',
    'agent.resources.limits.memory=1Gi',
  ]) {
    t.equal(await serverRefuses(ns, set), undefined, `${set}: the API server accepts it`);
    const ok = await helm(['template', 'logs', CHART, '--namespace', ns, '--set', set]);
    t.equal(ok.code, 0, `${set}: so does the schema\n${ok.stderr}`);
  }
});
