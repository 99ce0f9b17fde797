/** Service plugin: log search over the day indices (`app.logSearch`) and this replica's open exports (`app.pits`). */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { LogSearch } from '../query/log-search.ts';
import { PitGate } from '../query/pit-gate.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readonly logSearch: LogSearch;
    /** Open exports (points in time) of this replica. */
    readonly pits: PitGate;
  }
}

export const searchPlugin = fp(
  async (app: FastifyInstance, opts: { maxOpenPits: number }) => {
    const pits = new PitGate(opts.maxOpenPits);
    app.decorate('pits', pits);
    app.decorate('logSearch', new LogSearch(app.opensearch, app.storeLayout.indexPrefix, pits));
  },
  { name: PluginNames.search, fastify: '5.x', dependencies: [PluginNames.opensearch] },
);
