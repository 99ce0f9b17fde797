/**
 * LiveClusterView over the Kubernetes API with @kubernetes/client-node: one CoreV1Api per
 * configured cluster, built from a kubeconfig file (or a KubeConfig, for tests).
 *
 * Lists are paged (`limit` + `continue`) so a large cluster is read in bounded responses,
 * and every call is bounded by `requestTimeoutMs`: past it the caller gets a LiveViewError
 * and answers from the index (the underlying request is abandoned, not awaited).
 * Concurrency-safe: no state besides the immutable client map.
 */
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { LiveViewError, type LiveClusterView, type LivePod } from './live-cluster-view.ts';

const PAGE_SIZE = 500;

export interface KubeClusterSource {
  cluster: string;
  /** Path of a kubeconfig file (its current context is used)… */
  kubeconfigPath?: string;
  /** …or a ready KubeConfig. */
  kubeConfig?: KubeConfig;
}

export class KubeClusterView implements LiveClusterView {
  readonly #apis = new Map<string, CoreV1Api>();
  readonly #timeoutMs: number;

  constructor(sources: readonly KubeClusterSource[], opts: { requestTimeoutMs: number }) {
    this.#timeoutMs = opts.requestTimeoutMs;
    for (const s of sources) {
      let kc = s.kubeConfig;
      if (!kc) {
        if (!s.kubeconfigPath) throw new Error(`cluster ${s.cluster}: kubeconfig path or KubeConfig required`);
        kc = new KubeConfig();
        kc.loadFromFile(s.kubeconfigPath);
      }
      this.#apis.set(s.cluster, kc.makeApiClient(CoreV1Api));
    }
  }

  clusters(): readonly string[] {
    return [...this.#apis.keys()];
  }

  async listNamespaces(cluster: string): Promise<string[]> {
    const api = this.#api(cluster);
    const names: string[] = [];
    await this.#bounded(cluster, async () => {
      let cont: string | undefined;
      do {
        const page = await api.listNamespace({ limit: PAGE_SIZE, ...(cont ? { _continue: cont } : {}) });
        for (const ns of page.items) if (ns.metadata?.name) names.push(ns.metadata.name);
        cont = page.metadata?._continue || undefined;
      } while (cont);
    });
    return names.sort(compare);
  }

  async listPods(cluster: string, namespace: string | undefined): Promise<LivePod[]> {
    const api = this.#api(cluster);
    const pods: LivePod[] = [];
    await this.#bounded(cluster, async () => {
      let cont: string | undefined;
      do {
        const paging = { limit: PAGE_SIZE, ...(cont ? { _continue: cont } : {}) };
        const page = namespace === undefined
          ? await api.listPodForAllNamespaces(paging)
          : await api.listNamespacedPod({ namespace, ...paging });
        for (const pod of page.items) {
          const live = toLivePod(pod);
          if (live) pods.push(live);
        }
        cont = page.metadata?._continue || undefined;
      } while (cont);
    });
    return pods.sort((a, b) => compare(a.namespace, b.namespace) || compare(a.name, b.name));
  }

  #api(cluster: string): CoreV1Api {
    const api = this.#apis.get(cluster);
    if (!api) throw new LiveViewError(cluster, 'not connected');
    return api;
  }

  async #bounded(cluster: string, work: () => Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LiveViewError(cluster, `no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    });
    try {
      await Promise.race([work(), timeout]);
    } catch (err) {
      if (err instanceof LiveViewError) throw err;
      throw new LiveViewError(cluster, 'Kubernetes API request failed', { cause: err });
    } finally {
      clearTimeout(timer);
    }
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
