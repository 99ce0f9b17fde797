/**
 * Service plugin: live tail fan-out between replicas (`app.peerLinks`), when
 * `ingest.liveTailPeerToken` is set — the stream route other replicas read
 * (routes/peer-tail/) and the links to theirs (tail/peer-links.ts). Without a token the
 * replica is alone: `app.peerLinks` is undefined and no route is registered.
 */
import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { AggregatorConfig } from '../config.ts';
import { PeerLinks } from '../tail/peer-links.ts';
import { peerSource } from '../tail/peer-discovery.ts';
import { peerTailRoutes } from '../routes/peer-tail/peer-tail-routes.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readonly peerLinks: PeerLinks | undefined;
  }
}

export interface PeerTailOptions {
  ingest: AggregatorConfig['ingest'];
  prefix: string;
  /** Overrides the configured peers (tests: replicas on port 0). */
  peers?: () => Promise<readonly string[]> | readonly string[];
}

export const peerTailPlugin = fp(
  async (app: FastifyInstance, opts: PeerTailOptions) => {
    const { liveTailPeerToken: token, liveTailPeers, liveTailPeerService } = opts.ingest;
    if (token === '') {
      app.decorate('peerLinks', undefined);
      return;
    }
    const replicaId = randomUUID();
    const feed = app.bulkWriter.tail;
    const links = new PeerLinks({
      feed,
      replicaId,
      token,
      peers: opts.peers ?? peerSource({ urls: liveTailPeers, service: liveTailPeerService }),
      lookbackMs: 10_000,
      reconnectMs: 2_000,
      idleTimeoutMs: 15_000,
      lingerMs: 60_000,
      maxLineBytes: 64 << 20,
      onError: (peer, err) => app.log.debug({ peer, err: String(err) }, 'peer tail link'),
    });
    app.decorate('peerLinks', links);
    app.addHook('preClose', () => links.close());
    await app.register(peerTailRoutes, {
      prefix: opts.prefix,
      feed,
      replicaId,
      token,
      bufferRecords: app.bulkWriter.tailBufferRecords,
      heartbeatMs: 5_000,
    });
  },
  { name: PluginNames.peerTail, fastify: '5.x', dependencies: [PluginNames.bulkWriter] },
);
