/**
 * The Kubernetes API calls of collect jobs, for one cluster: `pods/log` (streamed), pod
 * GET/LIST/WATCH and namespace GET. The small interface (CollectKube) is what the jobs use;
 * tests and the benchmark run it against the real kube-apiserver.
 *
 * `pods/log` is requested with undici (the client-node `Log` helper loses the API server's
 * error message and takes no AbortSignal); the credentials and TLS settings come from the
 * cluster's KubeConfig once, and the one dispatcher is shared by every stream of the
 * cluster (keep-alive). A non-200 answer throws a PodLogError with the API server's
 * message and status; a transport failure throws one with status 0.
 */
import {
  CoreV1Api,
  HttpMethod,
  RequestContext,
  Watch,
  type KubeConfig,
  type V1Pod,
  type V1PodList,
} from '@kubernetes/client-node';
import { fetch, type Dispatcher } from 'undici';
import { withSignal } from '../cluster/kube-cluster-view.ts';
import { toCollectPod, type CollectPod } from './collect-pod.ts';

export interface PodLogQuery {
  follow: boolean;
  previous?: boolean;
  sinceTime?: string;
  tailLines?: number;
  limitBytes?: number;
}

export class PodLogError extends Error {
  override readonly name = 'PodLogError';
  /** HTTP status of the API server's answer; 0 when there was none. */
  readonly status: number;
  constructor(status: number, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts);
    this.status = status;
  }
}

export type PodEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; pod: CollectPod };

export interface CollectKube {
  /** The log body as chunks; ends when the API server ends it (or throws PodLogError). */
  podLog(
    namespace: string,
    pod: string,
    container: string,
    q: PodLogQuery,
    signal: AbortSignal,
  ): Promise<AsyncIterable<Uint8Array>>;
  /** Undefined when the pod does not exist. */
  getPod(namespace: string, name: string, signal: AbortSignal): Promise<CollectPod | undefined>;
  /** Pods of a namespace (null: every namespace) matching `selector`, and the list's resourceVersion. */
  listPods(
    namespace: string | null,
    selector: string | null,
    signal: AbortSignal,
  ): Promise<{ pods: CollectPod[]; resourceVersion: string }>;
  /** Watches pods from `resourceVersion`; `done` once it ends (error or not). Returns a stopper. */
  watchPods(
    namespace: string,
    selector: string | null,
    resourceVersion: string,
    onEvent: (e: PodEvent) => void,
    done: (err: unknown) => void,
  ): Promise<() => void>;
  /** Annotations of the namespace; undefined when it does not exist. */
  namespaceAnnotations(namespace: string, signal: AbortSignal): Promise<Record<string, string> | undefined>;
  close(): Promise<void>;
}

function status(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export class KubeCollectClient implements CollectKube {
  readonly #kc: KubeConfig;
  readonly #api: CoreV1Api;
  #auth: Promise<{ headers: Record<string, string>; dispatcher: Dispatcher | undefined }> | undefined;

  constructor(kc: KubeConfig) {
    this.#kc = kc;
    this.#api = kc.makeApiClient(CoreV1Api);
  }

  #server(): string {
    const cluster = this.#kc.getCurrentCluster();
    if (!cluster) throw new PodLogError(0, 'the cluster connection has no server');
    return cluster.server.replace(/\/$/, '');
  }

  async podLog(namespace: string, pod: string, container: string, q: PodLogQuery, signal: AbortSignal) {
    const url = new URL(
      `${this.#server()}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`,
    );
    url.searchParams.set('container', container);
    url.searchParams.set('timestamps', 'true');
    if (q.follow) url.searchParams.set('follow', 'true');
    if (q.previous) url.searchParams.set('previous', 'true');
    if (q.sinceTime !== undefined) url.searchParams.set('sinceTime', q.sinceTime);
    if (q.tailLines !== undefined) url.searchParams.set('tailLines', String(q.tailLines));
    if (q.limitBytes !== undefined) url.searchParams.set('limitBytes', String(q.limitBytes));
    this.#auth ??= (async () => {
      const ctx = new RequestContext(url.toString(), HttpMethod.GET);
      await this.#kc.applySecurityAuthentication(ctx);
      return { headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher() as Dispatcher | undefined };
    })();
    const auth = await this.#auth;
    let res;
    try {
      res = await fetch(url, {
        headers: auth.headers,
        signal,
        ...(auth.dispatcher ? { dispatcher: auth.dispatcher } : {}),
      });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new PodLogError(0, `pods/log request failed: ${(err as Error).message}`, { cause: err });
    }
    if (res.status !== 200 || !res.body) {
      const text = await res.text().catch(() => '');
      let message = text.slice(0, 500);
      try {
        message = String((JSON.parse(text) as { message?: unknown }).message ?? message).slice(0, 500);
      } catch {
        // not a Status object: keep the text
      }
      throw new PodLogError(res.status, message || `pods/log answered HTTP ${res.status}`);
    }
    return res.body as AsyncIterable<Uint8Array>;
  }

  async getPod(namespace: string, name: string, signal: AbortSignal) {
    try {
      const pod = await this.#api.readNamespacedPod({ namespace, name }, withSignal(signal));
      return toCollectPod(pod);
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
  }

  async listPods(namespace: string | null, selector: string | null, signal: AbortSignal) {
    const pods: CollectPod[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page: V1PodList =
        namespace === null
          ? await this.#api.listPodForAllNamespaces(
              { limit: 500, ...(selector ? { labelSelector: selector } : {}), ...(cont ? { _continue: cont } : {}) },
              withSignal(signal),
            )
          : await this.#api.listNamespacedPod(
              {
                namespace,
                limit: 500,
                ...(selector ? { labelSelector: selector } : {}),
                ...(cont ? { _continue: cont } : {}),
              },
              withSignal(signal),
            );
      for (const p of page.items) {
        const c = toCollectPod(p);
        if (c) pods.push(c);
      }
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = page.metadata?._continue || undefined;
    } while (cont);
    return { pods, resourceVersion };
  }

  async watchPods(
    namespace: string,
    selector: string | null,
    resourceVersion: string,
    onEvent: (e: PodEvent) => void,
    done: (err: unknown) => void,
  ) {
    const ctl = await new Watch(this.#kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { resourceVersion, allowWatchBookmarks: true, ...(selector ? { labelSelector: selector } : {}) },
      (type: string, obj: V1Pod) => {
        if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
        const pod = toCollectPod(obj);
        if (pod) onEvent({ type, pod });
      },
      done,
    );
    return () => ctl.abort();
  }

  async namespaceAnnotations(namespace: string, signal: AbortSignal) {
    try {
      const ns = await this.#api.readNamespace({ name: namespace }, withSignal(signal));
      return { ...(ns.metadata?.annotations ?? {}) };
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    const auth = await this.#auth?.catch(() => undefined);
    // destroy, not close: close would wait for open follow streams, which never end by themselves.
    await auth?.dispatcher?.destroy().catch(() => {});
  }
}
