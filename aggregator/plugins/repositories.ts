/**
 * Service plugin: the resource stores over system indices (store/system-repository.ts) —
 * `app.tokens`, `app.collectionConfigs`, `app.heartbeats` — and `app.systemRepository()`,
 * the factory a new resource plugin uses for its own index (cluster configs, archive
 * policies, …) so it adds no wiring here.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { TSchema } from 'typebox';
import type { AggregatorConfig } from '../config.ts';
import { TokenStore } from '../auth/token-store.ts';
import { CollectionConfigStore } from '../store/collection-config-store.ts';
import { HeartbeatStore } from '../store/heartbeat-store.ts';
import { systemIndexName, type SystemIndexKey } from '../store/system-indices.ts';
import { SystemRepository, type RepositoryOptions } from '../store/system-repository.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readonly tokens: TokenStore;
    readonly collectionConfigs: CollectionConfigStore;
    readonly heartbeats: HeartbeatStore;
    /** A repository over the system index `key` of this deployment's prefix. */
    systemRepository<S extends TSchema>(key: SystemIndexKey, schema: S, opts: RepositoryOptions): SystemRepository<S>;
  }
}

export const repositoriesPlugin = fp(
  async (app: FastifyInstance, opts: { auth: AggregatorConfig['auth'] }) => {
    const prefix = app.storeLayout.indexPrefix;
    app.decorate(
      'tokens',
      new TokenStore(app.opensearch, prefix, {
        cacheMs: opts.auth.tokenCacheMs,
        negativeCacheMs: opts.auth.tokenNegativeCacheMs,
        cacheMaxEntries: opts.auth.tokenCacheMaxEntries,
        lookups: app.metrics.tokenLookups,
      }),
    );
    app.decorate('collectionConfigs', new CollectionConfigStore(app.opensearch, prefix));
    app.decorate('heartbeats', new HeartbeatStore(app.opensearch, prefix));
    app.decorate(
      'systemRepository',
      <S extends TSchema>(key: SystemIndexKey, schema: S, o: RepositoryOptions) =>
        new SystemRepository(app.opensearch, systemIndexName(prefix, key), schema, {
          onInvalid: (id, problems) =>
            app.log.warn(
              { index: systemIndexName(prefix, key), id, problems },
              'skipped a stored document that does not match its schema',
            ),
          ...o,
        }),
    );
  },
  { name: PluginNames.repositories, fastify: '5.x', dependencies: [PluginNames.opensearch, PluginNames.metrics] },
);
