/**
 * Live tail, fed from what this replica ingests: an in-process broadcast of every valid
 * batch the moment it is handed to the store, to subscribers that each hold a bounded
 * buffer. A live view (the Loki `tail` endpoint, the UI's follow mode) reads it instead of
 * polling the store, so a line reaches it without waiting for `_bulk` or the refresh.
 *
 * Guarantee (README "Freshness for live views"): a record is published once the replica
 * has decoded and validated its batch, before OpenSearch is asked to store it — so it is
 * in the tail before it is acknowledged, however slow the store is. Each id is published
 * once within the last {@link DEDUPE_WINDOW_IDS} ids (a batch the store pushed back is sent
 * again by its agent and not shown twice). A record the store then rejects for its own
 * shape (`mapping_rejected`, rare) was shown live but is not stored. Per subscriber,
 * records arrive in the order this replica received their batches. A subscriber that
 * does not keep up loses the oldest buffered records, never blocks ingest: the loss is
 * counted on the subscription (`lost`) with the time span it covers, and the consumer
 * fills that span from the store (see {@link mergeLive}). Records other replicas accept
 * arrive through peer links (peer-links.ts) and are published here with origin `peer`:
 * views get them like local ones; peer-stream subscriptions (`localOnly`) do not, so a
 * record crosses at most one link and never loops.
 *
 * Concurrency: one event loop. `publish` is synchronous and O(subscribers × records); with
 * no subscriber it returns at once (the ingest hot path pays nothing).
 */
import type { LogRecord } from '../../shared/record.ts';

export interface TailSubscriptionOptions {
  /** Which records this subscriber wants (scope and selector; see tail-matcher.ts). Pure, cheap. */
  match: (record: LogRecord) => boolean;
  /** Records buffered before the oldest are dropped. */
  maxBufferedRecords: number;
  /**
   * Only records this replica accepted itself (origin `local`): the subscription of a peer
   * replica's link (peer-stream.ts), which must not get back what peers sent here. Such
   * subscriptions are not views: they do not count in {@link TailFeed.views}.
   */
  localOnly?: boolean;
}

/** Where a published batch came from: an agent of this replica, or a peer replica's link. */
export type TailOrigin = 'local' | 'peer';

/** A span of records a slow subscriber lost, by record timestamp (canonical RFC 3339). */
export interface TailGap {
  count: number;
  fromTimestamp: string;
  toTimestamp: string;
}

export class TailSubscription {
  readonly #opts: TailSubscriptionOptions;
  readonly #feed: TailFeed;
  #buffer: LogRecord[] = [];
  #gap: TailGap | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  /** Records dropped for this subscriber since it started. */
  lost = 0;

  constructor(feed: TailFeed, opts: TailSubscriptionOptions) {
    this.#feed = feed;
    this.#opts = opts;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get localOnly(): boolean {
    return this.#opts.localOnly === true;
  }

  /** @internal called by the feed. */
  offer(records: readonly LogRecord[]): void {
    let added = false;
    for (const r of records) {
      if (!this.#opts.match(r)) continue;
      this.#buffer.push(r);
      added = true;
    }
    const over = this.#buffer.length - this.#opts.maxBufferedRecords;
    if (over > 0) {
      const dropped = this.#buffer.splice(0, over);
      this.lost += over;
      const first = dropped[0]!.timestamp;
      const last = dropped[dropped.length - 1]!.timestamp;
      this.#gap = this.#gap
        ? {
            count: this.#gap.count + over,
            fromTimestamp: min(this.#gap.fromTimestamp, first),
            toTimestamp: max(this.#gap.toTimestamp, last),
          }
        : { count: over, fromTimestamp: first, toTimestamp: last };
    }
    if (added) this.#signal();
  }

  /**
   * @internal called by the feed: records matching this view may have been missed in
   * `gap`'s span (a peer's subscription overflowed, or a peer link was down). Merged with
   * any gap not yet taken; wakes `next` so the consumer refills the span from the store.
   */
  missed(gap: TailGap): void {
    this.lost += gap.count;
    this.#gap = this.#gap
      ? {
          count: this.#gap.count + gap.count,
          fromTimestamp: min(this.#gap.fromTimestamp, gap.fromTimestamp),
          toTimestamp: max(this.#gap.toTimestamp, gap.toTimestamp),
        }
      : { ...gap };
    this.#signal();
  }

  /**
   * Everything buffered (and the gap since the last call, if records were lost), waiting
   * until there is something or the subscription is closed or `signal` aborts. A gap may
   * come without records (a peer's loss, a peer link down): only `records` empty *and*
   * `gap` undefined means closed or aborted (check {@link closed}).
   */
  async next(signal?: AbortSignal): Promise<{ records: LogRecord[]; gap: TailGap | undefined }> {
    while (this.#buffer.length === 0 && this.#gap === undefined && !this.#closed && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    const records = this.#buffer;
    this.#buffer = [];
    const gap = this.#gap;
    this.#gap = undefined;
    return { records, gap };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#feed.unsubscribe(this);
    this.#signal();
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Ids remembered to publish each record once (resends after push-back); ~10 MB at most. */
export const DEDUPE_WINDOW_IDS = 100_000;

export class TailFeed {
  readonly #subs = new Set<TailSubscription>();
  readonly #maxSubscribers: number;
  readonly #recent = new Set<string>();
  readonly #ring: string[] = new Array<string>(DEDUPE_WINDOW_IDS);
  #ringNext = 0;
  #views = 0;
  readonly #onViews: Array<(views: number) => void> = [];

  /** `maxSubscribers`: live views this replica serves at once (each costs its buffer). */
  constructor(opts: { maxSubscribers: number }) {
    this.#maxSubscribers = opts.maxSubscribers;
  }

  get subscribers(): number {
    return this.#subs.size;
  }

  /** Open subscriptions that are views (not `localOnly` peer streams). */
  get views(): number {
    return this.#views;
  }

  /** `fn(views)` after every change of {@link views} (peer links open while there are views). */
  onViewsChanged(fn: (views: number) => void): void {
    this.#onViews.push(fn);
  }

  #viewsChanged(delta: number): void {
    this.#views += delta;
    for (const fn of this.#onViews) fn(this.#views);
  }

  /** A new subscription, or undefined when `maxSubscribers` are open (the endpoint answers 429). */
  subscribe(opts: TailSubscriptionOptions): TailSubscription | undefined {
    if (this.#subs.size >= this.#maxSubscribers) return undefined;
    const sub = new TailSubscription(this, opts);
    this.#subs.add(sub);
    if (!sub.localOnly) this.#viewsChanged(1);
    return sub;
  }

  /** @internal */
  unsubscribe(sub: TailSubscription): void {
    if (this.#subs.delete(sub) && !sub.localOnly) this.#viewsChanged(-1);
  }

  /**
   * Tells every view that records in `gap`'s span may be missing (records a peer accepted
   * and could not deliver here). Peer streams are not told: they only carry local records.
   */
  missed(gap: TailGap): void {
    for (const sub of this.#subs) if (!sub.localOnly) sub.missed(gap);
  }

  /**
   * Valid records on their way to the store (`local`, this replica's ingest) or accepted
   * by a peer (`peer`, from a peer link: offered to views only). Ids already published
   * (within the window, whatever the origin) are skipped. The caller keeps ownership;
   * records are not copied or mutated.
   */
  publish(records: readonly LogRecord[], origin: TailOrigin = 'local'): void {
    if (this.#subs.size === 0 || records.length === 0) return;
    const fresh: LogRecord[] = [];
    for (const r of records) {
      if (this.#recent.has(r.id)) continue;
      const evicted = this.#ring[this.#ringNext];
      if (evicted !== undefined) this.#recent.delete(evicted);
      this.#ring[this.#ringNext] = r.id;
      this.#ringNext = (this.#ringNext + 1) % DEDUPE_WINDOW_IDS;
      this.#recent.add(r.id);
      fresh.push(r);
    }
    if (fresh.length === 0) return;
    for (const sub of this.#subs) if (origin === 'local' || !sub.localOnly) sub.offer(fresh);
  }

  /** Closes every subscription (shutdown): their `next` resolves empty. */
  close(): void {
    for (const sub of [...this.#subs]) sub.close();
  }
}

/**
 * Pure: merges what the store returned for a window (`stored`, e.g. the backfill when a
 * live view starts, or a gap refilled after the refresh) with what the live feed already
 * delivered, by record id: every id once, stored copy ignored when the live one was seen.
 * `seen` is the set of ids already sent to the client; it is updated.
 */
export function mergeLive(stored: readonly LogRecord[], seen: Set<string>): LogRecord[] {
  const out: LogRecord[] = [];
  for (const r of stored) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    out.push(r);
  }
  return out;
}

// Canonical timestamps (fixed-width nanosecond RFC 3339, UTC) order as strings.
const min = (a: string, b: string) => (a < b ? a : b);
const max = (a: string, b: string) => (a > b ? a : b);
