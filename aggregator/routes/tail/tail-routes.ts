/**
 * `GET /v1/k8s/logs/tail`: live tail over a streamed response (NDJSON, one event a line),
 * for clients that cannot set `Authorization` on a WebSocket, such as the web UI (it reads
 * the body with fetch streaming). Fed from this replica's ingest (aggregator/tail/); with
 * `since` it first sends the stored records from then on, so a view hands off from history
 * to live with no gap and no duplicate (tail-events.ts states the contract).
 *
 * Scope: `logs:read`; the token's cluster/namespace limits apply inside the matcher and the
 * backfill query. Filters are those of `GET /` (cluster, namespace, pod, container, stream,
 * level, q). A stream ends when the client goes away or the server closes.
 */
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { Levels } from '../../../shared/record.ts';
import { formatNanos, nowNanos, parseTimeParam, InvalidTimeError } from '../../../shared/time.ts';
import type { LogSearch } from '../../query/log-search.ts';
import type { LogQuery } from '../../query/log-query.ts';
import type { TailFeed } from '../../tail/tail-feed.ts';
import { tailMatcher } from '../../tail/tail-matcher.ts';
import { AppError, invalidRequest } from '../../errors.ts';
import { checkWithinScope, list, scopeOf } from '../../http/scope.ts';
import { digestOf } from '../logs/log-params.ts';
import { tailEvents, type TailEvent } from './tail-events.ts';

export interface TailRoutesOptions {
  feed: TailFeed;
  search: LogSearch;
  /** Refresh interval of the log indices, ms: the backfill is read again after it. */
  refreshIntervalMs: number;
  /** Records buffered per tail before its oldest are dropped (and reported as a gap): config `ingest.liveTailBufferRecords`. */
  bufferRecords: number;
  /** Idle time between heartbeats, ms. Default 15000. */
  heartbeatMs?: number;
}

const Name = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 253, description }));

export const TailQuerySchema = Type.Object(
  {
    cluster: Name('Cluster id (comma-separated for several).'),
    namespace: Name('Namespace (comma-separated for several).'),
    pod: Name('Pod name (comma-separated for several).'),
    container: Name('Container name (comma-separated for several).'),
    stream: Type.Optional(Type.Union([Type.Literal('stdout'), Type.Literal('stderr')])),
    level: Type.Optional(Type.String({ maxLength: 200, description: 'Level, comma-separated for several.' })),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1000,
        description: 'Text the message contains (case-insensitive, exact substring).',
      }),
    ),
    since: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          'Hand-off from history: first send the stored records with timestamp >= since (RFC 3339, epoch s/ms/ns or `now-5m`), then live ones. Records exactly at `since` that the client already has come again: drop them by id.',
      }),
    ),
    backfill_limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 5000,
        default: 1000,
        description: 'Stored records sent per read at most; `caught_up.truncated` says when more matched.',
      }),
    ),
  },
  { additionalProperties: false },
);

const MAX_BACKFILL_WINDOW_NS = 24n * 3_600_000_000_000n;
const PAGE = 1000;

export const tailRoutes: FastifyPluginAsyncTypebox<TailRoutesOptions> = async (app, opts) => {
  app.get(
    '/tail',
    {
      config: { auth: 'logs:read' },
      schema: {
        summary: 'Live tail as a stream of NDJSON events (ready, record, caught_up, gap, heartbeat)',
        description:
          'Each line is one event: `{"type":"ready"}` once subscribed; `{"type":"record","record":{…}}`; `{"type":"caught_up","backfilled":n,"truncated":false}` after the `since` backfill; `{"type":"gap","count":n,"from":ts,"to":ts}` when this subscriber fell behind and lost records (they are in the store); `{"type":"heartbeat"}` while idle.',
        tags: ['logs'],
        querystring: TailQuerySchema,
        response: {
          200: Type.String({ description: 'application/x-ndjson stream of events' }),
          400: ErrorEnvelopeSchema,
          401: ErrorEnvelopeSchema,
          403: ErrorEnvelopeSchema,
          429: ErrorEnvelopeSchema,
          503: ErrorEnvelopeSchema,
        },
      },
    },
    async (request, reply) => {
      const p = request.query;
      const scope = scopeOf(request.principal);
      const clusters = list(p.cluster);
      const namespaces = list(p.namespace);
      checkWithinScope(scope, clusters, namespaces);
      const levels = list(p.level);
      const badLevel = levels?.find((l) => !(Levels as readonly string[]).includes(l));
      if (badLevel) throw invalidRequest(`level: unknown level "${badLevel}"; use ${Levels.join(', ')}`);
      const filters = {
        clusters,
        namespaces,
        pods: list(p.pod),
        containers: list(p.container),
        streams: p.stream ? [p.stream] : undefined,
        levels,
        contains: p.q ? [{ value: p.q, caseInsensitive: true }] : undefined,
      };
      let sinceNs: bigint | undefined;
      if (p.since !== undefined) {
        const now = nowNanos();
        try {
          sinceNs = parseTimeParam(p.since, now);
        } catch (err) {
          if (err instanceof InvalidTimeError) throw invalidRequest(`since: ${err.message}`);
          throw err;
        }
        if (now - sinceNs > MAX_BACKFILL_WINDOW_NS) throw invalidRequest('since: at most 24 hours back');
      }
      const subscription = opts.feed.subscribe({
        match: tailMatcher({ scope, ...filters }),
        maxBufferedRecords: opts.bufferRecords,
      });
      if (!subscription)
        throw new AppError(
          'AGG_ERR_TOO_MANY_TAILS',
          'this replica already serves its maximum of live tails; retry later',
          { retryAfterSeconds: 5 },
        );

      const digest = digestOf({ ...filters, scope, tail: true });
      const backfill =
        sinceNs === undefined
          ? undefined
          : async (limit: number) => {
              const q: LogQuery = {
                scope,
                ...filters,
                startNs: sinceNs,
                endNs: nowNanos(),
                direction: 'forward',
                limit: Math.min(PAGE, limit),
              };
              const records = [];
              let after: LogQuery['after'];
              for (;;) {
                const page = await opts.search.page(
                  { ...q, after, limit: Math.min(PAGE, limit - records.length) },
                  digest,
                );
                records.push(...page.logs);
                const last = page.logs[page.logs.length - 1];
                if (!page.has_more || !last) return { records, truncated: false };
                if (records.length >= limit) return { records, truncated: true };
                after = { ts: last.timestamp, id: last.id };
              }
            };
      const done = new AbortController();
      // The client going away ends the stream and the subscription.
      reply.raw.once('close', () => done.abort());
      const events = tailEvents({
        subscription,
        backfill,
        since: sinceNs === undefined ? null : formatNanos(sinceNs),
        backfillLimit: p.backfill_limit ?? 1000,
        settleMs: opts.refreshIntervalMs + 1000,
        heartbeatMs: opts.heartbeatMs ?? 15_000,
        signal: done.signal,
      });
      async function* lines(): AsyncGenerator<string, void, undefined> {
        try {
          for await (const e of events) yield `${JSON.stringify(e satisfies TailEvent)}\n`;
        } catch (err) {
          // The status is committed: a failed backfill ends the body early (an incomplete
          // chunked response), never a silently short tail.
          request.log.warn({ err }, 'tail: stream ended by an error');
          throw err;
        }
      }
      const body = Readable.from(lines(), { objectMode: false });
      body.once('close', () => {
        done.abort();
        void events.return(undefined);
      });
      body.on('error', () => {});
      reply.header('content-type', 'application/x-ndjson; charset=utf-8');
      reply.header('cache-control', 'no-store');
      reply.header('x-accel-buffering', 'no');
      return (reply as FastifyReply).send(body);
    },
  );
};
