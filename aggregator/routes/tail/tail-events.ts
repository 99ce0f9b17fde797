/**
 * The event sequence of `GET /v1/k8s/logs/tail` (tail-routes.ts), apart from HTTP: one
 * async generator over a live subscription and a store backfill, so the hand-off rules are
 * tested without a socket.
 *
 * Contract (what a client may rely on):
 * - `ready` comes first, once the subscription is open: every record this replica receives
 *   from then on is delivered (or counted in a `gap`).
 * - With `since`, stored records with `timestamp >= since` are sent (oldest first) before
 *   any live one, then `caught_up`. The store is read twice: at once, and again once a
 *   refresh interval has passed since the subscription opened, because a record received
 *   just before it opened may not have been searchable yet (live records are delivered
 *   while waiting; what the second read adds comes before `caught_up`). Together with the live feed
 *   that leaves no gap; each record id is sent once (ids are remembered until the second
 *   read has been merged, after which no live record can also be a stored one sent here).
 *   A client that already holds records at `since` drops those ids itself.
 * - `gap` says the subscriber fell behind and lost `count` records between two timestamps;
 *   they are in the store (a client re-reads that span). Nothing is lost silently.
 * - `heartbeat` every `heartbeatMs` while idle, so proxies keep the stream open.
 * Concurrency: one consumer; the generator owns the subscription and closes it when it ends.
 */
import type { LogRecord } from '../../../shared/record.ts';
import type { TailGap, TailSubscription } from '../../tail/tail-feed.ts';
import { mergeLive } from '../../tail/tail-feed.ts';

export type TailEvent =
  | { type: 'ready'; since: string | null }
  | { type: 'record'; record: LogRecord }
  | { type: 'caught_up'; backfilled: number; truncated: boolean }
  | { type: 'gap'; count: number; from: string; to: string }
  | { type: 'heartbeat' };

export interface TailEventOptions {
  subscription: TailSubscription;
  /** Stored records from `since` (inclusive), oldest first, at most `limit`; `truncated` when more matched. */
  backfill?: (limit: number) => Promise<{ records: LogRecord[]; truncated: boolean }>;
  since: string | null;
  backfillLimit: number;
  /** How long after the subscription opened the store is read a second time, ms (refresh interval + margin). */
  settleMs: number;
  heartbeatMs: number;
  signal: AbortSignal;
}

export async function* tailEvents(o: TailEventOptions): AsyncGenerator<TailEvent, void, undefined> {
  const sub = o.subscription;
  const openedAt = Date.now();
  try {
    yield { type: 'ready', since: o.since };
    let seen: Set<string> | undefined;
    if (o.backfill) {
      seen = new Set();
      const first = await o.backfill(o.backfillLimit);
      for (const record of mergeLive(first.records, seen)) yield { type: 'record', record };
      // Wait out the refresh interval (delivering live records meanwhile), then read again.
      const settle = deadline(o.signal, Math.max(0, openedAt + o.settleMs - Date.now()));
      try {
        while (!settle.signal.aborted) {
          const batch = await sub.next(settle.signal);
          if (batch.gap) yield gapEvent(batch.gap);
          for (const record of mergeLive(batch.records, seen)) yield { type: 'record', record };
          if (sub.closed) return;
        }
      } finally {
        settle.clear();
      }
      if (o.signal.aborted) return;
      const second = await o.backfill(o.backfillLimit);
      let backfilled = first.records.length;
      for (const record of mergeLive(second.records, seen)) {
        backfilled++;
        yield { type: 'record', record };
      }
      yield { type: 'caught_up', backfilled, truncated: first.truncated || second.truncated };
    }
    // Live from here. Records buffered while the second read ran may also have been stored
    // and returned by it: the first drain still checks `seen`; after it, none can be.
    while (!o.signal.aborted && !sub.closed) {
      const heartbeat = deadline(o.signal, o.heartbeatMs);
      const batch = await sub.next(heartbeat.signal).finally(heartbeat.clear);
      if (batch.gap) yield gapEvent(batch.gap);
      const records = seen ? mergeLive(batch.records, seen) : batch.records;
      seen = undefined;
      for (const record of records) yield { type: 'record', record };
      if (batch.records.length === 0 && !batch.gap && !o.signal.aborted && !sub.closed) yield { type: 'heartbeat' };
    }
  } finally {
    sub.close();
  }
}

const gapEvent = (g: TailGap): TailEvent => ({ type: 'gap', count: g.count, from: g.fromTimestamp, to: g.toTimestamp });

/**
 * A signal aborted by `parent` or after `ms`. A plain (ref'd) timer, unlike
 * `AbortSignal.timeout`: a pending wait keeps the process alive, as a request in flight does.
 */
function deadline(parent: AbortSignal, ms: number): { signal: AbortSignal; clear: () => void } {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), ms);
  const signal = AbortSignal.any([parent, ctrl.signal]);
  return { signal, clear: () => clearTimeout(timer) };
}
