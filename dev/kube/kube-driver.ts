// Drives a real API server the way the missing components would: creates nodes that point
// at the fake kubelet, namespaces with their `default` ServiceAccount, pods bound to a node
// and marked Running (with container IDs, init containers, owners and the labels their
// controllers would set), container restarts, and deletions — all through the real API,
// so watchers see the real events and resourceVersions. Logs go to the fake kubelet.
//
// What is missing without kube-controller-manager/scheduler/kubelet, and done here instead:
// - no `default` ServiceAccount per namespace (the ServiceAccount admission needs it);
// - a node gets `node.kubernetes.io/not-ready:NoSchedule` at creation (removed here);
// - pods are bound by setting `spec.nodeName`; their status is merge-patched;
// - a bound pod deleted with a grace period stays Terminating until the kubelet would
//   confirm: the driver confirms with a second delete at grace period 0;
// - owners (Deployment → ReplicaSet, StatefulSet, DaemonSet, Job) are real objects that
//   no controller acts on (zero replicas, suspended).

import { randomBytes } from 'node:crypto';
import type { FakeKubelet } from './fake-kubelet.ts';
import { KubeApiClient, KubeApiError } from './kube-api-client.ts';
import type { KubeApiAccess } from './control-plane.ts';

export type OwnerKind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet' | 'Job';

export interface PodInput {
  namespace: string;
  /** Default: derived from the owner as its controller would, or `pod-<random>`. */
  name?: string;
  nodeName: string;
  /** Container names; default ['main']. */
  containers?: readonly string[];
  /** Init containers, shown as completed. */
  initContainers?: readonly string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  owner?: { kind: OwnerKind; name: string };
  /** Default Running. Pending pods have waiting containers (no logs). */
  phase?: 'Running' | 'Pending' | 'Succeeded' | 'Failed';
  serviceAccountName?: string;
  /** Log lines per container written before the status is set (init containers finish with theirs). */
  logs?: Record<string, readonly string[]>;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    deletionTimestamp?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface ContainerStatus {
  name: string;
  containerID?: string;
  restartCount: number;
  ready: boolean;
  started?: boolean;
  image: string;
  imageID: string;
  state: Record<string, unknown>;
  lastState: Record<string, unknown>;
}

export interface Pod extends KubeObject {
  spec: {
    nodeName: string;
    containers: { name: string; image: string }[];
    initContainers?: { name: string; image: string }[];
  };
  status: {
    phase: string;
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
    [k: string]: unknown;
  };
}

const IMAGE = 'registry.invalid/k8s-logs/test:1';
const IMAGE_ID = `registry.invalid/k8s-logs/test@sha256:${'0'.repeat(64)}`;

export class KubeDriver {
  readonly api: KubeApiClient;
  readonly kubelet: FakeKubelet | undefined;

  constructor(access: KubeApiAccess | KubeApiClient, kubelet?: FakeKubelet) {
    this.api = access instanceof KubeApiClient ? access : new KubeApiClient(access);
    this.kubelet = kubelet;
  }

  /** Creates the namespace (merging labels/annotations into an existing one) and its `default` ServiceAccount. */
  async ensureNamespace(
    name: string,
    opts: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
  ): Promise<KubeObject> {
    let ns: KubeObject;
    try {
      ns = await this.api.create<KubeObject>('/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name, ...opts },
      });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
      ns =
        opts.labels || opts.annotations
          ? await this.api.patch<KubeObject>(`/api/v1/namespaces/${name}`, { metadata: opts })
          : await this.api.get<KubeObject>(`/api/v1/namespaces/${name}`);
    }
    await this.#createIfMissing(`/api/v1/namespaces/${name}/serviceaccounts`, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default' },
    });
    return ns;
  }

  /**
   * Creates a Ready linux node whose kubelet is the fake one (InternalIP 127.0.0.1 and its
   * port), schedulable (no not-ready taint) so DaemonSets would target it.
   */
  async addNode(name: string, opts: { labels?: Record<string, string> } = {}): Promise<KubeObject> {
    const port = this.kubelet?.port ?? 10250;
    await this.#createIfMissing('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: {
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/hostname': name,
          ...opts.labels,
        },
      },
    });
    await this.api.patch(`/api/v1/nodes/${name}`, { spec: { taints: null } });
    const now = rfc3339();
    return this.api.patch<KubeObject>(`/api/v1/nodes/${name}/status`, {
      status: {
        addresses: [
          { type: 'InternalIP', address: '127.0.0.1' },
          { type: 'Hostname', address: name },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: port } },
        capacity: { cpu: '2', memory: '4Gi', pods: '110' },
        allocatable: { cpu: '2', memory: '4Gi', pods: '110' },
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'fake kubelet',
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
        nodeInfo: {
          kubeletVersion: 'v1.37.2-fake',
          kubeProxyVersion: '',
          containerRuntimeVersion: 'containerd://2.0.0',
          operatingSystem: 'linux',
          architecture: 'amd64',
          osImage: 'fake',
          kernelVersion: '6.0.0',
          machineID: '',
          systemUUID: '',
          bootID: '',
        },
      },
    });
  }

  /** Creates the pod bound to its node, then sets its status as the kubelet would; the kubelet learns it. */
  async addPod(input: PodInput): Promise<Pod> {
    const ns = input.namespace;
    const { name, labels, ownerReferences } = await this.#owned(input);
    const containers = input.containers ?? ['main'];
    const created = await this.api.create<Pod>(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        labels,
        ...(input.annotations ? { annotations: input.annotations } : {}),
        ...(ownerReferences.length ? { ownerReferences } : {}),
      },
      spec: {
        nodeName: input.nodeName,
        containers: containers.map((c) => ({ name: c, image: IMAGE })),
        ...(input.initContainers?.length
          ? { initContainers: input.initContainers.map((c) => ({ name: c, image: IMAGE })) }
          : {}),
        terminationGracePeriodSeconds: 0,
        automountServiceAccountToken: false,
        ...(input.serviceAccountName ? { serviceAccountName: input.serviceAccountName } : {}),
      },
    });
    this.kubelet?.addPod({
      namespace: ns,
      name: created.metadata.name,
      uid: created.metadata.uid,
      containers,
      ...(input.initContainers ? { initContainers: input.initContainers } : {}),
    });
    for (const [container, lines] of Object.entries(input.logs ?? {})) {
      for (const line of lines) this.appendLog(ns, created.metadata.name, container, line);
    }
    return this.#setStatus(created, input.phase ?? 'Running', containers, input.initContainers ?? []);
  }

  async getPod(namespace: string, name: string): Promise<Pod> {
    return this.api.get<Pod>(`/api/v1/namespaces/${namespace}/pods/${name}`);
  }

  /** Merge-patches the pod's metadata/spec (labels, annotations, …). */
  async patchPod(namespace: string, name: string, patch: Record<string, unknown>): Promise<Pod> {
    return this.api.patch<Pod>(`/api/v1/namespaces/${namespace}/pods/${name}`, patch);
  }

  /**
   * The container exits and is started again: restartCount+1, lastState.terminated with the
   * old containerID, a new containerID; the kubelet keeps the old log as `previous`.
   */
  async restartContainer(namespace: string, name: string, container: string, exitCode = 1): Promise<Pod> {
    const pod = await this.getPod(namespace, name);
    const now = rfc3339();
    const statuses = (pod.status.containerStatuses ?? []).map((s) =>
      s.name !== container
        ? s
        : {
            ...s,
            restartCount: s.restartCount + 1,
            containerID: containerId(),
            lastState: {
              terminated: {
                exitCode,
                reason: exitCode === 0 ? 'Completed' : 'Error',
                startedAt: (s.state['running'] as { startedAt?: string } | undefined)?.startedAt ?? now,
                finishedAt: now,
                ...(s.containerID ? { containerID: s.containerID } : {}),
              },
            },
            state: { running: { startedAt: now } },
          },
    );
    this.kubelet?.restartContainer(namespace, name, container);
    return this.api.patch<Pod>(`/api/v1/namespaces/${namespace}/pods/${name}/status`, {
      status: { containerStatuses: statuses },
    });
  }

  /**
   * Deletes the pod. `graceful`: first the usual delete with a grace period (watchers see
   * MODIFIED with deletionTimestamp), then the kubelet's confirmation (DELETED).
   */
  async deletePod(namespace: string, name: string, opts: { graceful?: boolean } = {}): Promise<void> {
    const path = `/api/v1/namespaces/${namespace}/pods/${name}`;
    if (opts.graceful) await this.api.delete(path, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 30 });
    await this.api.delete(path, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
    this.kubelet?.removePod(namespace, name);
  }

  /** Appends a log line to the running container (the fake kubelet serves it). */
  appendLog(namespace: string, pod: string, container: string, text: string, time?: Date | string | bigint): void {
    if (!this.kubelet) throw new Error('KubeDriver: no fake kubelet');
    this.kubelet.appendLog(namespace, pod, container, text, time);
  }

  /** GET pods/log through the API server (the real proxy to the kubelet). */
  async podLog(
    namespace: string,
    pod: string,
    query: Record<string, string | number | boolean> = {},
  ): Promise<{ status: number; text: string }> {
    const q = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
    return this.api.raw('GET', `/api/v1/namespaces/${namespace}/pods/${pod}/log${q.size ? `?${q}` : ''}`);
  }

  async close(): Promise<void> {
    await this.api.close();
  }

  async #createIfMissing(path: string, body: unknown): Promise<void> {
    try {
      await this.api.create(path, body);
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    }
  }

  async #setStatus(
    pod: Pod,
    phase: NonNullable<PodInput['phase']>,
    containers: readonly string[],
    inits: readonly string[],
  ): Promise<Pod> {
    const now = rfc3339();
    const running = phase === 'Running';
    const done = phase === 'Succeeded' || phase === 'Failed';
    const status = (name: string, state: Record<string, unknown>, ready: boolean): ContainerStatus => ({
      name,
      ...(state['waiting'] ? {} : { containerID: containerId() }),
      restartCount: 0,
      ready,
      started: running,
      image: IMAGE,
      imageID: state['waiting'] ? '' : IMAGE_ID,
      state,
      lastState: {},
    });
    const main = (name: string) =>
      running
        ? status(name, { running: { startedAt: now } }, true)
        : done
          ? status(
              name,
              {
                terminated: {
                  exitCode: phase === 'Failed' ? 1 : 0,
                  reason: phase === 'Failed' ? 'Error' : 'Completed',
                  startedAt: now,
                  finishedAt: now,
                },
              },
              false,
            )
          : status(name, { waiting: { reason: 'ContainerCreating' } }, false);
    const init = (name: string) =>
      phase === 'Pending'
        ? status(name, { waiting: { reason: 'PodInitializing' } }, false)
        : status(name, { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } }, true);
    for (const c of done ? containers : [])
      this.kubelet?.stopContainer(pod.metadata.namespace ?? '', pod.metadata.name, c);
    for (const c of phase === 'Pending' ? [] : inits)
      this.kubelet?.stopContainer(pod.metadata.namespace ?? '', pod.metadata.name, c);
    return this.api.patch<Pod>(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, {
      status: {
        phase,
        hostIP: '127.0.0.1',
        hostIPs: [{ ip: '127.0.0.1' }],
        ...(phase === 'Pending' ? {} : { podIP: podIp(), startTime: now }),
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
          {
            type: 'Initialized',
            status: phase === 'Pending' && inits.length ? 'False' : 'True',
            lastTransitionTime: now,
          },
          { type: 'ContainersReady', status: running ? 'True' : 'False', lastTransitionTime: now },
          { type: 'Ready', status: running ? 'True' : 'False', lastTransitionTime: now },
        ],
        containerStatuses: containers.map(main),
        ...(inits.length ? { initContainerStatuses: inits.map(init) } : {}),
      },
    });
  }

  /** Name, labels and ownerReferences as the owner's controller would set them; creates the owner objects. */
  async #owned(
    input: PodInput,
  ): Promise<{
    name: string;
    labels: Record<string, string>;
    ownerReferences: NonNullable<KubeObject['metadata']['ownerReferences']>;
  }> {
    const ns = input.namespace;
    const owner = input.owner;
    const labels = { ...(input.labels ?? { app: owner?.name ?? input.name ?? 'app' }) };
    if (!owner) return { name: input.name ?? `pod-${suffix(5)}`, labels, ownerReferences: [] };
    const selector = { 'k8s-logs.io/owner': owner.name };
    const template = (extra: Record<string, string> = {}, spec: Record<string, unknown> = {}) => ({
      metadata: { labels: { ...selector, ...extra } },
      spec: { containers: [{ name: 'main', image: IMAGE }], ...spec },
    });
    const ref = (o: KubeObject, kind: string, apiVersion: string) => ({
      apiVersion,
      kind,
      name: o.metadata.name,
      uid: o.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    });
    const ensure = async (
      resource: string,
      name: string,
      spec: Record<string, unknown>,
      extra: Record<string, unknown> = {},
    ) => {
      const base = `/apis/${resource}`.replace('{ns}', ns);
      try {
        return await this.api.get<KubeObject>(`${base}/${name}`);
      } catch (err) {
        if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
        return this.api.create<KubeObject>(base, { metadata: { name, ...extra }, spec });
      }
    };
    switch (owner.kind) {
      case 'Deployment':
      case 'ReplicaSet': {
        let rsName = owner.name;
        let hash = '';
        let rsOwners: unknown[] = [];
        if (owner.kind === 'Deployment') {
          const dep = await ensure('apps/v1/namespaces/{ns}/deployments', owner.name, {
            replicas: 0,
            selector: { matchLabels: selector },
            template: template(),
          });
          hash = stableHash(dep.metadata.uid, 10);
          rsName = `${owner.name}-${hash}`;
          rsOwners = [ref(dep, 'Deployment', 'apps/v1')];
        }
        const rsLabels: Record<string, string> = hash ? { 'pod-template-hash': hash } : {};
        const rs = await ensure(
          'apps/v1/namespaces/{ns}/replicasets',
          rsName,
          { replicas: 0, selector: { matchLabels: { ...selector, ...rsLabels } }, template: template(rsLabels) },
          { labels: { ...selector, ...rsLabels }, ...(rsOwners.length ? { ownerReferences: rsOwners } : {}) },
        );
        return {
          name: input.name ?? `${rsName}-${suffix(5)}`,
          labels: { ...labels, ...selector, ...rsLabels },
          ownerReferences: [ref(rs, 'ReplicaSet', 'apps/v1')],
        };
      }
      case 'StatefulSet': {
        const sts = await ensure('apps/v1/namespaces/{ns}/statefulsets', owner.name, {
          replicas: 0,
          serviceName: owner.name,
          selector: { matchLabels: selector },
          template: template(),
        });
        const existing = (
          await this.api.get<{ items: KubeObject[] }>(
            `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`k8s-logs.io/owner=${owner.name}`)}`,
          )
        ).items;
        let ordinal = 0;
        while (existing.some((p) => p.metadata.name === `${owner.name}-${ordinal}`)) ordinal++;
        const name = input.name ?? `${owner.name}-${ordinal}`;
        return {
          name,
          labels: {
            ...labels,
            ...selector,
            'apps.kubernetes.io/pod-index': String(ordinal),
            'controller-revision-hash': `${owner.name}-${stableHash(sts.metadata.uid, 10)}`,
            'statefulset.kubernetes.io/pod-name': name,
          },
          ownerReferences: [ref(sts, 'StatefulSet', 'apps/v1')],
        };
      }
      case 'DaemonSet': {
        // A nodeSelector no node has: the object exists, nothing would ever be scheduled.
        const ds = await ensure('apps/v1/namespaces/{ns}/daemonsets', owner.name, {
          selector: { matchLabels: selector },
          template: template({}, { nodeSelector: { 'k8s-logs.io/never': 'true' } }),
        });
        return {
          name: input.name ?? `${owner.name}-${suffix(5)}`,
          labels: {
            ...labels,
            ...selector,
            'controller-revision-hash': stableHash(ds.metadata.uid, 10),
            'pod-template-generation': '1',
          },
          ownerReferences: [ref(ds, 'DaemonSet', 'apps/v1')],
        };
      }
      case 'Job': {
        const job = await ensure('batch/v1/namespaces/{ns}/jobs', owner.name, {
          suspend: true,
          template: template({}, { restartPolicy: 'Never' }),
        });
        // The API server generated the selector labels; the job's pods carry them.
        const jobLabels =
          (job.spec?.['template'] as { metadata?: { labels?: Record<string, string> } } | undefined)?.metadata
            ?.labels ?? {};
        return {
          name: input.name ?? `${owner.name}-${suffix(5)}`,
          labels: { ...labels, ...jobLabels },
          ownerReferences: [ref(job, 'Job', 'batch/v1')],
        };
      }
    }
  }
}

/** Lower-case alphanumerics, as controllers' generated name suffixes. */
function suffix(n: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');
}

function stableHash(seed: string, n: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let h = 2166136261;
  let out = '';
  for (let i = 0; out.length < n; i++) {
    h = Math.imul(h ^ (seed.charCodeAt(i % seed.length) + i), 16777619) >>> 0;
    out += alphabet[h % alphabet.length];
  }
  return out;
}

function containerId(): string {
  return `containerd://${randomBytes(32).toString('hex')}`;
}

function podIp(): string {
  const b = randomBytes(2);
  return `10.244.${b[0]}.${Math.max(1, b[1] ?? 1)}`;
}

function rfc3339(d = new Date()): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}
