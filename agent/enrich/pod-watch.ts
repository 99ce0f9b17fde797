/**
 * Pod metadata from ONE node-scoped pod watch (`spec.nodeName=<node>`) plus a namespace
 * watch (for the namespace-level exclude annotation), via @kubernetes/client-node's
 * ListWatch. Owns the pod cache, the grace period after deletion and owner resolution.
 *
 * Resilience: the ListWatch relists on 410 Expired by itself; on any other error (API down,
 * connection refused, 5xx) it stops, and this supervisor restarts it with capped exponential
 * backoff, resuming from the last resourceVersion. Until the first list succeeds, and
 * during outages, lookups answer from what is cached (or nothing): lines are never delayed.
 *
 * Deleted pods stay resolvable for `podDeleteGraceMs`, because their last lines are often
 * read after the deletion event. Owner: the controller ownerReference; a ReplicaSet created
 * by a Deployment is resolved to the Deployment by the `pod-template-hash` naming rule
 * (`<deployment>-<hash>`), which needs no extra API call or RBAC.
 *
 * Concurrency: callbacks run on the event loop; lookups are synchronous map reads.
 */
import { readFileSync } from 'node:fs';
import { CoreV1Api, KubeConfig, ListWatch, Watch, type V1Namespace, type V1Pod } from '@kubernetes/client-node';
import type { StartedMetadata } from '../agent.ts';
import type { AgentEvents } from '../telemetry/events.ts';
import type { PodMeta } from './pod-metadata.ts';

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
export function podMetaOf(pod: V1Pod): PodMeta {
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

export function kubeConfigFor(setting: string): KubeConfig | null {
  if (setting === 'off') return null;
  const kc = new KubeConfig();
  if (setting === 'auto') {
    if (process.env['KUBERNETES_SERVICE_HOST'] === undefined) return null;
    kc.loadFromCluster();
    return kc;
  }
  kc.loadFromString(readFileSync(setting, 'utf8'));
  return kc;
}

/** Restarts a ListWatch after errors (which make it stop) with capped, jittered backoff. */
class Supervised<T extends { metadata?: { name?: string; namespace?: string } }> {
  private readonly lw: ListWatch<T>;
  private readonly base: number;
  private readonly max: number;
  private readonly events: AgentEvents;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(lw: ListWatch<T>, base: number, max: number, events: AgentEvents) {
    this.lw = lw;
    this.base = base;
    this.max = max;
    this.events = events;
    lw.on('error', (err: unknown) => this.failed(err));
    let connects = 0;
    lw.on('connect', () => {
      if (++connects > 1) events.kubeWatchRestart('resume');
    });
  }

  /** One start attempt; resolves when it listed and started watching, or failed. */
  start(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.lw.start().then(
      () => {
        this.attempt = 0;
      },
      (err: unknown) => this.failed(err),
    );
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.events.kubeWatchRestart('error', err);
    this.attempt++;
    const exp = Math.min(this.max, this.base * 2 ** Math.min(this.attempt - 1, 20));
    const delayMs = exp / 2 + (exp / 2) * Math.random();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.start();
    }, delayMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.lw.stop();
  }
}

/**
 * Starts the watches. Resolves after the first list attempt (success or not), so the first
 * files opened usually already have metadata; never rejects for API problems.
 */
export async function startPodWatch(
  opts: PodWatchOptions,
  events: AgentEvents,
  onChange: () => void,
  kubeConfig?: KubeConfig,
): Promise<StartedMetadata | null> {
  const kc = kubeConfig ?? kubeConfigFor(opts.kubernetes);
  if (kc === null) return null;
  const core = kc.makeApiClient(CoreV1Api);
  const watch = new Watch(kc);
  const fieldSelector = `spec.nodeName=${opts.node}`;
  // Every list after the first is a relist (410 Expired, or resuming after an error).
  let podLists = 0;
  const pods = new ListWatch<V1Pod>(
    '/api/v1/pods',
    watch,
    () => {
      if (++podLists > 1) events.kubeWatchRestart('relist');
      return core.listPodForAllNamespaces({ fieldSelector });
    },
    false,
    undefined,
    fieldSelector,
  );
  const namespaces = new ListWatch<V1Namespace>('/api/v1/namespaces', watch, () => core.listNamespace(), false);

  const metaCache = new Map<string, { meta: PodMeta; rv: string | undefined }>();
  const byUid = new Map<string, PodMeta>();
  const graveyard = new Map<string, { meta: PodMeta; untilMs: number }>();
  const keyOf = (ns: string, name: string): string => `${ns}/${name}`;

  const upsert = (pod: V1Pod): void => {
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
  const remove = (pod: V1Pod): void => {
    const md = pod.metadata;
    if (md?.name === undefined || md.namespace === undefined) return;
    const k = keyOf(md.namespace, md.name);
    const cur = metaCache.get(k);
    const meta = cur?.meta ?? podMetaOf(pod);
    metaCache.delete(k);
    graveyard.set(k, { meta, untilMs: Date.now() + opts.podDeleteGraceMs });
    events.metrics.podCacheSize.set(metaCache.size);
  };
  pods.on('add', upsert);
  pods.on('update', upsert);
  pods.on('delete', remove);
  namespaces.on('change', () => onChange());

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

  const base = opts.retryBaseMs ?? 500;
  const max = opts.retryMaxMs ?? 30_000;
  const sp = new Supervised(pods, base, max, events);
  const sn = new Supervised(namespaces, base, max, events);
  let firstTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all([sp.start(), sn.start()]),
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
      await Promise.all([sp.stop(), sn.stop()]);
    },
  };
}
