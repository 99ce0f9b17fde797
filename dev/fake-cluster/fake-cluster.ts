// The fake cluster's control surface, independent of HTTP: namespaces, nodes,
// pods (with controller-like owners and names) and their container logs. Tests
// and the demo drive the cluster through this; the HTTP server only reads it.

import { ClusterState } from './cluster-state.ts';
import { PodLogs, type LogLine } from './container-logs.ts';
import type { ContainerStatus, KubeObject, OwnerReference, Pod } from './kube-objects.ts';
import { nowNanos, toNanos } from './nano-time.ts';
import {
  buildNamespace,
  buildNode,
  buildPod,
  buildReplicaSet,
  containerdId,
  controllerRef,
  nameSuffix,
  rfc3339Seconds,
  uid,
  type PodInput,
} from './object-factory.ts';

export interface FakeClusterOptions {
  /** Change events kept per resource type for watch resumption. Default 1000. */
  historyLimit?: number;
  /** Lines kept per container instance; older lines are dropped. Default 10000. */
  maxLogLinesPerContainer?: number;
  /** Node for pods added without `nodeName`. Default `node-1`. */
  defaultNodeName?: string;
}

export class FakeCluster {
  readonly state: ClusterState;
  readonly #logs = new Map<string, PodLogs>();
  readonly #maxLogLines: number;
  readonly #defaultNode: string;

  constructor(options: FakeClusterOptions = {}) {
    this.state = new ClusterState(options.historyLimit === undefined ? {} : { historyLimit: options.historyLimit });
    this.#maxLogLines = options.maxLogLinesPerContainer ?? 10_000;
    this.#defaultNode = options.defaultNodeName ?? 'node-1';
  }

  /** Creates the namespace, or merges labels/annotations into an existing one. */
  addNamespace(
    name: string,
    opts: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
  ): KubeObject {
    if (!this.state.get('namespaces', undefined, name)) return this.state.create('namespaces', buildNamespace(name, opts));
    if (!opts.labels && !opts.annotations) return this.state.get('namespaces', undefined, name) as KubeObject;
    return this.state.update('namespaces', undefined, name, (ns) => {
      ns.metadata.labels = { ...ns.metadata.labels, ...opts.labels };
      if (opts.annotations) ns.metadata.annotations = { ...ns.metadata.annotations, ...opts.annotations };
    });
  }

  /** Creates the node if it does not exist. */
  addNode(name: string): KubeObject {
    const existing = this.state.get('nodes', undefined, name);
    if (existing) return existing;
    const ip = `10.0.0.${10 + this.state.list('nodes').length}`;
    return this.state.create('nodes', buildNode(name, ip));
  }

  getPod(namespace: string, name: string): Pod | undefined {
    return this.state.get('pods', namespace, name) as Pod | undefined;
  }

  listPods(namespace?: string): Pod[] {
    return this.state.list('pods', namespace) as Pod[];
  }

  /**
   * Adds a pod as its controller would create it. The namespace and node are
   * created when missing (a convenience the real API does not offer). With a
   * Deployment owner, the ReplicaSet in between is created too.
   */
  addPod(input: PodInput = {}): Pod {
    const namespace = input.namespace ?? 'default';
    const nodeName = input.nodeName ?? this.#defaultNode;
    this.addNamespace(namespace);
    const node = this.addNode(nodeName);
    const hostIP =
      (node.status as { addresses?: { type: string; address: string }[] }).addresses?.find((a) => a.type === 'InternalIP')
        ?.address ?? '10.0.0.10';

    const { name, labels, ownerReferences } = this.#resolveOwner(namespace, input);
    const pod = buildPod({ ...input, namespace, name, nodeName, hostIP }, ownerReferences, labels);
    const created = this.state.create('pods', pod) as Pod;
    this.#logs.set(created.metadata.uid, new PodLogs(this.#maxLogLines));
    return created;
  }

  #resolveOwner(
    namespace: string,
    input: PodInput,
  ): { name: string; labels: Record<string, string>; ownerReferences: OwnerReference[] } {
    const owner = input.owner;
    const appDefault: Record<string, string> =
      input.labels === undefined ? { app: owner?.name ?? input.name ?? 'app' } : {};
    const suffix = () => nameSuffix(5, input.seed === undefined ? undefined : `name:${input.seed}`);
    if (!owner) {
      return { name: input.name ?? `pod-${suffix()}`, labels: { ...appDefault, ...input.labels }, ownerReferences: [] };
    }
    const seed = `${namespace}/${owner.kind}/${owner.name}`;
    const user = { ...appDefault, ...input.labels };
    switch (owner.kind) {
      case 'Deployment': {
        const hash = nameSuffix(10, seed);
        const rsName = `${owner.name}-${hash}`;
        let rs = this.state.get('replicasets', namespace, rsName);
        rs ??= this.state.create(
          'replicasets',
          buildReplicaSet(namespace, owner.name, hash, uid(seed), input.labels ?? { app: owner.name }, uid(`${seed}/${hash}`)),
        );
        return {
          name: input.name ?? `${rsName}-${suffix()}`,
          labels: { ...user, 'pod-template-hash': hash },
          ownerReferences: [controllerRef('ReplicaSet', rsName, rs.metadata.uid)],
        };
      }
      case 'ReplicaSet': {
        const rs = this.state.get('replicasets', namespace, owner.name);
        return {
          name: input.name ?? `${owner.name}-${suffix()}`,
          labels: user,
          ownerReferences: [controllerRef('ReplicaSet', owner.name, rs?.metadata.uid ?? uid(seed))],
        };
      }
      case 'StatefulSet': {
        let ordinal = 0;
        while (this.state.get('pods', namespace, `${owner.name}-${ordinal}`)) ordinal++;
        const name = input.name ?? `${owner.name}-${ordinal}`;
        return {
          name,
          labels: {
            ...user,
            'apps.kubernetes.io/pod-index': String(ordinal),
            'controller-revision-hash': `${owner.name}-${nameSuffix(10, seed)}`,
            'statefulset.kubernetes.io/pod-name': name,
          },
          ownerReferences: [controllerRef('StatefulSet', owner.name, uid(seed))],
        };
      }
      case 'DaemonSet':
        return {
          name: input.name ?? `${owner.name}-${suffix()}`,
          labels: { ...user, 'controller-revision-hash': nameSuffix(10, seed), 'pod-template-generation': '1' },
          ownerReferences: [controllerRef('DaemonSet', owner.name, uid(seed))],
        };
      case 'Job': {
        const jobUid = uid(seed);
        return {
          name: input.name ?? `${owner.name}-${suffix()}`,
          labels: {
            ...user,
            'batch.kubernetes.io/controller-uid': jobUid,
            'batch.kubernetes.io/job-name': owner.name,
            'controller-uid': jobUid,
            'job-name': owner.name,
          },
          ownerReferences: [controllerRef('Job', owner.name, jobUid)],
        };
      }
    }
  }

  /** Stores a changed copy of the pod (MODIFIED event). `mutate` may edit in place or return a replacement. */
  updatePod(namespace: string, name: string, mutate: (pod: Pod) => Pod | void): Pod {
    return this.state.update<Pod>('pods', namespace, name, mutate);
  }

  /**
   * Deletes the pod (DELETED event) and ends its log streams. With
   * `graceful`, first marks it terminating (MODIFIED with deletionTimestamp)
   * as the real API does for a default `kubectl delete`.
   */
  deletePod(namespace: string, name: string, opts: { graceful?: boolean } = {}): Pod {
    if (opts.graceful) {
      this.updatePod(namespace, name, (p) => {
        p.metadata.deletionTimestamp = rfc3339Seconds(new Date(Date.now() + 30_000));
        p.metadata.deletionGracePeriodSeconds = 30;
      });
    }
    const deleted = this.state.delete('pods', namespace, name) as Pod;
    this.#logs.get(deleted.metadata.uid)?.endAll();
    this.#logs.delete(deleted.metadata.uid);
    return deleted;
  }

  /** Appends one line (no trailing newline) to the running instance of the container. */
  appendLog(namespace: string, pod: string, container: string, line: string, time?: Date | string | bigint): LogLine {
    const logs = this.#podLogsChecked(namespace, pod, container);
    const entry: LogLine = { time: time === undefined ? nowNanos() : toNanos(time), text: line };
    logs.current(container).append(entry);
    return entry;
  }

  /**
   * The container terminates and starts again: its log moves to "previous",
   * it gets a new containerID, restartCount+1 and lastState.terminated.
   */
  restartContainer(namespace: string, pod: string, container: string, exitCode = 1): Pod {
    const logs = this.#podLogsChecked(namespace, pod, container);
    logs.restart(container);
    return this.updatePod(namespace, pod, (p) => {
      const s = p.status.containerStatuses?.find((c: ContainerStatus) => c.name === container);
      if (!s) return;
      const now = rfc3339Seconds();
      s.lastState = {
        terminated: {
          exitCode,
          reason: exitCode === 0 ? 'Completed' : 'Error',
          startedAt: s.state.running?.startedAt ?? now,
          finishedAt: now,
          ...(s.containerID ? { containerID: s.containerID } : {}),
        },
      };
      s.containerID = containerdId();
      s.restartCount += 1;
      s.state = { running: { startedAt: now } };
    });
  }

  /** Log store of a pod by uid, for the HTTP layer. */
  podLogs(podUid: string): PodLogs | undefined {
    return this.#logs.get(podUid);
  }

  #podLogsChecked(namespace: string, pod: string, container: string): PodLogs {
    const p = this.getPod(namespace, pod);
    if (!p) throw new Error(`fake-kube-api: no pod ${namespace}/${pod}`);
    const known = [...p.spec.containers, ...(p.spec.initContainers ?? [])].some((c) => c.name === container);
    if (!known) throw new Error(`fake-kube-api: pod ${namespace}/${pod} has no container ${container}`);
    const logs = this.#logs.get(p.metadata.uid);
    if (!logs) throw new Error(`fake-kube-api: no log store for pod ${namespace}/${pod}`);
    return logs;
  }
}
