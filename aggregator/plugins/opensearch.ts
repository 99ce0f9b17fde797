/**
 * Service plugin: the OpenSearch client (`app.opensearch`) and the store layout
 * (`app.storeLayout`). An injected client is the caller's to close; one built here is
 * closed with the app.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { AggregatorConfig } from '../config.ts';
import { createOpenSearchClient, type OpenSearch } from '../store/opensearch.ts';
import type { StoreLayout } from '../store/bootstrap.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readonly opensearch: OpenSearch;
    /** Index prefix, shards and replicas of the log indices. */
    readonly storeLayout: StoreLayout;
  }
}

export interface OpenSearchPluginOptions {
  config: AggregatorConfig['opensearch'];
  /** A client to use instead of building one (tests); not closed by the app. */
  client?: OpenSearch | undefined;
}

export const openSearchPlugin = fp(
  async (app: FastifyInstance, opts: OpenSearchPluginOptions) => {
    const client = opts.client ?? createOpenSearchClient(opts.config);
    app.decorate('opensearch', client);
    app.decorate('storeLayout', {
      indexPrefix: opts.config.indexPrefix,
      shards: opts.config.shards,
      replicas: opts.config.replicas,
    });
    if (!opts.client) app.addHook('onClose', async () => client.close());
  },
  { name: PluginNames.opensearch, fastify: '5.x' },
);
