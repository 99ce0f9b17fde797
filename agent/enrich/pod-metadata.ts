/**
 * Pod metadata as the pipeline sees it, and the interface of its source (the node-scoped
 * pod watch in pod-watch.ts, or nothing outside Kubernetes). Lookups are synchronous map
 * reads: a line never waits for the Kubernetes API.
 */
export interface PodMeta {
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Controller owner after resolution (ReplicaSet → Deployment, Job → CronJob). */
  readonly ownerKind: string;
  readonly ownerName: string;
}

export interface MetadataSource {
  pod(namespace: string, name: string): PodMeta | undefined;
  /** Exact lookup when the pod uid is known from the log file's real path. */
  podByUid?(uid: string): PodMeta | undefined;
  namespaceAnnotations(namespace: string): Readonly<Record<string, string>> | undefined;
}

/** A started metadata source (the pod watch of enrich/pod-watch.ts). */
export interface StartedMetadata extends MetadataSource {
  stop(): Promise<void>;
}

/** Record labels: pod labels + selected annotations + app, owner_kind, owner_name. */
export function recordLabels(meta: PodMeta | undefined, includeAnnotations: readonly string[]): Record<string, string> {
  if (meta === undefined) return {};
  const out: Record<string, string> = { ...meta.labels };
  for (const a of includeAnnotations) {
    const v = meta.annotations[a];
    if (v !== undefined) out[a] = v;
  }
  const app =
    meta.labels['app.kubernetes.io/name'] ??
    meta.labels['app'] ??
    meta.labels['k8s-app'] ??
    (meta.ownerName !== '' ? meta.ownerName : undefined);
  if (app !== undefined) out['app'] = app;
  if (meta.ownerKind !== '') {
    out['owner_kind'] = meta.ownerKind;
    out['owner_name'] = meta.ownerName;
  }
  return out;
}
