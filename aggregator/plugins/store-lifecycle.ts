/**
 * Service plugin: preparing the store (`app.prepareStore()`: templates, system indices,
 * migration of older system documents, bootstrap admin token, configured agents' ingest token), which `server.ts` retries until OpenSearch answers, and
 * `app.storeReady()` for `/readyz`. Until the store is prepared every non-public route
 * answers 503 with Retry-After.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';
import { bootstrapStore, storeIsReady } from '../store/bootstrap.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Creates templates and system indices; returns a generated admin token on first start. */
    prepareStore(): Promise<{ generatedAdminToken: string | undefined }>;
    /** Prepared, OpenSearch reachable and the log template installed. */
    storeReady(): Promise<boolean>;
  }
}

export const storeLifecyclePlugin = fp(
  async (
    app: FastifyInstance,
    opts: { adminToken: string | undefined; bootstrapIngest?: { token: string; cluster: string } | undefined },
  ) => {
    let prepared = false;
    app.decorate('prepareStore', async () => {
      await bootstrapStore(app.opensearch, app.storeLayout);
      const configs = await app.collectionConfigs.migrateV1();
      if (configs.migrated > 0)
        app.log.info({ clusters: configs.migrated }, 'migrated collection configs of version 1');
      if (configs.unreadable.length > 0)
        app.log.warn({ ids: configs.unreadable }, 'left collection configs of version 1 that this version cannot hold');
      const generatedAdminToken = await app.tokens.bootstrapAdmin(opts.adminToken);
      if (opts.bootstrapIngest) {
        await app.tokens.bootstrapIngest(opts.bootstrapIngest.token, opts.bootstrapIngest.cluster);
        app.log.info({ cluster: opts.bootstrapIngest.cluster }, "registered the configured agents' ingest token");
      }
      prepared = true;
      return { generatedAdminToken };
    });
    app.decorate('storeReady', async () => prepared && (await storeIsReady(app.opensearch, app.storeLayout)));
    app.addHook('onRequest', async (request) => {
      if (!prepared && request.routeOptions.config?.auth !== 'public' && !request.is404) {
        throw new AppError('AGG_ERR_STORE_UNAVAILABLE', 'starting: the log store is not ready yet', {
          retryAfterSeconds: 2,
        });
      }
    });
  },
  {
    name: PluginNames.storeLifecycle,
    fastify: '5.x',
    dependencies: [PluginNames.opensearch, PluginNames.repositories],
  },
);
