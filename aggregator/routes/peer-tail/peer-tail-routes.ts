/**
 * Tail fan-out between aggregator replicas, sending side: `GET /v1/k8s/logs/internal/tail/stream`
 * streams what this replica accepts from its agents (origin `local`) to a peer replica that
 * serves live views (tail/peer-links.ts), as NDJSON (tail/peer-wire.ts) until either side
 * closes. Registered only when `ingest.liveTailPeerToken` is set; internal (hidden from
 * /docs), authenticated by that shared secret, not by an API token.
 *
 * Memory: each stream is one `localOnly` subscription of the feed with the views' buffer
 * bound (`liveTailBufferRecords`); a peer that does not keep up (socket backpressure) loses
 * the oldest records and is sent a gap, never slowing ingest. A request carrying this
 * replica's own id is answered `409` (the peer list includes this replica).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../../errors.ts';
import { bearerToken } from '../../plugins/auth.ts';
import type { TailFeed } from '../../tail/tail-feed.ts';
import { HEARTBEAT_LINE, encodeGap, encodeRecords } from '../../tail/peer-wire.ts';
import { REPLICA_HEADER } from '../../tail/peer-links.ts';

export interface PeerTailRoutesOptions {
  feed: TailFeed;
  replicaId: string;
  token: string;
  bufferRecords: number;
  /** Heartbeat line interval on an idle stream, ms. */
  heartbeatMs: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export const peerTailRoutes: FastifyPluginAsync<PeerTailRoutesOptions> = async (app, opts) => {
  const expected = digest(opts.token);
  const open = new Set<AbortController>();
  // Streams never end on their own: end them before the server waits for its connections.
  app.addHook('preClose', async () => {
    for (const ac of open) ac.abort();
  });

  app.get('/internal/tail/stream', { config: { auth: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const token = bearerToken(request);
    if (token === undefined || !timingSafeEqual(digest(token), expected))
      throw new AppError('AGG_ERR_UNAUTHORIZED', "peer stream needs the replicas' peer token");
    if (request.headers[REPLICA_HEADER] === opts.replicaId) {
      reply.header(REPLICA_HEADER, opts.replicaId);
      throw new AppError('AGG_ERR_CONFLICT', 'this is the requesting replica itself');
    }
    const sub = opts.feed.subscribe({ match: () => true, maxBufferedRecords: opts.bufferRecords, localOnly: true });
    if (sub === undefined) throw new AppError('AGG_ERR_RATE_LIMITED', 'live tail subscriptions exhausted');
    const ac = new AbortController();
    open.add(ac);
    const raw = reply.raw;
    raw.on('close', () => ac.abort());
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'application/x-ndjson',
      'cache-control': 'no-store',
      [REPLICA_HEADER]: opts.replicaId,
    });
    raw.write(HEARTBEAT_LINE);
    try {
      while (!ac.signal.aborted) {
        const { records, gap } = await sub.next(AbortSignal.any([ac.signal, AbortSignal.timeout(opts.heartbeatMs)]));
        let out = gap ? encodeGap(gap) : '';
        if (records.length > 0) out += encodeRecords(records);
        if (out === '') out = HEARTBEAT_LINE;
        // Backpressure: records keep collecting (bounded) in the subscription meanwhile.
        if (!raw.write(out) && !ac.signal.aborted) await once(raw, 'drain', { signal: ac.signal }).catch(() => {});
      }
    } finally {
      sub.close();
      open.delete(ac);
      raw.end();
    }
  });
};
