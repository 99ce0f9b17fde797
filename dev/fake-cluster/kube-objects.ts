// JSON shapes of the Kubernetes objects the fake API server stores and serves.
// These are wire shapes (what the API server sends), not the client library's
// classes: timestamps are RFC 3339 strings, every field optional as on the wire.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

/** Any stored object: the server only relies on these fields. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
}

export interface ContainerSpec {
  name: string;
  image: string;
  imagePullPolicy?: string;
  ports?: { containerPort: number; protocol?: string; name?: string }[];
  resources?: Record<string, unknown>;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
}

export interface ContainerState {
  running?: { startedAt: string };
  waiting?: { reason: string; message?: string };
  terminated?: {
    exitCode: number;
    reason?: string;
    startedAt?: string;
    finishedAt?: string;
    containerID?: string;
  };
}

export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state: ContainerState;
  lastState: ContainerState;
}

export interface PodSpec {
  nodeName?: string;
  containers: ContainerSpec[];
  initContainers?: ContainerSpec[];
  restartPolicy: string;
  serviceAccountName: string;
  schedulerName: string;
  terminationGracePeriodSeconds: number;
  dnsPolicy: string;
}

export interface PodStatus {
  phase: string;
  conditions?: { type: string; status: string; lastTransitionTime?: string }[];
  hostIP?: string;
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime?: string;
  qosClass?: string;
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
}

export interface Pod extends KubeObject {
  apiVersion: 'v1';
  kind: 'Pod';
  spec: PodSpec;
  status: PodStatus;
}

/** The metav1.Status object every error response (and watch ERROR event) carries. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string };
  code: number;
}

export function failureStatus(
  code: number,
  reason: string,
  message: string,
  details?: Status['details'],
): Status {
  const status: Status = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
  if (details) status.details = details;
  return status;
}

/** An error that route handlers throw; the server turns it into a Status response. */
export class StatusError extends Error {
  readonly status: Status;
  constructor(status: Status) {
    super(status.message);
    this.name = 'StatusError';
    this.status = status;
  }
}

export function notFound(resource: string, name: string, group = ''): StatusError {
  const details: Status['details'] = { name, kind: resource };
  if (group) details.group = group;
  const qualified = group ? `${resource}.${group}` : resource;
  return new StatusError(failureStatus(404, 'NotFound', `${qualified} "${name}" not found`, details));
}

export function badRequest(message: string): StatusError {
  return new StatusError(failureStatus(400, 'BadRequest', message));
}

export function expired(message: string): StatusError {
  return new StatusError(failureStatus(410, 'Expired', message));
}
