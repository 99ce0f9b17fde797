/**
 * `GET /loki/api/v1/tail` over a WebSocket: Loki's live tail, fed from this replica's tail
 * feed (tail/tail-feed.ts) rather than by polling the store.
 *
 * Order of events on one connection:
 * 1. subscribe to the feed first (so nothing ingested from now on is missed), then
 * 2. backfill: the query over the store for [`start`, now), the newest `limit` entries,
 *    sent oldest first as one message (Loki's tailer does the same);
 * 3. live: each batch of records the feed offers — already limited to the caller's access
 *    scope and the selector's built-in matchers — goes through the query's exact pipeline
 *    (the engine over the batch in memory) and is sent as one message; an entry the
 *    backfill already sent (same timestamp and line) is not sent again.
 * `delay_for` (≤ 5 s) holds each live batch that long before sending, so entries that
 * arrive out of order within it are sent in order. When the feed dropped records because
 * this client did not keep up, the next message carries `dropped_entries`: the first and
 * last timestamp of the lost span (the feed counts a span, not each entry's labels).
 *
 * Concurrency: one loop per connection; it ends when the socket closes (the subscription
 * is closed with it) or the feed closes (shutdown; the socket is closed with 1001).
 */
import type { WebSocket } from '@fastify/websocket';
import type { LogRecord } from '../../../shared/record.ts';
import { parseRfc3339Nanos } from '../../../shared/time.ts';
import type { LogSelectorExpr } from '../../logql/ast.ts';
import { Evaluator, type QueryResult } from '../../logql/evaluator.ts';
import { compileMatcher, type Labels } from '../../logql/pipeline.ts';
import { InMemoryLogStore, type MemoryStream } from '../../logql/store.ts';
import { lokiStreamOf } from '../../logql/stream-labels.ts';
import { scopeCovers, type AccessScope } from '../../http/scope.ts';
import type { TailFeed, TailGap } from '../../tail/tail-feed.ts';
import { tailMessage } from './loki-json.ts';

export interface TailSession {
  expr: LogSelectorExpr;
  scope: AccessScope;
  startNs: bigint;
  limit: number;
  delayForSeconds: number;
}

export interface TailDeps {
  feed: TailFeed;
  bufferRecords: number;
  /** The query over the store for [startNs, endNs), backward, at most `limit` entries. */
  backfill(
    expr: LogSelectorExpr,
    startNs: bigint,
    endNs: bigint,
    limit: number,
    signal: AbortSignal,
  ): Promise<QueryResult>;
  now(): bigint;
  log: { warn(obj: object, msg: string): void };
}

/** Bytes queued on the socket above which the loop waits before reading the feed again. */
const MAX_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

type WireStream = { stream: Labels; values: [string, string][] };

function wireStreams(result: QueryResult): WireStream[] {
  if (result.type !== 'streams') return [];
  return result.streams.map((s) => ({ stream: s.labels, values: s.entries.map((e) => [e.tsNs.toString(), e.line]) }));
}

/** Predicate of the feed subscription: scope first, then the selector's matchers on the Loki labels. Pure. */
export function tailRecordMatcher(expr: LogSelectorExpr, scope: AccessScope): (r: LogRecord) => boolean {
  const tests = expr.matchers.map((m) => ({ name: m.name, test: compileMatcher(m) }));
  return (r) => {
    if (!scopeCovers(scope, r.cluster, r.namespace)) return false;
    const { labels } = lokiStreamOf(r);
    return tests.every((t) => t.test(labels[t.name] ?? ''));
  };
}

/** Runs the query's pipeline over live records (in memory), oldest first. */
export async function evaluateLive(expr: LogSelectorExpr, records: readonly LogRecord[]): Promise<WireStream[]> {
  const streams = new Map<string, MemoryStream>();
  let min: bigint | undefined;
  let max: bigint | undefined;
  for (const r of records) {
    const tsNs = parseRfc3339Nanos(r.timestamp);
    if (tsNs === undefined) continue;
    const { labels, structuredMetadata } = lokiStreamOf(r);
    const key = JSON.stringify(labels);
    let s = streams.get(key);
    if (!s) streams.set(key, (s = { labels, entries: [] }));
    s.entries.push({ tsNs, line: r.message, meta: structuredMetadata });
    if (min === undefined || tsNs < min) min = tsNs;
    if (max === undefined || tsNs > max) max = tsNs;
  }
  if (min === undefined || max === undefined) return [];
  const result = await new Evaluator(new InMemoryLogStore([...streams.values()])).run(expr, {
    startNs: min,
    endNs: max + 1n,
    stepNs: 0n,
    limit: records.length,
    direction: 'forward',
  });
  return wireStreams(result);
}

function gapEntries(gap: TailGap | undefined): { timestamp: string }[] {
  if (!gap) return [];
  const from = parseRfc3339Nanos(gap.fromTimestamp)?.toString();
  const to = parseRfc3339Nanos(gap.toTimestamp)?.toString();
  const out = from ? [{ timestamp: from }] : [];
  if (to && to !== from) out.push({ timestamp: to });
  return out;
}

const waitFor = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export async function serveTail(socket: WebSocket, session: TailSession, deps: TailDeps): Promise<void> {
  const controller = new AbortController();
  const { signal } = controller;
  const sub = deps.feed.subscribe({
    match: tailRecordMatcher(session.expr, session.scope),
    maxBufferedRecords: deps.bufferRecords,
  });
  if (!sub) {
    // 1013 "try again later": this replica already feeds its maximum of live views.
    socket.close(1013, 'too many live tail connections on this replica; retry later');
    return;
  }
  socket.on('close', () => {
    controller.abort();
    sub.close();
  });
  socket.on('error', () => controller.abort());
  const send = (msg: unknown) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
  };
  try {
    const endNs = deps.now();
    const sent = new Set<string>();
    if (session.startNs < endNs) {
      const history = wireStreams(await deps.backfill(session.expr, session.startNs, endNs, session.limit, signal));
      for (const s of history) {
        s.values.reverse(); // backward → oldest first
        for (const [ts, line] of s.values) sent.add(`${ts}\0${line}`);
      }
      if (history.length) send(tailMessage(history, []));
    }
    while (!signal.aborted) {
      const { records, gap } = await sub.next(signal);
      if (records.length === 0 && !gap) {
        if (sub.closed) {
          socket.close(1001, 'server shutting down');
          return;
        }
        continue;
      }
      if (session.delayForSeconds > 0) {
        await waitFor(session.delayForSeconds * 1000, signal);
        records.push(...(await sub.next(AbortSignal.abort())).records);
      }
      let streams = await evaluateLive(session.expr, records);
      if (sent.size) {
        streams = streams
          .map((s) => ({ stream: s.stream, values: s.values.filter(([ts, line]) => !sent.has(`${ts}\0${line}`)) }))
          .filter((s) => s.values.length > 0);
      }
      const dropped = gapEntries(gap);
      if (streams.length || dropped.length) send(tailMessage(streams, dropped));
      while (socket.bufferedAmount > MAX_SOCKET_BUFFER_BYTES && !signal.aborted) await waitFor(20, signal);
    }
  } catch (err) {
    if (!signal.aborted) {
      deps.log.warn({ err }, 'loki tail: connection ended by an error');
      // 1011: the server met an unexpected condition; the reason is ours, never store text.
      socket.close(
        1011,
        err instanceof Error && err.name === 'AppError' ? err.message.slice(0, 120) : 'internal error',
      );
    }
  } finally {
    sub.close();
  }
}
