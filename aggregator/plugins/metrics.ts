/** Service plugin: the aggregator's Prometheus metrics on an injected registry (`app.metrics`). */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { createMetrics, type AggregatorMetrics } from '../telemetry/metrics.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readonly metrics: AggregatorMetrics;
  }
}

export const metricsPlugin = fp(
  async (app: FastifyInstance, opts: { metrics?: AggregatorMetrics | undefined }) => {
    app.decorate('metrics', opts.metrics ?? createMetrics());
  },
  { name: PluginNames.metrics, fastify: '5.x' },
);
