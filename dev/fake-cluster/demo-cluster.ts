// The simulated cluster behind `npm start`: three namespaces and eight pods on
// one node, owned the way real workloads are (Deployment→ReplicaSet,
// StatefulSet, DaemonSet, Job), labelled like Helm/kubectl-created apps.
// Identities (names, uids, container IDs) are derived from fixed seeds, so the
// log files a generator writes for them keep their names across restarts.

import type { FakeCluster } from './fake-cluster.ts';
import type { OwnerKind, PodInput } from './object-factory.ts';

export interface DemoContainer {
  name: string;
  image: string;
  /** Runtime-qualified, as in containerStatuses: `containerd://<64 hex>`. */
  containerID: string;
}

export interface DemoPod {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
  ownerKind: OwnerKind;
  ownerName: string;
  labels: Record<string, string>;
  containers: DemoContainer[];
}

interface Workload {
  namespace: string;
  kind: OwnerKind;
  name: string;
  replicas: number;
  tier: string;
  partOf: string;
  containers: { name: string; image: string }[];
}

const WORKLOADS: readonly Workload[] = [
  { namespace: 'shop', kind: 'Deployment', name: 'storefront', replicas: 2, tier: 'frontend', partOf: 'shop', containers: [{ name: 'web', image: 'nginx:1.27' }] },
  {
    namespace: 'shop',
    kind: 'Deployment',
    name: 'cart',
    replicas: 1,
    tier: 'backend',
    partOf: 'shop',
    containers: [
      { name: 'api', image: 'ghcr.io/example/cart:2.4.1' },
      { name: 'envoy', image: 'envoyproxy/envoy:v1.31.2' },
    ],
  },
  { namespace: 'payments', kind: 'Deployment', name: 'payments-api', replicas: 1, tier: 'backend', partOf: 'payments', containers: [{ name: 'api', image: 'ghcr.io/example/payments:1.9.0' }] },
  { namespace: 'payments', kind: 'StatefulSet', name: 'ledger-db', replicas: 1, tier: 'data', partOf: 'payments', containers: [{ name: 'postgres', image: 'postgres:16.4' }] },
  { namespace: 'payments', kind: 'Job', name: 'settlement-28904520', replicas: 1, tier: 'batch', partOf: 'payments', containers: [{ name: 'settle', image: 'ghcr.io/example/settlement:1.9.0' }] },
  { namespace: 'platform', kind: 'DaemonSet', name: 'node-exporter', replicas: 1, tier: 'monitoring', partOf: 'platform', containers: [{ name: 'node-exporter', image: 'quay.io/prometheus/node-exporter:v1.8.2' }] },
  { namespace: 'platform', kind: 'Deployment', name: 'ingress-nginx-controller', replicas: 1, tier: 'edge', partOf: 'platform', containers: [{ name: 'controller', image: 'registry.k8s.io/ingress-nginx/controller:v1.11.3' }] },
];

export interface DemoClusterOptions {
  /** Node every demo pod runs on (the agent's node). */
  nodeName: string;
}

/** Adds the demo namespaces and pods to `cluster`; returns what a log generator needs. */
export function populateDemoCluster(cluster: FakeCluster, opts: DemoClusterOptions): DemoPod[] {
  cluster.addNamespace('shop', { labels: { team: 'storefront' } });
  cluster.addNamespace('payments', { labels: { team: 'payments', 'pci-scope': 'true' } });
  cluster.addNamespace('platform', { labels: { team: 'sre' } });

  const pods: DemoPod[] = [];
  for (const w of WORKLOADS) {
    for (let i = 0; i < w.replicas; i++) {
      const input: PodInput = {
        namespace: w.namespace,
        nodeName: opts.nodeName,
        owner: { kind: w.kind, name: w.name },
        labels: {
          app: w.name,
          'app.kubernetes.io/name': w.name,
          'app.kubernetes.io/part-of': w.partOf,
          tier: w.tier,
        },
        ...(w.containers.length > 1
          ? { annotations: { 'kubectl.kubernetes.io/default-container': w.containers[0]?.name ?? '' } }
          : {}),
        containers: w.containers,
        seed: `demo/${opts.nodeName}/${w.namespace}/${w.kind}/${w.name}/${i}`,
      };
      const pod = cluster.addPod(input);
      pods.push({
        namespace: w.namespace,
        name: pod.metadata.name,
        uid: pod.metadata.uid,
        nodeName: opts.nodeName,
        ownerKind: w.kind,
        ownerName: w.name,
        labels: { ...pod.metadata.labels },
        containers: (pod.status.containerStatuses ?? []).map((s) => ({
          name: s.name,
          image: s.image,
          containerID: s.containerID ?? '',
        })),
      });
    }
  }
  return pods;
}

/**
 * File name of a container's log under /var/log/containers on its node:
 * `<pod>_<namespace>_<container>-<containerid>.log`, the id without the
 * `containerd://` runtime prefix.
 */
export function containerLogFileName(
  pod: { name: string; namespace: string },
  container: { name: string; containerID: string },
): string {
  const id = container.containerID.replace(/^[a-z0-9-]+:\/\//, '');
  return `${pod.name}_${pod.namespace}_${container.name}-${id}.log`;
}
