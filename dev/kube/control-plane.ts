// A real Kubernetes control plane on loopback: one etcd and one or more kube-apiservers
// (dev/kube/kube-binaries.ts builds them), with generated certificates (pki.ts), RBAC
// authorization, an admin bearer token, and kubelet client settings that make the API
// server proxy `pods/log` to a fake kubelet (fake-kubelet.ts) at the nodes' InternalIP.
//
// No kube-controller-manager, scheduler or kubelet runs: objects are what the API stores
// (see kube-driver.ts for what that means for namespaces, service accounts and pods).
//
// Several API servers may share one etcd, each under its own `--etcd-prefix`: a test that
// stops and restarts "the" API server gets a private one without disturbing the others.
//
// Ownership: startControlPlane() owns its processes and data directory until stop()
// resolves; the processes die with the Node process (supervised-process.ts).

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, fetch } from 'undici';
import type { Log } from '../go-tool.ts';
import { pickFreePort } from '../free-port.ts';
import { ensureKubeBinaries, type KubeBinaries } from './kube-binaries.ts';
import { createPki, type ControlPlanePki } from './pki.ts';
import { logTail, startSupervised, type SupervisedProcess } from './supervised-process.ts';

/** Service network of the API server; the `kubernetes` Service gets its first address. */
export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';

const ETCD_READY_TIMEOUT_MS = 60_000;
const APISERVER_READY_TIMEOUT_MS = 120_000;

export interface KubeApiAccess {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** PEM CA bundle that signed the serving certificate. */
  caPem: string;
  /** Bearer token (the admin's, in system:masters, unless stated otherwise). */
  token?: string;
  /** PEM client certificate and key, instead of a token (kind's kubeconfigs, say). */
  cert?: string;
  key?: string;
}

export interface KubeApiServer extends KubeApiAccess {
  token: string;
  port: number;
  etcdPrefix: string;
  logFile: string;
  /** Stops the process (SIGTERM; the port refuses connections afterwards). Idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port and etcd prefix; resolves when /readyz answers ok. */
  start(): Promise<void>;
  running(): boolean;
}

export interface ControlPlane {
  pki: ControlPlanePki;
  etcdUrl: string;
  /** The first API server. */
  apiServer: KubeApiServer;
  /** A kubeconfig (YAML) for the admin: server, CA and token. */
  adminKubeconfig: string;
  /** Path of the admin kubeconfig written into the data directory. */
  adminKubeconfigPath: string;
  /**
   * Another API server on the same etcd under its own prefix: an independent cluster
   * (own namespaces, own resourceVersions in the watch cache) that a test may stop and
   * restart at will. Stopped by stop() too.
   */
  startApiServer(opts?: { name?: string }): Promise<KubeApiServer>;
  stop(): Promise<void>;
}

export interface StartControlPlaneOptions {
  dataDir: string;
  log?: Log;
}

export async function startControlPlane(opts: StartControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const [binaries, pki] = await Promise.all([ensureKubeBinaries(log), createPki(join(opts.dataDir, 'pki'))]);
  const etcd = await startEtcd(binaries, join(opts.dataDir, 'etcd'));
  const servers: KubeApiServer[] = [];
  let n = 0;
  const startApiServer = async (o: { name?: string } = {}) => {
    const name = o.name ?? `apiserver-${n++}`;
    const server = await startKubeApiServer({ binaries, pki, etcdUrl: etcd.url, name, dir: join(opts.dataDir, name) });
    servers.push(server);
    return server;
  };
  try {
    const apiServer = await startApiServer({ name: 'apiserver' });
    const adminKubeconfig = kubeconfigYaml(
      { url: apiServer.url, caPem: pki.caPem, token: pki.adminToken },
      'k8s-logs-test',
    );
    const adminKubeconfigPath = join(opts.dataDir, 'admin.kubeconfig');
    await writeFile(adminKubeconfigPath, adminKubeconfig, { mode: 0o600 });
    // For other processes that attach API servers to this etcd (test/helpers/kube.ts).
    await writeFile(join(opts.dataDir, 'etcd-url'), `${etcd.url}\n`);
    log(`control plane up: ${apiServer.url} (etcd ${etcd.url})`);
    return {
      pki,
      etcdUrl: etcd.url,
      apiServer,
      adminKubeconfig,
      adminKubeconfigPath,
      startApiServer,
      async stop() {
        await Promise.allSettled(servers.map((s) => s.stop()));
        await etcd.process.stop();
      },
    };
  } catch (err) {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await etcd.process.stop();
    throw err;
  }
}

/** A kubeconfig for one cluster and one bearer-token user. */
export function kubeconfigYaml(access: KubeApiAccess, name: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `current-context: ${name}`,
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${access.url}`,
    `    certificate-authority-data: ${Buffer.from(access.caPem).toString('base64')}`,
    'users:',
    `- name: ${name}`,
    '  user:',
    ...(access.token ? [`    token: ${access.token}`] : []),
    ...(access.cert ? [`    client-certificate-data: ${Buffer.from(access.cert).toString('base64')}`] : []),
    ...(access.key ? [`    client-key-data: ${Buffer.from(access.key).toString('base64')}`] : []),
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}`,
    '',
  ].join('\n');
}

async function startEtcd(bin: KubeBinaries, dir: string): Promise<{ url: string; process: SupervisedProcess }> {
  await mkdir(dir, { recursive: true });
  const [clientPort, peerPort] = [await pickFreePort(), await pickFreePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const proc = await startSupervised(
    bin.etcd,
    [
      '--name=k8s-logs-test',
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=k8s-logs-test=${peer}`,
      // Test data: losing it on a power cut is fine, waiting on fsync on a busy disk is not.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    join(dir, 'etcd.log'),
  );
  const deadline = Date.now() + ETCD_READY_TIMEOUT_MS;
  for (;;) {
    const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })
      .then(async (r) => r.ok && ((await r.json()) as { health?: string }).health === 'true')
      .catch(() => false);
    if (ok) return { url, process: proc };
    if (!proc.running() || Date.now() > deadline) {
      await proc.stop();
      throw new Error(`etcd did not become healthy at ${url}:\n${await logTail(proc.logFile)}`);
    }
    await sleep(100);
  }
}

export interface StartKubeApiServerOptions {
  binaries: KubeBinaries;
  pki: ControlPlanePki;
  etcdUrl: string;
  /** Unique among the API servers on this etcd: its etcd prefix is `/registry-<name>`. */
  name: string;
  /** Its log and generated files. */
  dir: string;
}

/**
 * Starts a kube-apiserver on an etcd that may already serve others (each under its own
 * prefix, so each is its own cluster); resolves when /readyz answers ok. The caller owns it.
 */
export async function startKubeApiServer(opts: StartKubeApiServerOptions): Promise<KubeApiServer> {
  const server = await newApiServer(opts.binaries, opts.pki, opts.etcdUrl, {
    name: opts.name,
    dir: opts.dir,
    prefix: `/registry-${opts.name}`,
  });
  await server.start();
  return server;
}

async function newApiServer(
  bin: KubeBinaries,
  pki: ControlPlanePki,
  etcdUrl: string,
  o: { name: string; dir: string; prefix: string },
): Promise<KubeApiServer> {
  await mkdir(o.dir, { recursive: true });
  const port = await pickFreePort();
  const url = `https://127.0.0.1:${port}`;
  const logFile = join(o.dir, 'kube-apiserver.log');
  const args = [
    `--etcd-servers=${etcdUrl}`,
    `--etcd-prefix=${o.prefix}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    // With a loopback advertise address the default reconciler exits at start.
    '--endpoint-reconciler-type=none',
    `--cert-dir=${o.dir}`,
    `--tls-cert-file=${pki.apiServerCert}`,
    `--tls-private-key-file=${pki.apiServerKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--token-auth-file=${pki.tokenFile}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    // pods/log goes to the fake kubelet at the node's InternalIP, verified both ways.
    `--kubelet-client-certificate=${pki.kubeletClientCert}`,
    `--kubelet-client-key=${pki.kubeletClientKey}`,
    `--kubelet-certificate-authority=${pki.caCert}`,
    '--kubelet-preferred-address-types=InternalIP',
    '--profiling=false',
    '--v=0',
  ];
  const access = { url, caPem: pki.caPem, token: pki.adminToken };
  const dispatcher = new Agent({ connect: { ca: pki.caPem }, keepAliveTimeout: 1 });
  let proc: SupervisedProcess | undefined;
  return {
    ...access,
    port,
    etcdPrefix: o.prefix,
    logFile,
    running: () => proc?.running() ?? false,
    async stop() {
      const p = proc;
      proc = undefined;
      await p?.stop();
    },
    async start() {
      if (proc?.running()) return;
      proc = await startSupervised(bin.kubeApiServer, args, logFile);
      const deadline = Date.now() + APISERVER_READY_TIMEOUT_MS;
      for (;;) {
        const status = await fetch(`${url}/readyz`, {
          dispatcher,
          headers: { authorization: `Bearer ${pki.adminToken}` },
          signal: AbortSignal.timeout(5_000),
        })
          .then(async (r) => (await r.text(), r.status))
          .catch(() => 0);
        if (status === 200) return;
        if (!proc.running() || Date.now() > deadline) {
          const p = proc;
          proc = undefined;
          await p.stop();
          throw new Error(`kube-apiserver (${o.name}) did not become ready at ${url}:\n${await logTail(logFile)}`);
        }
        await sleep(200);
      }
    },
  };
}
