/**
 * The chart's own ServiceAccounts and RBAC, rendered by the real helm and created in the
 * test cluster, with a token for the ServiceAccount: tests that talk to the API as the agent
 * (chart/templates/agent/rbac.yaml) or as an aggregator reading a registered cluster
 * (chart/templates/aggregator/api-reader.yaml) get exactly the permissions a Helm install
 * grants, so a rule missing from the chart fails them.
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

/** A ServiceAccount of the chart, created in the test cluster, and access with its token. */
export interface ChartServiceAccount {
  access: KubeApiAccess & { token: string };
  serviceAccount: { namespace: string; name: string };
}

/**
 * Creates the ServiceAccount, ClusterRole and ClusterRoleBinding that the chart's
 * `templates` render into `namespace` (with `set`), and returns access with that
 * ServiceAccount's token (TokenRequest).
 */
async function chartServiceAccount(
  t: { teardown(fn: () => unknown): void },
  admin: KubeApiClient,
  namespace: string,
  templates: string[],
  set: string[] = [],
): Promise<ChartServiceAccount> {
  const objects = await renderChart({
    release: 'logs',
    namespace,
    showOnly: templates,
    set: [`fullnameOverride=${uniqueKubeName('logs')}`, ...set],
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
  if (!sa) throw new Error(`chart rendered no ServiceAccount from ${templates.join(', ')}`);
  const token = await serviceAccountToken(admin, namespace, sa.metadata.name);
  const { cert: _c, key: _k, ...server } = admin.access;
  return { access: { ...server, token }, serviceAccount: { namespace, name: sa.metadata.name } };
}

/** The agent's ServiceAccount, ClusterRole and binding as a Helm install creates them. */
export function agentServiceAccount(
  t: { teardown(fn: () => unknown): void },
  admin: KubeApiClient,
  namespace: string,
): Promise<ChartServiceAccount> {
  return chartServiceAccount(t, admin, namespace, ['templates/agent/serviceaccount.yaml', 'templates/agent/rbac.yaml']);
}

/**
 * The ServiceAccount an aggregator reads a registered cluster with (`apiReader.create`,
 * chart/templates/aggregator/api-reader.yaml): its token is what an operator registers with
 * `POST /clusters/configs`, so a rule the live view or collection jobs need and the chart
 * lacks fails the tests that use it.
 */
export function apiReaderServiceAccount(
  t: { teardown(fn: () => unknown): void },
  admin: KubeApiClient,
  namespace: string,
): Promise<ChartServiceAccount> {
  return chartServiceAccount(t, admin, namespace, ['templates/aggregator/api-reader.yaml'], ['apiReader.create=true']);
}
