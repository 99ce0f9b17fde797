// Builders for realistically shaped objects: what a kubelet/controller-manager
// would have filled in (conditions, container statuses with containerd IDs,
// owner labels). Pure apart from randomness, which callers can replace by
// passing explicit names, uids and container IDs.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type {
  ContainerSpec,
  ContainerStatus,
  KubeObject,
  ObjectMeta,
  OwnerReference,
  Pod,
} from './kube-objects.ts';

/** The alphabet Kubernetes uses for generated name suffixes (no vowels, no confusables). */
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A name suffix like the ones controllers generate; stable for a given `seed`. */
export function nameSuffix(length: number, seed?: string): string {
  const bytes = seed === undefined ? randomBytes(length) : createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += SUFFIX_ALPHABET[(bytes[i % bytes.length] ?? 0) % SUFFIX_ALPHABET.length];
  return out;
}

/** A UUID, stable for a given `seed`. */
export function uid(seed?: string): string {
  if (seed === undefined) return randomUUID();
  const h = createHash('sha256').update(`uid:${seed}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** `containerd://` + 64 hex digits, stable for a given `seed`. */
export function containerdId(seed?: string): string {
  const hex = seed === undefined ? randomBytes(32).toString('hex') : createHash('sha256').update(`cid:${seed}`).digest('hex');
  return `containerd://${hex}`;
}

export function rfc3339Seconds(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

export type OwnerKind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet' | 'Job';

export interface ContainerInput {
  name: string;
  image?: string;
  /** Full `containerd://<hex>` id; generated when absent. */
  containerID?: string;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface PodInput {
  namespace?: string;
  /** Generated from the owner (e.g. `web-7d9c6b8f5-x2k4q`) when absent. */
  name?: string;
  uid?: string;
  nodeName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Names or specs; default one container `app` running `busybox:1.36`. */
  containers?: (string | ContainerInput)[];
  owner?: { kind: OwnerKind; name: string };
  /** Default `Running`. `Pending` gives waiting containers without IDs. */
  phase?: PodPhase;
  podIP?: string;
  /**
   * Makes the generated name suffix, uid and container IDs a function of this
   * seed (e.g. for a demo cluster whose log file names survive restarts).
   */
  seed?: string;
}

const OWNER_API_VERSION: Record<OwnerKind, string> = {
  Deployment: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
};

export function controllerRef(kind: OwnerKind, name: string, ownerUid: string): OwnerReference {
  return { apiVersion: OWNER_API_VERSION[kind], kind, name, uid: ownerUid, controller: true, blockOwnerDeletion: true };
}

function meta(name: string, namespace: string | undefined, extra: Partial<ObjectMeta> = {}): ObjectMeta {
  // Key order as the real server serializes ObjectMeta.
  const m = { name } as ObjectMeta;
  if (extra.generateName !== undefined) m.generateName = extra.generateName;
  if (namespace !== undefined) m.namespace = namespace;
  Object.assign(m, { uid: '', resourceVersion: '', creationTimestamp: '' }, extra);
  return m;
}

export function buildNamespace(
  name: string,
  opts: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): KubeObject {
  const m = meta(name, undefined, { labels: { 'kubernetes.io/metadata.name': name, ...opts.labels } });
  if (opts.annotations) m.annotations = { ...opts.annotations };
  return { apiVersion: 'v1', kind: 'Namespace', metadata: m, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
}

export function buildNode(name: string, internalIP: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: meta(name, undefined, {
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'beta.kubernetes.io/arch': 'amd64',
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
    }),
    spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] },
    status: {
      addresses: [
        { type: 'InternalIP', address: internalIP },
        { type: 'Hostname', address: name },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        osImage: 'Ubuntu 24.04 LTS',
        kernelVersion: '6.8.0-45-generic',
        containerRuntimeVersion: 'containerd://1.7.22',
        kubeletVersion: 'v1.31.2',
        kubeProxyVersion: 'v1.31.2',
      },
      capacity: { cpu: '4', memory: '16318580Ki', pods: '110' },
      allocatable: { cpu: '4', memory: '16216180Ki', pods: '110' },
    },
  };
}

export function buildReplicaSet(
  namespace: string,
  deployment: string,
  templateHash: string,
  deploymentUid: string,
  labels: Record<string, string>,
  replicaSetUid: string,
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: meta(`${deployment}-${templateHash}`, namespace, {
      uid: replicaSetUid,
      labels: { ...labels, 'pod-template-hash': templateHash },
      annotations: { 'deployment.kubernetes.io/revision': '1' },
      ownerReferences: [controllerRef('Deployment', deployment, deploymentUid)],
      generation: 1,
    }),
    spec: {
      replicas: 1,
      selector: { matchLabels: { ...labels, 'pod-template-hash': templateHash } },
    },
    status: { replicas: 1, readyReplicas: 1, availableReplicas: 1, observedGeneration: 1 },
  };
}

function normalizeContainers(input: PodInput['containers']): ContainerInput[] {
  const list = input && input.length > 0 ? input : ['app'];
  return list.map((c) => (typeof c === 'string' ? { name: c } : c));
}

/** `nginx:1.27` → `docker.io/library/nginx:1.27`, as container statuses report images. */
function qualifyImage(image: string): string {
  const first = image.split('/')[0] ?? '';
  if (image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return image;
  return `docker.io/${image.includes('/') ? image : `library/${image}`}`;
}

function imageRef(image: string): string {
  const qualified = qualifyImage(image);
  const repo = qualified.replace(/:[^/:]+$/, '');
  return `${repo}@sha256:${createHash('sha256').update(image).digest('hex')}`;
}

function containerStatus(
  c: ContainerInput & { image: string },
  phase: PodPhase,
  startedAt: string,
  seed: string | undefined,
): ContainerStatus {
  const base = { name: c.name, image: qualifyImage(c.image), imageID: imageRef(c.image), restartCount: 0, lastState: {} };
  switch (phase) {
    case 'Pending':
      return { ...base, imageID: '', ready: false, started: false, state: { waiting: { reason: 'ContainerCreating' } } };
    case 'Running':
      return { ...base, containerID: c.containerID ?? containerdId(seed === undefined ? undefined : `${seed}/${c.name}`), ready: true, started: true, state: { running: { startedAt } } };
    case 'Succeeded':
    case 'Failed': {
      const failed = phase === 'Failed';
      const containerID = c.containerID ?? containerdId(seed === undefined ? undefined : `${seed}/${c.name}`);
      return {
        ...base,
        containerID,
        ready: false,
        started: false,
        state: { terminated: { exitCode: failed ? 1 : 0, reason: failed ? 'Error' : 'Completed', startedAt, finishedAt: rfc3339Seconds(), containerID } },
      };
    }
  }
}

/**
 * A complete Pod object from `input`. `name`, `labels` and `ownerReferences`
 * must already be resolved by the caller (it knows the cluster's other objects).
 */
export function buildPod(
  input: PodInput & { namespace: string; name: string; nodeName: string; hostIP: string },
  ownerReferences: OwnerReference[],
  labels: Record<string, string>,
): Pod {
  const phase = input.phase ?? 'Running';
  const now = rfc3339Seconds();
  const containers = normalizeContainers(input.containers).map((c) => ({ ...c, image: c.image ?? 'busybox:1.36' }));
  const specs: ContainerSpec[] = containers.map((c) => ({
    name: c.name,
    image: c.image,
    imagePullPolicy: 'IfNotPresent',
    resources: {},
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  }));
  const ready = phase === 'Running' ? 'True' : 'False';
  const m = meta(
    input.name,
    input.namespace,
    ownerReferences.length > 0 ? { generateName: input.name.replace(/[^-]+$/, ''), labels } : { labels },
  );
  if (input.uid) m.uid = input.uid;
  else if (input.seed !== undefined) m.uid = uid(input.seed);
  if (input.annotations) m.annotations = { ...input.annotations };
  if (ownerReferences.length > 0) m.ownerReferences = ownerReferences;
  const podIP = input.podIP ?? `10.244.0.${1 + (createHash('sha256').update(`${input.namespace}/${input.name}`).digest()[0] ?? 0) % 250}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: m,
    spec: {
      nodeName: input.nodeName,
      containers: specs,
      restartPolicy: input.owner?.kind === 'Job' ? 'Never' : 'Always',
      serviceAccountName: 'default',
      schedulerName: 'default-scheduler',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
    },
    status: {
      phase,
      conditions: [
        { type: 'PodReadyToStartContainers', status: phase === 'Pending' ? 'False' : 'True', lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastTransitionTime: now },
        { type: 'Ready', status: ready, lastTransitionTime: now },
        { type: 'ContainersReady', status: ready, lastTransitionTime: now },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
      ],
      hostIP: input.hostIP,
      ...(phase === 'Pending' ? {} : { podIP, podIPs: [{ ip: podIP }] }),
      startTime: now,
      qosClass: 'BestEffort',
      containerStatuses: containers.map((c) => containerStatus(c, phase, now, input.seed)),
    },
  };
}
