/**
 * The chart's own ServiceAccounts and RBAC (the agent's; the aggregator's collector), rendered
 * by the real helm and created in the test cluster, with a token for that ServiceAccount:
 * tests that talk to the API as the agent or as a registered cluster's connection get
 * exactly the permissions a Helm install grants, so a rule missing from the chart's RBAC
 * templates fails them.
 *
 * Each call renders with a unique fullnameOverride (cluster-scoped ClusterRoles of parallel
 * tests do not collide) and deletes what it created in teardown.
 */
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ensureHelm } from '../../chart/tests/helm-binary.ts';
import type { KubeApiAccess } from '../../dev/kube/control-plane.ts';
import { KubeApiError, type KubeApiClient } from '../../dev/kube/kube-api-client.ts';
import { serviceAccountToken, uniqueKubeName } from './kube.ts';

const CHART = path.join(import.meta.dirname, '..', '..', 'chart');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** Collection path of the kinds the chart's RBAC templates create. */
function collectionPath(m: Manifest, namespace: string): string {
  switch (m.kind) {
    case 'ServiceAccount':
      return `/api/v1/namespaces/${m.metadata.namespace ?? namespace}/serviceaccounts`;
    case 'ClusterRole':
    case 'ClusterRoleBinding':
      return `/apis/rbac.authorization.k8s.io/v1/${m.kind.toLowerCase()}s`;
    case 'Role':
    case 'RoleBinding':
      return `/apis/rbac.authorization.k8s.io/v1/namespaces/${m.metadata.namespace ?? namespace}/${m.kind.toLowerCase()}s`;
    default:
      throw new Error(`chart-rbac: no path for kind ${m.kind}`);
  }
}

/** `helm template` of some templates (`--show-only`), parsed. */
export async function renderChart(args: {
  release: string;
  namespace: string;
  showOnly: string[];
  set?: string[];
}): Promise<Manifest[]> {
  const helm = await ensureHelm();
  const flags = [
    'template',
    args.release,
    CHART,
    '--namespace',
    args.namespace,
    ...args.showOnly.flatMap((s) => ['--show-only', s]),
    ...(args.set ?? []).flatMap((s) => ['--set', s]),
  ];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      helm,
      flags,
      { env: { ...process.env, KUBECONFIG: path.join(tmpdir(), 'k8s-logs-no-kubeconfig') }, maxBuffer: 16 << 20 },
      (err, out, stderr) => (err ? reject(new Error(`helm template: ${stderr}`)) : resolve(out)),
    );
  });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/**
 * Creates what the chart renders from `showOnly` (a ServiceAccount and its RBAC) into
 * `namespace`, and returns access with that ServiceAccount's token.
 */
export async function chartServiceAccount(
  t: { teardown(fn: () => unknown): void },
  admin: KubeApiClient,
  namespace: string,
  chart: { showOnly: string[]; set?: string[] },
): Promise<{ access: KubeApiAccess; serviceAccount: { namespace: string; name: string } }> {
  const objects = await renderChart({
    release: 'logs',
    namespace,
    showOnly: chart.showOnly,
    set: [`fullnameOverride=${uniqueKubeName('logs')}`, ...(chart.set ?? [])],
  });
  const created: string[] = [];
  t.teardown(async () => {
    for (const p of created.reverse()) await admin.delete(p).catch(() => {});
  });
  for (const m of objects) {
    const collection = collectionPath(m, namespace);
    try {
      await admin.create(collection, m);
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    }
    created.push(`${collection}/${m.metadata.name}`);
  }
  const sa = objects.find((m) => m.kind === 'ServiceAccount');
  if (!sa) throw new Error(`chart rendered no ServiceAccount from ${chart.showOnly.join(', ')}`);
  const token = await serviceAccountToken(admin, namespace, sa.metadata.name);
  const { cert: _c, key: _k, ...server } = admin.access;
  return { access: { ...server, token }, serviceAccount: { namespace, name: sa.metadata.name } };
}

/** The agent's ServiceAccount, ClusterRole and ClusterRoleBinding as the chart renders them. */
export function agentServiceAccount(
  t: { teardown(fn: () => unknown): void },
  admin: KubeApiClient,
  namespace: string,
): Promise<{ access: KubeApiAccess; serviceAccount: { namespace: string; name: string } }> {
  return chartServiceAccount(t, admin, namespace, {
    showOnly: ['templates/agent/serviceaccount.yaml', 'templates/agent/rbac.yaml'],
  });
}

/**
 * The aggregator's collector ServiceAccount and RBAC (chart/templates/aggregator/collector-rbac.yaml,
 * switched on): the credentials a cluster is registered with for its live view and collect jobs.
 */
export function collectorServiceAccount(
  t: { teardown(fn: () => unknown): void },
  admin: KubeApiClient,
  namespace: string,
): Promise<{ access: KubeApiAccess; serviceAccount: { namespace: string; name: string } }> {
  return chartServiceAccount(t, admin, namespace, {
    showOnly: ['templates/aggregator/collector-rbac.yaml'],
    set: ['aggregator.collector.rbac.create=true'],
  });
}
