/**
 * Which Kubernetes API a collect job talks to: a registered cluster's connection
 * (cluster-connections.ts) or one of the static config (K8S_LOGS_KUBECONFIG). One
 * KubeCollectClient per cluster, replaced when the registration's connection changes.
 *
 * Refusals: unknown cluster → 404; a cluster without an API connection (registered with
 * `api: null`, or with credentials this replica cannot open) → 409 `cluster_not_connected`.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { AppError } from '../errors.ts';
import type { ClusterConnections } from '../cluster/cluster-connections.ts';
import type { ClusterRegistry } from '../cluster/cluster-registry.ts';
import { KubeCollectClient, type CollectKube } from './kube-collect-client.ts';

export class CollectClusters {
  readonly #registry: ClusterRegistry;
  readonly #connections: ClusterConnections;
  readonly #static: ReadonlyArray<{ cluster: string; kubeconfigPath: string }>;
  readonly #clients = new Map<string, { kc: KubeConfig; client: KubeCollectClient }>();

  constructor(
    registry: ClusterRegistry,
    connections: ClusterConnections,
    staticClusters: ReadonlyArray<{ cluster: string; kubeconfigPath: string }>,
  ) {
    this.#registry = registry;
    this.#connections = connections;
    this.#static = staticClusters;
  }

  async kube(cluster: string): Promise<CollectKube> {
    const kc = await this.#kubeConfig(cluster);
    const have = this.#clients.get(cluster);
    if (have && have.kc === kc) return have.client;
    void have?.client.close();
    const client = new KubeCollectClient(kc);
    this.#clients.set(cluster, { kc, client });
    return client;
  }

  async #kubeConfig(cluster: string): Promise<KubeConfig> {
    const stored = await this.#registry.get(cluster);
    if (stored) {
      if (!stored.doc.api)
        throw new AppError(
          'AGG_ERR_CLUSTER_NOT_CONNECTED',
          `cluster "${cluster}" is registered without a Kubernetes API connection`,
        );
      let conn = this.#connections.connection(cluster);
      if (!conn) {
        await this.#registry.apply(stored);
        conn = this.#connections.connection(cluster);
      }
      if (!conn || 'broken' in conn)
        throw new AppError(
          'AGG_ERR_CLUSTER_NOT_CONNECTED',
          `cluster "${cluster}" has no usable API connection: ${conn && 'broken' in conn ? conn.broken : 'not connected'}`,
        );
      return conn.kc;
    }
    const s = this.#static.find((x) => x.cluster === cluster);
    if (!s) throw new AppError('AGG_ERR_NOT_FOUND', `cluster "${cluster}" is not registered`);
    const have = this.#clients.get(cluster);
    if (have) return have.kc;
    const kc = new KubeConfig();
    kc.loadFromFile(s.kubeconfigPath);
    return kc;
  }

  async close(): Promise<void> {
    const all = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(all.map((c) => c.client.close()));
  }
}
