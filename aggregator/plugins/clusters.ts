/**
 * Service plugin: connections to the clusters' Kubernetes APIs — the live view used by
 * discovery (`app.liveClusters`) — and the registered clusters (`app.clusterRegistry`,
 * the `clusters` system index) whose connections it follows at runtime. The static view is
 * built from `config.kube` unless one is injected; one built here is closed with the app.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { AggregatorConfig } from '../config.ts';
import { NO_LIVE_VIEW, type LiveClusterView } from '../cluster/live-cluster-view.ts';
import { KubeClusterView } from '../cluster/kube-cluster-view.ts';
import { ClusterConnections } from '../cluster/cluster-connections.ts';
import { ClusterRegistry } from '../cluster/cluster-registry.ts';
import { ClusterDocSchema } from '../cluster/cluster-registration.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readonly liveClusters: LiveClusterView;
    readonly clusterRegistry: ClusterRegistry;
  }
}

export interface ClustersPluginOptions {
  kube: AggregatorConfig['kube'];
  view?: LiveClusterView | undefined;
}

export const clustersPlugin = fp(
  async (app: FastifyInstance, opts: ClustersPluginOptions) => {
    const built =
      opts.kube.clusters.length > 0
        ? new KubeClusterView(opts.kube.clusters, { requestTimeoutMs: opts.kube.requestTimeoutMs, log: app.log })
        : NO_LIVE_VIEW;
    // An injected view belongs to its caller: the connections never close it.
    const staticView: LiveClusterView = opts.view
      ? {
          clusters: () => opts.view!.clusters(),
          listNamespaces: (c) => opts.view!.listNamespaces(c),
          listPods: (c, n) => opts.view!.listPods(c, n),
        }
      : built;
    const connections = new ClusterConnections(staticView, {
      requestTimeoutMs: opts.kube.requestTimeoutMs,
      log: app.log,
    });
    const repo = app.systemRepository('clusters', ClusterDocSchema, {
      resource: 'cluster',
      sortField: 'id',
      tiebreakField: 'id',
    });
    const registry = new ClusterRegistry(repo, connections, opts.kube.credentialsKey, app.log);
    app.decorate('liveClusters', connections);
    app.decorate('clusterRegistry', registry);
    registry.start(opts.kube.syncIntervalMs);
    app.addHook('onClose', async () => registry.close());
  },
  { name: PluginNames.clusters, fastify: '5.x', dependencies: [PluginNames.repositories] },
);
