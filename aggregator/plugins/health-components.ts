/**
 * Service plugin: the health components that areas registered after the monitoring service
 * contribute to `GET /health` (S3 from the archive routes). `app.healthComponents` is the live
 * list the monitoring service reads on every check, so registration order does not matter.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { HealthComponent } from '../routes/monitoring/health-checks.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Components beyond the monitoring service's own (shown to unrestricted tokens). */
    readonly healthComponents: readonly HealthComponent[];
    addHealthComponent(component: HealthComponent): void;
  }
}

export const healthComponentsPlugin = fp(
  async (app: FastifyInstance) => {
    const components: HealthComponent[] = [];
    app.decorate('healthComponents', components);
    app.decorate('addHealthComponent', (c: HealthComponent) => {
      if (components.some((k) => k.name === c.name)) throw new Error(`health component "${c.name}" registered twice`);
      components.push(c);
    });
  },
  { name: PluginNames.healthComponents, fastify: '5.x' },
);
