/**
 * Service plugin: connections to the clusters' Kubernetes APIs — the live view used by
 * discovery (`app.liveClusters`). Built from `config.kube` unless one is injected; one built
 * here is closed with the app.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { AggregatorConfig } from '../config.ts';
import { NO_LIVE_VIEW, type LiveClusterView } from '../cluster/live-cluster-view.ts';
import { KubeClusterView } from '../cluster/kube-cluster-view.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readonly liveClusters: LiveClusterView;
  }
}

export interface ClustersPluginOptions {
  kube: AggregatorConfig['kube'];
  view?: LiveClusterView | undefined;
}

export const clustersPlugin = fp(
  async (app: FastifyInstance, opts: ClustersPluginOptions) => {
    const view =
      opts.view ??
      (opts.kube.clusters.length > 0
        ? new KubeClusterView(opts.kube.clusters, { requestTimeoutMs: opts.kube.requestTimeoutMs, log: app.log })
        : NO_LIVE_VIEW);
    app.decorate('liveClusters', view);
    if (!opts.view) app.addHook('onClose', async () => view.close?.());
  },
  { name: PluginNames.clusters, fastify: '5.x' },
);
