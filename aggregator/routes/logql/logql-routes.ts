/**
 * `POST /v1/k8s/logs/search/logql` (issue 13 §2): a LogQL query over the caller's logs,
 * heavy rate class. The engine (logql/) runs over the OpenSearch store with the token's
 * scope inside every store query. Answers the product envelope: `result_type` (`streams`,
 * `matrix`, `vector`, `scalar`), `result`, `stats`, and for log queries `has_more` /
 * `next_cursor` (the store position — timestamp and record id — of the last entry returned:
 * the next page resumes strictly past it, so lines sharing one nanosecond across a page
 * boundary are neither skipped nor repeated).
 * Parse errors are 400 `invalid_request` with `details: [{ line, col }]`; a query past the
 * engine's memory bounds is 422 `query_limit_exceeded` (run-logql.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { invalidRequest } from '../../errors.ts';
import { scopeOf } from '../../http/scope.ts';
import { resolveWindow } from '../../http/time-window.ts';
import { decodeCursor, encodeCursor, filterDigest } from '../../http/cursor.ts';
import { runLogqlRequest, type LogqlRunOptions } from './run-logql.ts';
import { resultJson } from './result-json.ts';
import type { StorePosition } from '../../logql/store.ts';

export type LogqlRoutesOptions = LogqlRunOptions;

const TimeParam = Type.Union([Type.String({ maxLength: 64 }), Type.Number()]);
const LogqlBodySchema = Type.Object(
  {
    query: Type.String({ minLength: 1, maxLength: 65536 }),
    start: Type.Optional(TimeParam),
    end: Type.Optional(TimeParam),
    /** Seconds (number) or a duration (`30s`, `1m`); absent = instant query at `end`. */
    step: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Number({ exclusiveMinimum: 0 })])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
    direction: Type.Optional(Type.Union([Type.Literal('forward'), Type.Literal('backward')])),
    cursor: Type.Optional(Type.String({ maxLength: 2048 })),
  },
  { additionalProperties: false },
);

const DURATION_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  µs: 1000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};

/** `step`: float seconds or a Go/Prometheus duration (`1m30s`). */
export function parseStepNs(step: string | number): bigint {
  const text = String(step);
  if (/^\d+(\.\d+)?$/.test(text)) return BigInt(Math.round(Number(text) * 1e9));
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)/gy;
  let total = 0n;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(text))) {
    total += BigInt(Math.round(Number(m[1]) * Number(DURATION_NS[m[2]!]!)));
    pos = re.lastIndex;
  }
  if (pos !== text.length || total <= 0n) throw invalidRequest(`step: invalid duration "${text}"`);
  return total;
}

/** A log-query cursor's position: `b` the last entry's timestamp (ns), `id` its record id (tie-breaker). */
const isPosition = (p: unknown): p is { b: string; id: string } =>
  typeof p === 'object' &&
  p !== null &&
  typeof (p as { b?: unknown }).b === 'string' &&
  /^\d{1,19}$/.test((p as { b: string }).b) &&
  typeof (p as { id?: unknown }).id === 'string' &&
  (p as { id: string }).id.length <= 128;

export const logqlRoutes: FastifyPluginAsyncTypebox<LogqlRoutesOptions> = async (app, opts) => {
  app.post(
    '/search/logql',
    {
      config: { auth: 'logs:read', heavy: true },
      schema: { summary: 'Run a LogQL query (log or metric)', tags: ['logs'], body: LogqlBodySchema },
    },
    async (request, reply) => {
      const b = request.body;
      const scope = scopeOf(request.principal);
      const window = resolveWindow(
        b.start === undefined ? undefined : String(b.start),
        b.end === undefined ? undefined : String(b.end),
      );
      const direction = b.direction ?? 'backward';
      const limit = b.limit ?? 100;
      const stepNs = b.step === undefined ? 0n : parseStepNs(b.step);
      const digest = filterDigest({ q: b.query, scope, ...window, direction, stepNs, limit });
      let { startNs, endNs } = window;
      let after: StorePosition | undefined;
      if (b.cursor !== undefined) {
        const pos = decodeCursor(b.cursor, 'logql', digest, isPosition);
        // The window narrows to the last entry's nanosecond (inclusive); `after` skips what
        // the earlier pages returned at that nanosecond.
        after = { tsNs: BigInt(pos.b), id: pos.id };
        if (direction === 'backward') endNs = after.tsNs + 1n < endNs ? after.tsNs + 1n : endNs;
        else startNs = after.tsNs > startNs ? after.tsNs : startNs;
      }
      const { result, searches, timeMs } = await runLogqlRequest(request, reply, opts, b.query, {
        startNs,
        endNs,
        stepNs,
        limit,
        direction,
        ...(after ? { after } : {}),
      });
      const body: Record<string, unknown> = {
        result_type: result.type,
        result: resultJson(result),
        stats: {
          lines_scanned: result.stats.entriesScanned,
          bytes_scanned: result.stats.bytesScanned,
          lines_processed: result.stats.entriesProcessed,
          store_searches: searches,
          /** Range aggregations answered by OpenSearch aggregations instead of reading lines. */
          pushed_down: result.stats.pushedDown,
          time_ms: Math.round(timeMs),
        },
      };
      if (result.type === 'streams') {
        let returned = 0;
        for (const s of result.streams) returned += s.entries.length;
        const last = result.last;
        const hasMore = returned >= limit && last !== undefined;
        body.has_more = hasMore;
        body.next_cursor =
          hasMore && last ? encodeCursor('logql', digest, { b: last.tsNs.toString(), id: last.id }) : null;
      }
      return body;
    },
  );
};
