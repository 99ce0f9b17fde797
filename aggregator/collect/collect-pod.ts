/**
 * What a collect job needs of a pod, and the pure decisions over it: which containers to
 * read, whether the collection configuration or an exclusion annotation rules a container
 * out, and the record a collected line becomes. Pure.
 *
 * The exclusion rules are the agent's own (agent/filter/collection-filter.ts: a disabled
 * cluster or namespace, include/exclude lists, the config's label selector,
 * `k8s-logs.io/exclude` on the pod or its namespace, `k8s-logs.io/exclude-containers`), so
 * a line the agent would drop is not collected through the API either. Record labels are
 * the agent's too (pod labels + app, owner_kind, owner_name), plus two of ours that mark
 * the source: `k8s-logs.io/source: api` and `k8s-logs.io/collect-job: <job id>`.
 *
 * `pods/log` merges stdout and stderr, so every collected line is `stdout`; the collection
 * config's `streams` setting cannot be applied to it.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { compileCollectionConfig, decideFile } from '../../agent/filter/collection-filter.ts';
import { recordLabels } from '../../agent/enrich/pod-metadata.ts';
import { detectLevel } from '../../agent/parse/level.ts';
import { collectedRecordId } from '../../shared/ids.ts';
import type { LogRecord } from '../../shared/record.ts';
import type { CollectionConfig } from '../../shared/schemas/collection-config.ts';
import type { DiscardReason } from '../../shared/reasons.ts';
import type { ParsedLogLine } from './pod-log-parser.ts';

export const SOURCE_LABEL = 'k8s-logs.io/source';
export const JOB_LABEL = 'k8s-logs.io/collect-job';

export interface CollectContainer {
  name: string;
  init: boolean;
  /** The running (or last) instance; '' when the API shows none yet. */
  containerId: string;
  /** The terminated instance before it (`previous=true` reads it); '' when none. */
  previousContainerId: string;
  restartCount: number;
  /** Has the instance started (running or terminated)? Waiting containers have no log. */
  started: boolean;
}

export interface CollectPod {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerKind: string;
  ownerName: string;
  createdNs: bigint;
  deleting: boolean;
  phase: string;
  containers: CollectContainer[];
}

function statusOf(statuses: V1ContainerStatus[] | undefined, name: string): V1ContainerStatus | undefined {
  return statuses?.find((s) => s.name === name);
}

function container(name: string, init: boolean, s: V1ContainerStatus | undefined): CollectContainer {
  return {
    name,
    init,
    containerId: s?.containerID ?? '',
    previousContainerId: s?.lastState?.terminated?.containerID ?? '',
    restartCount: s?.restartCount ?? 0,
    started: s?.state?.running !== undefined || s?.state?.terminated !== undefined,
  };
}

/** Pure: the pod as collection sees it; undefined without name or uid. */
export function toCollectPod(pod: V1Pod): CollectPod | undefined {
  const m = pod.metadata;
  if (!m?.name || !m.namespace || !m.uid) return undefined;
  const labels = { ...(m.labels ?? {}) };
  const owner = m.ownerReferences?.find((o) => o.controller) ?? m.ownerReferences?.[0];
  let ownerKind = owner?.kind ?? '';
  let ownerName = owner?.name ?? '';
  const hash = labels['pod-template-hash'];
  if (ownerKind === 'ReplicaSet' && hash && ownerName.endsWith(`-${hash}`)) {
    ownerKind = 'Deployment';
    ownerName = ownerName.slice(0, -hash.length - 1);
  }
  const created = m.creationTimestamp ? new Date(m.creationTimestamp).getTime() : 0;
  return {
    namespace: m.namespace,
    name: m.name,
    uid: m.uid,
    node: pod.spec?.nodeName ?? '',
    labels,
    annotations: { ...(m.annotations ?? {}) },
    ownerKind,
    ownerName,
    createdNs: BigInt(Number.isFinite(created) ? created : 0) * 1_000_000n,
    deleting: m.deletionTimestamp !== undefined && m.deletionTimestamp !== null,
    phase: pod.status?.phase ?? 'Unknown',
    containers: [
      ...(pod.spec?.initContainers ?? []).map((c) =>
        container(c.name, true, statusOf(pod.status?.initContainerStatuses, c.name)),
      ),
      ...(pod.spec?.containers ?? []).map((c) =>
        container(c.name, false, statusOf(pod.status?.containerStatuses, c.name)),
      ),
    ],
  };
}

/** Pure: the containers of `pod` a job reads (`names` null = all; init containers only when asked). */
export function selectContainers(
  pod: CollectPod,
  names: readonly string[] | null,
  includeInit: boolean,
): CollectContainer[] {
  // A container named explicitly is read even when it is an init container.
  return pod.containers.filter((c) => (names ? names.includes(c.name) : includeInit || !c.init));
}

export type ExclusionReason = Extract<DiscardReason, 'excluded_by_config' | 'excluded_by_annotation'>;

/** Pure: why the config or an annotation rules the container out, or null to collect it. */
export function exclusion(
  config: CollectionConfig,
  pod: CollectPod,
  containerName: string,
  namespaceAnnotations: Readonly<Record<string, string>> | undefined,
): ExclusionReason | null {
  const d = decideFile(
    compileCollectionConfig(config),
    { namespace: pod.namespace, pod: pod.name, container: containerName },
    { pod: pod.annotations, namespace: namespaceAnnotations, podLabels: pod.labels },
  );
  return d.exclude as ExclusionReason | null;
}

/** Pure: the labels every record of (pod, job) carries. */
export function collectLabels(pod: CollectPod, jobId: string): Record<string, string> {
  return {
    ...recordLabels(
      {
        uid: pod.uid,
        labels: pod.labels,
        annotations: pod.annotations,
        ownerKind: pod.ownerKind,
        ownerName: pod.ownerName,
      },
      [],
    ),
    [SOURCE_LABEL]: 'api',
    [JOB_LABEL]: jobId,
  };
}

/** Pure: the record of one collected line. `labels` is shared between records (never mutated). */
export function collectedRecord(
  cluster: string,
  pod: CollectPod,
  containerName: string,
  containerId: string,
  line: ParsedLogLine,
  position: number,
  labels: Record<string, string>,
): LogRecord {
  return {
    id: collectedRecordId(cluster, pod.uid, containerName, containerId, line.timestamp, position),
    timestamp: line.timestamp,
    cluster,
    namespace: pod.namespace,
    pod: pod.name,
    container: containerName,
    ...(pod.node ? { node: pod.node } : {}),
    pod_uid: pod.uid,
    ...(containerId ? { container_id: containerId } : {}),
    stream: 'stdout',
    level: detectLevel(line.text),
    message: line.text,
    labels,
  };
}
