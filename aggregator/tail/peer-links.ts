/**
 * Tail fan-out between aggregator replicas, receiving side: while this replica serves at
 * least one live view, it holds one streaming HTTP request to every peer replica
 * (`GET /v1/k8s/logs/internal/tail/stream`, peer-tail-routes.ts) and publishes what each
 * peer accepted on its own feed with origin `peer` (views get it; it is never sent on).
 * So a line reaches a view on any replica about one hop after it reached the replica its
 * agent sent it to, without waiting for `_bulk` or the index refresh.
 *
 * Guarantee (README "Freshness for live views"): while the link to a peer is up, every
 * record that peer accepts is offered to this replica's views, once (the feed's id
 * window), in the peer's order. Whenever a link is not up while views are open — before
 * its first connection, after an error, while the peer is unreachable — the views are told
 * a gap from `lookbackMs` before the link was last known up (or before the first view
 * opened) to the moment it is back, by record timestamp; they refill that span from the
 * store. A peer whose subscription for us overflowed sends its own gap, forwarded as is.
 * Memory: the sender holds at most its `liveTailBufferRecords` per link (tail-feed.ts);
 * here a line is bounded by `maxLineBytes`.
 *
 * Peers: `peers()` returns base URLs (a configured list, or the addresses of the headless
 * Service, peer-discovery.ts); a URL that answers `409 self` (this replica's own id) is
 * skipped from then on. Links close `lingerMs` after the last view closes.
 *
 * Concurrency: one event loop; `close` aborts every link and waits for them.
 */
import { formatNanos } from '../../shared/time.ts';
import type { TailFeed, TailGap } from './tail-feed.ts';
import { PeerLineSplitter, decodeLine } from './peer-wire.ts';

export const REPLICA_HEADER = 'x-k8s-logs-replica';
export const PEER_STREAM_PATH = '/v1/k8s/logs/internal/tail/stream';

export interface PeerLinksOptions {
  feed: TailFeed;
  /** This replica's id (random per process); a peer answering with it is this replica. */
  replicaId: string;
  /** Shared secret of the replicas (config `ingest.liveTailPeerToken`). */
  token: string;
  /** Base URLs of the peers, asked on every (re)connection round. */
  peers: () => Promise<readonly string[]> | readonly string[];
  /** How far before an outage a gap starts (covers batches in flight then), ms. */
  lookbackMs: number;
  /** Delay before a failed link is tried again, ms. */
  reconnectMs: number;
  /** A link silent this long is dropped (the sender's heartbeat comes every few seconds), ms. */
  idleTimeoutMs: number;
  /** Links stay up this long after the last view closes, ms. */
  lingerMs: number;
  /** Longest line accepted from a peer, bytes. */
  maxLineBytes: number;
  now?: () => number;
  onError?: (peer: string, err: unknown) => void;
}

interface Link {
  url: string;
  abort: AbortController;
  done: Promise<void>;
  up: boolean;
  /** Wall-clock ms since when records of this peer may be missing here. */
  downSinceMs: number;
  received: number;
}

const msToTimestamp = (ms: number): string => formatNanos(BigInt(Math.max(0, Math.floor(ms))) * 1_000_000n);

export class PeerLinks {
  readonly #o: PeerLinksOptions;
  readonly #now: () => number;
  readonly #links = new Map<string, Link>();
  readonly #self = new Set<string>();
  /** Peer URL → wall-clock ms since when its records may be missing (its link went down). */
  readonly #downSince = new Map<string, number>();
  #active = false;
  #closed = false;
  #roundTimer: NodeJS.Timeout | undefined;
  #lingerTimer: NodeJS.Timeout | undefined;
  #activeSinceMs = 0;

  constructor(opts: PeerLinksOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    opts.feed.onViewsChanged((views) => this.#viewsChanged(views));
  }

  /** Peers whose stream is currently up (tests, metrics). */
  get connected(): string[] {
    return [...this.#links.values()].filter((l) => l.up).map((l) => l.url);
  }

  /** Records received from peers since start. */
  get received(): number {
    let n = 0;
    for (const l of this.#links.values()) n += l.received;
    return n + this.#receivedClosed;
  }
  #receivedClosed = 0;

  #viewsChanged(views: number): void {
    if (this.#closed) return;
    if (views > 0) {
      clearTimeout(this.#lingerTimer);
      this.#lingerTimer = undefined;
      if (!this.#active) {
        this.#active = true;
        this.#activeSinceMs = this.#now();
        void this.#round();
      }
    } else if (this.#active && this.#lingerTimer === undefined) {
      this.#lingerTimer = setTimeout(() => {
        this.#lingerTimer = undefined;
        if (this.#o.feed.views === 0) void this.#deactivate();
      }, this.#o.lingerMs);
      this.#lingerTimer.unref();
    }
  }

  /** One reconnection round: a link for every known peer without one; repeats while active. */
  async #round(): Promise<void> {
    if (!this.#active || this.#closed) return;
    let peers: readonly string[] = [];
    try {
      peers = await this.#o.peers();
    } catch (err) {
      this.#o.onError?.('peers', err);
    }
    if (!this.#active || this.#closed) return;
    for (const raw of peers) {
      const url = raw.replace(/\/+$/, '');
      if (this.#self.has(url) || this.#links.has(url)) continue;
      this.#open(url);
    }
    clearTimeout(this.#roundTimer);
    this.#roundTimer = setTimeout(() => void this.#round(), this.#o.reconnectMs);
    this.#roundTimer.unref();
  }

  #open(url: string): void {
    const downSinceMs = this.#downSince.get(url) ?? this.#activeSinceMs;
    const link: Link = {
      url,
      abort: new AbortController(),
      done: Promise.resolve(),
      up: false,
      downSinceMs,
      received: 0,
    };
    this.#links.set(url, link);
    link.done = this.#run(link).finally(() => {
      this.#links.delete(url);
      this.#receivedClosed += link.received;
    });
  }

  async #run(link: Link): Promise<void> {
    const signal = link.abort.signal;
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => link.abort.abort(new Error('peer link idle')), this.#o.idleTimeoutMs);
      idle.unref();
    };
    try {
      touch();
      const res = await fetch(`${link.url}${PEER_STREAM_PATH}`, {
        headers: {
          authorization: `Bearer ${this.#o.token}`,
          [REPLICA_HEADER]: this.#o.replicaId,
          accept: 'application/x-ndjson',
        },
        signal,
      });
      if (res.status === 409 && res.headers.get(REPLICA_HEADER) === this.#o.replicaId) {
        this.#self.add(link.url);
        await res.body?.cancel();
        return;
      }
      if (res.status !== 200 || res.body === null) {
        await res.body?.cancel();
        throw new Error(`peer stream answered ${res.status}`);
      }
      // Up: everything this peer accepts from now on comes through the link; what it
      // accepted while the link was down is the views' gap.
      link.up = true;
      this.#o.feed.missed(this.#gap(link.downSinceMs));
      const splitter = new PeerLineSplitter(this.#o.maxLineBytes);
      for await (const chunk of res.body) {
        touch();
        for (const line of splitter.push(Buffer.from(chunk))) {
          const ev = decodeLine(line);
          if (ev.kind === 'records') {
            link.received += ev.records.length;
            this.#o.feed.publish(ev.records, 'peer');
          } else if (ev.kind === 'gap') {
            this.#o.feed.missed(ev.gap);
          }
        }
      }
    } catch (err) {
      if (!signal.aborted || this.#active) this.#o.onError?.(link.url, err);
    } finally {
      clearTimeout(idle);
      if (link.up) this.#downSince.set(link.url, this.#now());
      link.up = false;
      link.abort.abort();
    }
  }

  #gap(downSinceMs: number): TailGap {
    return {
      count: 0,
      fromTimestamp: msToTimestamp(downSinceMs - this.#o.lookbackMs),
      toTimestamp: msToTimestamp(this.#now()),
    };
  }

  async #deactivate(): Promise<void> {
    this.#active = false;
    this.#downSince.clear();
    clearTimeout(this.#roundTimer);
    const links = [...this.#links.values()];
    for (const l of links) l.abort.abort();
    await Promise.all(links.map((l) => l.done));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#lingerTimer);
    await this.#deactivate();
  }
}
