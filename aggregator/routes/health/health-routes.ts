/** Liveness, readiness and Prometheus metrics; public, as probes and scrapers expect. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Registry } from 'prom-client';

export interface HealthRoutesOptions {
  registry: Registry;
  /** Resolves true when OpenSearch answers and the templates are installed. */
  ready: () => Promise<boolean>;
}

const Status = Type.Object({ status: Type.String() });

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, opts) => {
  app.get('/healthz', { config: { auth: 'public' }, schema: { summary: 'Liveness', tags: ['health'], response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    config: { auth: 'public' },
    schema: { summary: 'Readiness: OpenSearch reachable and templates installed', tags: ['health'], response: { 200: Status, 503: Status } },
  }, async (_request, reply) => {
    const ok = await opts.ready().catch(() => false);
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready' });
  });

  app.get('/metrics', { config: { auth: 'public' }, schema: { summary: 'Prometheus metrics', tags: ['health'], hide: false } }, async (_request, reply) => {
    reply.type(opts.registry.contentType);
    return opts.registry.metrics();
  });
};
