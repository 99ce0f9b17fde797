/** The OpenAPI document (from every route's schemas) and Swagger UI at `/docs`, public. */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { PluginNames } from './names.ts';

export const docsPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'k8s-logs API',
          version: '0.1.0',
          description: 'Kubernetes logs: retrieval, search, collection, archives.',
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
    });
    await app.register(async (docs) => {
      docs.addHook('onRoute', (route) => {
        route.config = { ...(route.config as object), auth: 'public' };
      });
      await docs.register(swaggerUi, { routePrefix: '/docs' });
    });
  },
  { name: PluginNames.docs, fastify: '5.x' },
);
