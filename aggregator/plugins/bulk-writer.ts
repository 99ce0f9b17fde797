/** Service plugin: the ingest path's bulk writer into the day indices (`app.bulkWriter`). */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { BulkWriter } from '../store/bulk-writer.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readonly bulkWriter: BulkWriter;
  }
}

export const bulkWriterPlugin = fp(
  async (app: FastifyInstance, opts: { maxBulkBytes: number }) => {
    app.decorate(
      'bulkWriter',
      new BulkWriter(app.opensearch, app.storeLayout.indexPrefix, { maxBulkBytes: opts.maxBulkBytes }),
    );
  },
  { name: PluginNames.bulkWriter, fastify: '5.x', dependencies: [PluginNames.opensearch] },
);
