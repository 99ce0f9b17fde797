/**
 * LiveClusterView over the Kubernetes API with @kubernetes/client-node: per configured
 * cluster (a kubeconfig file, or a KubeConfig for tests) one informer of pods and one of
 * namespaces (resource-informer.ts: list + watch cache). A discovery request reads the
 * caches; the API sees one LIST per resource per cluster and then watches, not a listing
 * of every pod of the cluster per request.
 *
 * The informers start on the first request. A request waits at most `requestTimeoutMs`
 * for a cluster's cache to be connected (first sync, or a watch being re-established);
 * past it, or when listing failed, the caller gets a LiveViewError and answers from the
 * index with the cluster flagged `connected: false` (as before the cache existed). Each
 * LIST page is aborted after `requestTimeoutMs` too.
 */
import { CoreV1Api, KubeConfig, Observable, type RequestContext, type ResponseContext, type V1Namespace, type V1Pod } from '@kubernetes/client-node';
import { LiveViewError, type LiveClusterView, type LivePod } from './live-cluster-view.ts';
import { ResourceInformer, type InformerLogger } from './resource-informer.ts';

export interface KubeClusterSource {
  cluster: string;
  /** Path of a kubeconfig file (its current context is used)… */
  kubeconfigPath?: string;
  /** …or a ready KubeConfig. */
  kubeConfig?: KubeConfig;
}

interface ClusterCaches {
  pods: ResourceInformer<V1Pod>;
  namespaces: ResourceInformer<V1Namespace>;
}

/**
 * Makes the generated client pass `signal` to its fetch, so a hung LIST is really aborted.
 * The object-parameter API hands options to the observable layer, hence an Observable.
 */
export function withSignal(signal: AbortSignal) {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          return new Observable(Promise.resolve(ctx));
        },
        post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
      },
    ],
    middlewareMergeStrategy: 'append' as const,
  };
}

export class KubeClusterView implements LiveClusterView {
  readonly #caches = new Map<string, ClusterCaches>();
  readonly #timeoutMs: number;

  constructor(sources: readonly KubeClusterSource[], opts: { requestTimeoutMs: number; log?: InformerLogger }) {
    this.#timeoutMs = opts.requestTimeoutMs;
    for (const s of sources) {
      let kc = s.kubeConfig;
      if (!kc) {
        if (!s.kubeconfigPath) throw new Error(`cluster ${s.cluster}: kubeconfig path or KubeConfig required`);
        kc = new KubeConfig();
        kc.loadFromFile(s.kubeconfigPath);
      }
      const api = kc.makeApiClient(CoreV1Api);
      const informerOpts = { listTimeoutMs: opts.requestTimeoutMs, ...(opts.log ? { log: opts.log } : {}) };
      this.#caches.set(s.cluster, {
        pods: new ResourceInformer<V1Pod>(
          kc,
          '/api/v1/pods',
          ({ limit, continue: cont, signal }) => api.listPodForAllNamespaces({ limit, ...(cont ? { _continue: cont } : {}) }, withSignal(signal)),
          { ...informerOpts, label: `${s.cluster}/pods` },
        ),
        namespaces: new ResourceInformer<V1Namespace>(
          kc,
          '/api/v1/namespaces',
          ({ limit, continue: cont, signal }) => api.listNamespace({ limit, ...(cont ? { _continue: cont } : {}) }, withSignal(signal)),
          { ...informerOpts, label: `${s.cluster}/namespaces` },
        ),
      });
    }
  }

  clusters(): readonly string[] {
    return [...this.#caches.keys()];
  }

  async listNamespaces(cluster: string): Promise<string[]> {
    const informer = await this.#connected(cluster, 'namespaces');
    const names: string[] = [];
    for (const ns of informer.list()) if (ns.metadata?.name) names.push(ns.metadata.name);
    return names.sort(compare);
  }

  async listPods(cluster: string, namespace: string | undefined): Promise<LivePod[]> {
    const informer = await this.#connected(cluster, 'pods');
    const pods: LivePod[] = [];
    for (const pod of informer.list(namespace)) {
      const live = toLivePod(pod);
      if (live) pods.push(live);
    }
    return pods.sort((a, b) => compare(a.namespace, b.namespace) || compare(a.name, b.name));
  }

  /** Complete LISTs per cluster and resource since start, for tests and diagnostics. */
  listCount(cluster: string, resource: 'pods' | 'namespaces'): number {
    return this.#caches.get(cluster)?.[resource].lists ?? 0;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#caches.values()].flatMap((c) => [c.pods.stop(), c.namespaces.stop()]));
  }

  async #connected<K extends keyof ClusterCaches>(cluster: string, resource: K): Promise<ClusterCaches[K]> {
    const caches = this.#caches.get(cluster);
    if (!caches) throw new LiveViewError(cluster, 'not connected');
    const informer = caches[resource];
    if (!(await informer.waitConnected(this.#timeoutMs))) {
      throw new LiveViewError(cluster, `${resource}: no current list/watch within ${this.#timeoutMs} ms`);
    }
    return informer;
  }
}

/** Pure: the fields discovery needs from a V1Pod; undefined when it has no name. */
export function toLivePod(pod: V1Pod): LivePod | undefined {
  const name = pod.metadata?.name;
  const namespace = pod.metadata?.namespace;
  if (!name || !namespace) return undefined;
  const containers = [
    ...(pod.spec?.initContainers ?? []),
    ...(pod.spec?.containers ?? []),
    ...(pod.spec?.ephemeralContainers ?? []),
  ].map((c) => c.name);
  return { namespace, name, phase: pod.status?.phase ?? 'Unknown', node: pod.spec?.nodeName || undefined, containers };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
