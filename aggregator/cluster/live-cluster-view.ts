/**
 * What a connected cluster says exists right now, for the discovery endpoints
 * (`/namespaces`, `/pods`, `/containers`), which merge it with what the log index has seen.
 *
 * The interface is declared here, by its user; kube-cluster-view.ts implements it over
 * @kubernetes/client-node. Implementations must be safe to call concurrently and must not
 * hang: a cluster that does not answer in time is reported as unreachable, and the caller
 * answers from the index alone.
 */

export interface LivePod {
  namespace: string;
  name: string;
  /** `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`. */
  phase: string;
  node: string | undefined;
  /** Init containers first, then app containers, in spec order; ephemeral containers last. */
  containers: string[];
}

export interface LiveClusterView {
  /** Cluster ids this view can answer for (configured, whether reachable or not). */
  clusters(): readonly string[];
  /** Namespace names, sorted. Throws LiveViewError when the cluster cannot be listed. */
  listNamespaces(cluster: string): Promise<string[]>;
  /** Pods of one namespace, or of all namespaces when `namespace` is undefined; sorted by namespace, name. */
  listPods(cluster: string, namespace: string | undefined): Promise<LivePod[]>;
  /** Stops background work (watches); the app calls it on close for a view it built. */
  close?(): Promise<void>;
}

export class LiveViewError extends Error {
  override readonly name = 'LiveViewError';
  readonly cluster: string;
  constructor(cluster: string, message: string, options?: { cause?: unknown }) {
    super(`cluster ${cluster}: ${message}`, options);
    this.cluster = cluster;
  }
}

/** A view of no clusters: what the aggregator uses when none is configured. */
export const NO_LIVE_VIEW: LiveClusterView = {
  clusters: () => [],
  listNamespaces: (cluster) => Promise.reject(new LiveViewError(cluster, 'not connected')),
  listPods: (cluster) => Promise.reject(new LiveViewError(cluster, 'not connected')),
};
