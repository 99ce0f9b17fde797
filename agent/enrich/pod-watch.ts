/**
 * Pod metadata from ONE node-scoped pod watch (`spec.nodeName=<node>`) plus a namespace
 * watch (for the namespace-level exclude annotation), via the small list+watch client in
 * list-watch.ts over undici (not @kubernetes/client-node, whose import alone costs ~77 MiB
 * of RSS). Owns the pod cache, the grace period after deletion and owner resolution.
 *
 * Resilience (list-watch.ts): 410 Expired relists and emits deletes for pods gone since;
 * any other error (API down, connection refused, 5xx) is retried forever with capped,
 * jittered backoff, resuming from the last resourceVersion. Until the first list succeeds,
 * and during outages, lookups answer from what is cached (or nothing): lines are never delayed.
 *
 * Deleted pods stay resolvable for `podDeleteGraceMs`, because their last lines are often
 * read after the deletion event. Owner: the controller ownerReference; a ReplicaSet created
 * by a Deployment is resolved to the Deployment by the `pod-template-hash` naming rule
 * (`<deployment>-<hash>`), which needs no extra API call or RBAC.
 *
 * Concurrency: callbacks run on the event loop; lookups are synchronous map reads.
 */
import type { AgentEvents } from '../telemetry/events.ts';
import { createKubeClient } from './kube-client.ts';
import { resolveConnection, type KubeConnection } from './kube-connection.ts';
import { ListWatch } from './list-watch.ts';
import type { PodMeta, StartedMetadata } from './pod-metadata.ts';

/** The parts of a Pod (and a Namespace) this module reads. */
export interface PodObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion?: string; kind: string; name: string; uid?: string; controller?: boolean }[];
  };
}

export type NamespaceObject = PodObject;

export interface PodWatchOptions {
  /** `auto` (in-cluster when KUBERNETES_SERVICE_HOST is set, else off), `off`, or a kubeconfig path. */
  kubernetes: string;
  node: string;
  podDeleteGraceMs: number;
  /** Restart backoff bounds (tests shorten them). */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/** Pod object → what the pipeline needs (pure). */
export function podMetaOf(pod: PodObject): PodMeta {
  const md = pod.metadata ?? {};
  const labels = md.labels ?? EMPTY;
  let ownerKind = '';
  let ownerName = '';
  const refs = md.ownerReferences ?? [];
  const ctl = refs.find((r) => r.controller === true) ?? refs[0];
  if (ctl !== undefined) {
    ownerKind = ctl.kind;
    ownerName = ctl.name;
    const hash = labels['pod-template-hash'];
    if (ctl.kind === 'ReplicaSet' && hash !== undefined && ctl.name.endsWith(`-${hash}`)) {
      ownerKind = 'Deployment';
      ownerName = ctl.name.slice(0, -(hash.length + 1));
    }
  }
  return { uid: md.uid ?? '', labels, annotations: md.annotations ?? EMPTY, ownerKind, ownerName };
}

/**
 * Starts the watches. Resolves after the first list attempt (success or not), so the first
 * files opened usually already have metadata; never rejects for API problems (it does for
 * an unusable `kubernetes` setting, e.g. a malformed kubeconfig). `connection` overrides the
 * setting (tests).
 */
export async function startPodWatch(
  opts: PodWatchOptions,
  events: AgentEvents,
  onChange: () => void,
  connection?: KubeConnection,
): Promise<StartedMetadata | null> {
  const conn = connection ?? (await resolveConnection(opts.kubernetes));
  if (conn === null) return null;
  const client = createKubeClient(conn);
  const restart = (reason: 'relist' | 'resume' | 'error', err?: unknown): void => events.kubeWatchRestart(reason, err);
  const retry = {
    ...(opts.retryBaseMs === undefined ? {} : { retryBaseMs: opts.retryBaseMs }),
    ...(opts.retryMaxMs === undefined ? {} : { retryMaxMs: opts.retryMaxMs }),
  };

  const metaCache = new Map<string, { meta: PodMeta; rv: string | undefined }>();
  const byUid = new Map<string, PodMeta>();
  const graveyard = new Map<string, { meta: PodMeta; untilMs: number }>();
  const keyOf = (ns: string, name: string): string => `${ns}/${name}`;

  const upsert = (pod: PodObject): void => {
    const md = pod.metadata;
    if (md?.name === undefined || md.namespace === undefined) return;
    const k = keyOf(md.namespace, md.name);
    const meta = podMetaOf(pod);
    metaCache.set(k, { meta, rv: md.resourceVersion });
    if (meta.uid !== '') byUid.set(meta.uid, meta);
    graveyard.delete(k);
    events.metrics.podCacheSize.set(metaCache.size);
    onChange();
  };
  const remove = (pod: PodObject): void => {
    const md = pod.metadata;
    if (md?.name === undefined || md.namespace === undefined) return;
    const k = keyOf(md.namespace, md.name);
    const cur = metaCache.get(k);
    const meta = cur?.meta ?? podMetaOf(pod);
    metaCache.delete(k);
    graveyard.set(k, { meta, untilMs: Date.now() + opts.podDeleteGraceMs });
    events.metrics.podCacheSize.set(metaCache.size);
  };
  const pods = new ListWatch<PodObject>(
    client,
    { path: '/api/v1/pods', fieldSelector: `spec.nodeName=${opts.node}`, ...retry },
    { add: upsert, update: upsert, delete: remove, restart },
  );
  const namespaces = new ListWatch<NamespaceObject>(
    client,
    { path: '/api/v1/namespaces', ...retry },
    { add: () => onChange(), update: () => onChange(), delete: () => onChange(), restart },
  );

  const sweep = setInterval(
    () => {
      const t = Date.now();
      for (const [k, g] of graveyard) {
        if (g.untilMs <= t) {
          graveyard.delete(k);
          if (byUid.get(g.meta.uid) === g.meta) byUid.delete(g.meta.uid);
        }
      }
    },
    Math.max(1000, Math.min(opts.podDeleteGraceMs, 30_000)),
  );
  sweep.unref();

  let firstTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all([pods.start(), namespaces.start()]),
    new Promise<void>((resolve) => {
      firstTimer = setTimeout(resolve, 3000);
    }),
  ]);
  clearTimeout(firstTimer);

  return {
    pod(namespace: string, name: string): PodMeta | undefined {
      const k = keyOf(namespace, name);
      return metaCache.get(k)?.meta ?? graveyard.get(k)?.meta;
    },
    podByUid(uid: string): PodMeta | undefined {
      return byUid.get(uid);
    },
    namespaceAnnotations(namespace: string) {
      const ns = namespaces.get(namespace);
      return ns === undefined ? undefined : (ns.metadata?.annotations ?? EMPTY);
    },
    async stop() {
      clearInterval(sweep);
      await Promise.all([pods.stop(), namespaces.stop()]);
      await client.close();
    },
  };
}
