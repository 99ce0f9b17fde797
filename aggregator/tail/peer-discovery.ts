/**
 * Where the peer replicas are: a configured list of base URLs, plus every address a DNS
 * name resolves to (the aggregator's headless Service in a cluster: one A record per ready
 * pod, this replica included — peer-links.ts recognises itself by its id). Resolved again
 * on every reconnection round, so scaled or rescheduled replicas are found.
 */
import { lookup } from 'node:dns/promises';

export interface PeerDiscoveryOptions {
  /** Base URLs (`http://host:port`). */
  urls: readonly string[];
  /** `host:port` of a headless Service; '' = none. */
  service: string;
  resolve?: (host: string) => Promise<Array<{ address: string; family: number }>>;
}

export function peerSource(opts: PeerDiscoveryOptions): () => Promise<string[]> {
  const resolve = opts.resolve ?? ((host: string) => lookup(host, { all: true }));
  const m = /^(.+):(\d+)$/.exec(opts.service);
  return async () => {
    const out = [...opts.urls];
    if (m !== null) {
      for (const a of await resolve(m[1]!)) out.push(`http://${a.family === 6 ? `[${a.address}]` : a.address}:${m[2]}`);
    }
    return [...new Set(out)];
  };
}
