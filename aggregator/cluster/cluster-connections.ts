/**
 * The live view of every cluster the aggregator can reach (`app.liveClusters`): those of the
 * static config (K8S_LOGS_KUBECONFIG) and the registered ones, whose connections are added,
 * changed and removed at runtime (cluster-registry.ts drives that). Each registered cluster
 * has its own KubeClusterView (informers), so replacing or removing one stops only its
 * watches. A registered cluster shadows a static one of the same id.
 *
 * It also probes connections for `/clusters/status`: GET /version (the Kubernetes version,
 * public on most API servers) and one authenticated LIST of namespaces (`limit=1`), so a
 * wrong token shows up as `unauthorized` rather than a healthy-looking version answer. Each
 * probe call is aborted after `requestTimeoutMs`; results are cached for `probeMaxAgeMs`
 * and concurrent probes of one cluster share one.
 */
import { CoreV1Api, VersionApi, type KubeConfig } from '@kubernetes/client-node';
import { KubeClusterView, withSignal } from './kube-cluster-view.ts';
import { LiveViewError, type LiveClusterView, type LivePod } from './live-cluster-view.ts';
import type { InformerLogger } from './resource-informer.ts';
import type { ConnectionState } from './connection-state.ts';

interface Registered {
  view: KubeClusterView | undefined;
  kc: KubeConfig | undefined;
  /** Changes when the registration's connection settings change. */
  fingerprint: string;
  /** Set instead of a connection when the registration cannot be used (e.g. undecryptable credentials). */
  brokenReason: string | undefined;
  probe: { at: number; state: ConnectionState } | undefined;
  probing: Promise<ConnectionState> | undefined;
}

export interface ClusterConnectionsOptions {
  requestTimeoutMs: number;
  /** How long a probe result is reused, ms. Default 5000. */
  probeMaxAgeMs?: number;
  log?: InformerLogger;
  now?: () => number;
}

export class ClusterConnections implements LiveClusterView {
  readonly #static: LiveClusterView;
  readonly #registered = new Map<string, Registered>();
  readonly #o: Required<Omit<ClusterConnectionsOptions, 'log'>> & Pick<ClusterConnectionsOptions, 'log'>;

  constructor(staticView: LiveClusterView, opts: ClusterConnectionsOptions) {
    this.#static = staticView;
    this.#o = { probeMaxAgeMs: 5000, now: Date.now, ...opts };
  }

  clusters(): readonly string[] {
    const ids = new Set(this.#static.clusters());
    for (const id of this.#registered.keys()) ids.add(id);
    return [...ids].sort();
  }

  /** Registered clusters with a connection entry (connected or broken). */
  registeredIds(): string[] {
    return [...this.#registered.keys()];
  }

  /**
   * The connection of a registered cluster for callers of their own (collect jobs): its
   * KubeConfig (holds the secrets: never log it), why it is unusable, or undefined when
   * `id` has no registered connection here.
   */
  connection(id: string): { kc: KubeConfig } | { broken: string } | undefined {
    const r = this.#registered.get(id);
    if (!r) return undefined;
    return r.kc ? { kc: r.kc } : { broken: r.brokenReason ?? 'not connected' };
  }

  fingerprint(id: string): string | undefined {
    return this.#registered.get(id)?.fingerprint;
  }

  isStatic(id: string): boolean {
    return this.#static.clusters().includes(id);
  }

  listNamespaces(cluster: string): Promise<string[]> {
    const r = this.#registered.get(cluster);
    if (r)
      return r.view
        ? r.view.listNamespaces(cluster)
        : Promise.reject(new LiveViewError(cluster, r.brokenReason ?? 'not connected'));
    return this.#static.listNamespaces(cluster);
  }

  listPods(cluster: string, namespace: string | undefined): Promise<LivePod[]> {
    const r = this.#registered.get(cluster);
    if (r)
      return r.view
        ? r.view.listPods(cluster, namespace)
        : Promise.reject(new LiveViewError(cluster, r.brokenReason ?? 'not connected'));
    return this.#static.listPods(cluster, namespace);
  }

  /**
   * Connects `id` through `kc` (or records why it cannot: `broken`), replacing its previous
   * connection unless `fingerprint` is unchanged. Returns what happened.
   */
  async set(
    id: string,
    fingerprint: string,
    target: { kc: KubeConfig } | { broken: string },
  ): Promise<'unchanged' | 'connected' | 'reconnected'> {
    const old = this.#registered.get(id);
    if (old && old.fingerprint === fingerprint) return 'unchanged';
    await this.#stop(old);
    const kc = 'kc' in target ? target.kc : undefined;
    this.#registered.set(id, {
      kc,
      view: kc ? this.#newView(id, kc) : undefined,
      fingerprint,
      brokenReason: 'broken' in target ? target.broken : undefined,
      probe: undefined,
      probing: undefined,
    });
    return old ? 'reconnected' : 'connected';
  }

  /** Stops and forgets the registered connection of `id`; false when there was none. */
  async remove(id: string): Promise<boolean> {
    const old = this.#registered.get(id);
    if (!old) return false;
    this.#registered.delete(id);
    await this.#stop(old);
    return true;
  }

  /** Drops the informers of `id` and starts fresh ones (new LIST + watch), and forgets its probe. */
  async reconnect(id: string): Promise<boolean> {
    const r = this.#registered.get(id);
    if (!r) return false;
    await r.view?.close();
    r.view = r.kc ? this.#newView(id, r.kc) : undefined;
    r.probe = undefined;
    return true;
  }

  /**
   * The connection state of a registered cluster (undefined when it has none here), probed
   * unless a result younger than `probeMaxAgeMs` exists (`fresh` forces a probe).
   */
  async probe(id: string, fresh = false): Promise<ConnectionState | undefined> {
    const r = this.#registered.get(id);
    if (!r) return undefined;
    const now = this.#o.now();
    if (!fresh && r.probe && now - r.probe.at < this.#o.probeMaxAgeMs) return r.probe.state;
    if (r.probing) return r.probing;
    const probing = this.#probe(r).then((state) => {
      if (this.#registered.get(id) === r) r.probe = { at: this.#o.now(), state };
      return state;
    });
    r.probing = probing.finally(() => {
      r.probing = undefined;
    });
    return probing;
  }

  async close(): Promise<void> {
    const all = [...this.#registered.values()];
    this.#registered.clear();
    await Promise.all([...all.map((r) => this.#stop(r)), this.#static.close?.()]);
  }

  #newView(id: string, kc: KubeConfig): KubeClusterView {
    return new KubeClusterView([{ cluster: id, kubeConfig: kc }], {
      requestTimeoutMs: this.#o.requestTimeoutMs,
      ...(this.#o.log ? { log: this.#o.log } : {}),
    });
  }

  async #stop(r: Registered | undefined): Promise<void> {
    await r?.view?.close();
  }

  async #probe(r: Registered): Promise<ConnectionState> {
    const checked_at = new Date(this.#o.now()).toISOString();
    if (!r.kc) {
      return {
        state: 'error',
        reachable: false,
        kubernetes_version: null,
        latency_ms: null,
        last_error: r.brokenReason ?? 'no connection',
        checked_at,
      };
    }
    const timeoutMs = this.#o.requestTimeoutMs;
    const call = async <T>(f: (signal: AbortSignal) => Promise<T>): Promise<T> => {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), timeoutMs);
      try {
        return await f(ctl.signal);
      } finally {
        clearTimeout(timer);
      }
    };
    let version: string | null = null;
    try {
      const v = await call((signal) => r.kc!.makeApiClient(VersionApi).getCode(withSignal(signal)));
      version = v.gitVersion ?? null;
    } catch {
      // Some servers protect /version: the authenticated probe below decides.
    }
    const start = performance.now();
    try {
      await call((signal) => r.kc!.makeApiClient(CoreV1Api).listNamespace({ limit: 1 }, withSignal(signal)));
      return {
        state: 'connected',
        reachable: true,
        kubernetes_version: version,
        latency_ms: Math.round(performance.now() - start),
        last_error: null,
        checked_at,
      };
    } catch (err) {
      const status = httpStatus(err);
      const latency = status === undefined ? null : Math.round(performance.now() - start);
      if (status === 401 || status === 403) {
        return {
          state: 'unauthorized',
          reachable: true,
          kubernetes_version: version,
          latency_ms: latency,
          last_error: `API server refused the credentials (HTTP ${status})`,
          checked_at,
        };
      }
      if (status !== undefined) {
        return {
          state: 'error',
          reachable: true,
          kubernetes_version: version,
          latency_ms: latency,
          last_error: `listing namespaces answered HTTP ${status}`,
          checked_at,
        };
      }
      return {
        state: 'unreachable',
        reachable: false,
        kubernetes_version: version,
        latency_ms: null,
        last_error: describe(err, timeoutMs),
        checked_at,
      };
    }
  }
}

/** The HTTP status of a client-node ApiException, if it got one. */
function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

/** A short, credential-free reason for a failed request. */
function describe(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  if (e?.name === 'AbortError' || /abort/i.test(e?.message ?? '')) return `no answer within ${timeoutMs} ms`;
  const code = e?.cause?.code ?? (e as { code?: string } | null)?.code;
  if (typeof code === 'string') return `cannot reach the API server (${code})`;
  return `cannot reach the API server: ${(e?.cause?.message ?? e?.message ?? 'unknown error').slice(0, 200)}`;
}
