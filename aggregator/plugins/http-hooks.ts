/** Per-request hooks of every route: the request id echoed as `X-Request-Id`, and the request duration histogram. */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { PluginNames } from './names.ts';

export const httpHooksPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
    app.addHook('onResponse', async (request, reply) => {
      app.metrics.httpDuration.observe(
        { route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
  },
  { name: PluginNames.httpHooks, fastify: '5.x', dependencies: [PluginNames.metrics] },
);
