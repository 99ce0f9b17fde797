/**
 * The real Kubernetes API for tests: a kube-apiserver on etcd (dev/kube/), with a fake
 * kubelet in the test process that serves the container logs of the test's node.
 *
 * `npm test` (test/run.ts) starts one control plane per run and passes it on:
 *   K8S_LOGS_TEST_KUBECONFIG  admin kubeconfig of the shared API server
 *   K8S_LOGS_TEST_KUBE_DIR    its data directory (pki/, etcd-url): lets a test start a
 *                             private API server on the same etcd and a fake kubelet the
 *                             API server trusts
 * With KUBECONFIG set when `npm test` starts, that cluster is used instead and
 * K8S_LOGS_TEST_KUBE_DIR is not set: tests that need the fake kubelet behind `pods/log` or
 * an API server of their own skip. A test file run alone (`npx tap file`) starts its own
 * control plane and stops it in teardown.
 *
 * Isolation on the shared server: every test uses its own node name and namespaces
 * (uniqueKubeName), and removes them in teardown.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import tap from 'tap';
import {
  kubeconfigYaml,
  startControlPlane,
  startKubeApiServer,
  type KubeApiAccess,
  type KubeApiServer,
} from '../../dev/kube/control-plane.ts';
import { startFakeKubelet, type FakeKubelet } from '../../dev/kube/fake-kubelet.ts';
import { ensureKubeBinaries } from '../../dev/kube/kube-binaries.ts';
import { KubeApiClient, KubeApiError } from '../../dev/kube/kube-api-client.ts';
import { KubeDriver } from '../../dev/kube/kube-driver.ts';
import { issueClientCertificate, readPki, type ControlPlanePki } from '../../dev/kube/pki.ts';
import { KUBE_ENV } from './kube-env.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export { KUBE_ENV };

export interface TestKube {
  /** Admin access (system:masters). */
  access: KubeApiAccess;
  /** The etcd behind it, when the control plane is ours. */
  etcdUrl: string | undefined;
  /** The API server when this test owns it (private: true), to stop and start. */
  apiServer: KubeApiServer | undefined;
  /** Admin driver; with the fake kubelet when there is one. */
  driver: KubeDriver;
  /** Undefined on an external cluster (its API server cannot reach a kubelet in this process). */
  kubelet: FakeKubelet | undefined;
  /** This test's node (created, pointing at the fake kubelet). */
  node: string;
  /** Creates a namespace unique to this test (`<base>-<random>`) and its default ServiceAccount; deleted in teardown. */
  namespace(
    base: string,
    opts?: { labels?: Record<string, string>; annotations?: Record<string, string> },
  ): Promise<string>;
  /** Writes a kubeconfig file for `access` (default: admin) and returns its path. */
  kubeconfigFile(access?: KubeApiAccess): Promise<string>;
  /** A KubeConfig object for @kubernetes/client-node users. */
  kubeConfig(access?: KubeApiAccess): KubeConfig;
  /**
   * A client certificate the API server authenticates as `user` in `groups` (signed by the
   * control plane's CA; `signer: 'self'` for one it refuses). Undefined on an external cluster.
   */
  clientCertificate(
    user: string,
    opts?: { groups?: readonly string[]; signer?: 'ca' | 'self' },
  ): Promise<{ certPem: string; keyPem: string } | undefined>;
}

/** A DNS-1123 label unique to this run: `<base>-<8 hex>`. */
export function uniqueKubeName(base: string): string {
  return `${base
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40)}-${randomBytes(4).toString('hex')}`;
}

/**
 * The cluster for one test. `private: true` gives the test an API server of its own (same
 * etcd, own prefix: an empty cluster) that it may stop and restart; `kubelet: true` requires
 * the fake kubelet. On an external cluster neither is possible: the result is `undefined`
 * (with a comment saying so) and the caller skips.
 */
export async function testKube(
  t: Teardown & { comment?: (msg: string) => void },
  opts: { private?: boolean; kubelet?: boolean; nodeName?: string } = {},
): Promise<TestKube | undefined> {
  const shared = await sharedControlPlane();
  if ((opts.private || opts.kubelet) && !shared.pki) {
    t.comment?.('skipped: needs a control plane of its own (KUBECONFIG points at an external cluster)');
    return undefined;
  }
  const scratch = await mkdtemp(path.join(tmpdir(), 'k8s-logs-kube-t-'));
  t.teardown(() => rm(scratch, { recursive: true, force: true }));

  let access = shared.access;
  let apiServer: KubeApiServer | undefined;
  if (opts.private && shared.pki && shared.etcdUrl) {
    apiServer = await startKubeApiServer({
      binaries: await ensureKubeBinaries(),
      pki: shared.pki,
      etcdUrl: shared.etcdUrl,
      name: uniqueKubeName('t'),
      dir: path.join(scratch, 'apiserver'),
    });
    const s = apiServer;
    t.teardown(() => s.stop());
    access = { url: s.url, caPem: s.caPem, token: s.token };
  }
  let kubelet: FakeKubelet | undefined;
  if (shared.pki) {
    kubelet = await startFakeKubelet({
      cert: await readFile(shared.pki.kubeletServingCert, 'utf8'),
      key: await readFile(shared.pki.kubeletServingKey, 'utf8'),
      caPem: shared.pki.caPem,
    });
    const k = kubelet;
    t.teardown(() => k.stop());
  }
  const driver = new KubeDriver(access, kubelet);
  const node = opts.nodeName ?? uniqueKubeName('node');
  await driver.addNode(node);
  const namespaces: string[] = [];
  t.teardown(async () => {
    if (!apiServer) {
      // Shared or external cluster: leave nothing behind. Without a controller manager a
      // namespace stays Terminating, so its pods are deleted first.
      for (const ns of namespaces) {
        await driver.api
          .delete(`/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 })
          .catch(() => {});
        await driver.api.delete(`/api/v1/namespaces/${ns}`).catch(() => {});
      }
      await driver.api.delete(`/api/v1/nodes/${node}`).catch(() => {});
    }
    await driver.close();
  });
  let n = 0;
  const kubeconfigOf = (a: KubeApiAccess) => kubeconfigYaml(a, 'k8s-logs-test');
  return {
    access,
    etcdUrl: shared.etcdUrl,
    apiServer,
    driver,
    kubelet,
    node,
    async namespace(base, nsOpts = {}) {
      const name = uniqueKubeName(base);
      await driver.ensureNamespace(name, nsOpts);
      namespaces.push(name);
      return name;
    },
    async kubeconfigFile(a = access) {
      const file = path.join(scratch, `kubeconfig-${n++}`);
      await writeFile(file, kubeconfigOf(a), { mode: 0o600 });
      return file;
    },
    kubeConfig(a = access) {
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfigOf(a));
      return kc;
    },
    async clientCertificate(user, certOpts = {}) {
      return shared.pki ? issueClientCertificate(shared.pki, scratch, user, certOpts) : undefined;
    },
  };
}

/** A ServiceAccount's bearer token from the TokenRequest API (what a projected token volume holds). */
export async function serviceAccountToken(
  api: KubeApiClient,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
): Promise<string> {
  const res = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds },
    },
  );
  return res.status.token;
}

/** Whether the ServiceAccount may do `verb` on `resource` (SubjectAccessReview, as the authorizer decides). */
export async function serviceAccountCan(
  api: KubeApiClient,
  sa: { namespace: string; name: string },
  attrs: { verb: string; resource: string; group?: string; namespace?: string; subresource?: string },
): Promise<boolean> {
  const res = await api.create<{ status: { allowed: boolean } }>('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: `system:serviceaccount:${sa.namespace}:${sa.name}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`, 'system:authenticated'],
      resourceAttributes: { group: attrs.group ?? '', ...attrs },
    },
  });
  return res.status.allowed;
}

export { KubeApiClient, KubeApiError };

interface SharedControlPlane {
  access: KubeApiAccess;
  /** Present when the control plane is ours (not an external KUBECONFIG). */
  pki?: ControlPlanePki;
  etcdUrl?: string;
}

let alone: Promise<SharedControlPlane> | undefined;

async function sharedControlPlane(): Promise<SharedControlPlane> {
  const kubeconfig = process.env[KUBE_ENV.kubeconfig];
  const dir = process.env[KUBE_ENV.dir];
  if (kubeconfig) {
    const access = accessFromKubeconfig(await readFile(kubeconfig, 'utf8'));
    if (!dir) return { access };
    return {
      access,
      pki: await readPki(path.join(dir, 'pki')),
      etcdUrl: (await readFile(path.join(dir, 'etcd-url'), 'utf8')).trim(),
    };
  }
  // Run alone: one control plane for this test file, stopped when the whole file ends (the
  // root test's teardown, not the calling subtest's: later subtests reuse it).
  alone ??= (async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'k8s-logs-kube-'));
    const cp = await startControlPlane({ dataDir });
    tap.teardown(async () => {
      await cp.stop();
      await rm(dataDir, { recursive: true, force: true });
    });
    return {
      access: { url: cp.apiServer.url, caPem: cp.pki.caPem, token: cp.pki.adminToken },
      pki: cp.pki,
      etcdUrl: cp.etcdUrl,
    };
  })();
  return alone;
}

/** Server, CA and credentials of a kubeconfig's current context (token or client certificate). */
export function accessFromKubeconfig(text: string): KubeApiAccess {
  const kc = new KubeConfig();
  kc.loadFromString(text);
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster) throw new Error('kubeconfig: no current cluster');
  const file = (data?: string, p?: string) =>
    data ? Buffer.from(data, 'base64').toString('utf8') : p ? readFileSync(p, 'utf8') : undefined;
  const caPem = file(cluster.caData, cluster.caFile) ?? '';
  const cert = file(user?.certData, user?.certFile);
  const key = file(user?.keyData, user?.keyFile);
  return {
    url: cluster.server.replace(/\/$/, ''),
    caPem,
    ...(user?.token ? { token: user.token } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
}
