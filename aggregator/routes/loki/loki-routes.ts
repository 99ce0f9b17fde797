/**
 * The Loki HTTP API under `/loki/api/v1/` (issue 13 §3), read side and live tail, so that
 * Grafana's Loki data source and logcli work against the aggregator unchanged.
 *
 * - Parameters, defaults and error text are Loki's (loki-params.ts); errors leave as Loki
 *   writes them (pkg/util/server/error.go): `text/plain`, the message only, with the
 *   status of the product's error (400 for bad parameters and LogQL parse errors, 401/403
 *   for auth, 400 for a query past the engine's bounds (Loki's status; the product routes say 422), 429, 504 with Loki's timeout text …).
 * - Bodies are Loki's JSON (loki-json.ts); queries run through the same engine, store and
 *   error mapping as `POST /search/logql` (routes/logql/run-logql.ts).
 * - Auth: `Authorization: Bearer <token>` or basic auth with the token as the password;
 *   every route needs `logs:read`, and a restricted token's clusters / namespaces are
 *   applied inside every store query, labels, series and volumes included.
 *   `X-Scope-OrgID` is accepted and ignored (there are no tenants: the token decides).
 * - Rate classes: queries, volume ranges, detected fields and tail are heavy; label,
 *   series and stats look-ups are standard (Grafana's label browser calls them often).
 * - GET and form POST (`application/x-www-form-urlencoded`) for every route but tail;
 *   as in Go's `r.Form`, a body value wins over the same URL parameter.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import { Type } from 'typebox';
import { formatNanos, nowNanos } from '../../../shared/time.ts';
import { AppError } from '../../errors.ts';
import type { OpenSearch } from '../../store/opensearch.ts';
import type { PitGate } from '../../query/pit-gate.ts';
import { budgetFor, checkWindow, type QueryLimits } from '../../query/query-budget.ts';
import { scopeOf } from '../../http/scope.ts';
import type { TailFeed } from '../../tail/tail-feed.ts';
import { parseExpr, parseMatchers } from '../../logql/parser.ts';
import { printExpr, printMatchers } from '../../logql/printer.ts';
import { runQuery } from '../../logql/engine.ts';
import { OpenSearchLogStore } from '../../logql/opensearch-store.ts';
import type { LogSelectorExpr, Matcher } from '../../logql/ast.ts';
import { logqlHttpError, runLogqlRequest } from '../logql/run-logql.ts';
import {
  LokiParamError,
  lokiBounds,
  lokiForm,
  lokiLimit,
  MAX_ENTRIES_LIMIT,
  parseInstantQuery,
  parseRangeQuery,
  parseTailQuery,
  seriesMatches,
  type LokiForm,
} from './loki-params.ts';
import { listStreams, type CatalogQuery } from './stream-catalog.ts';
import {
  buildInfo,
  indexStats,
  labelNames,
  labelValues,
  queryResponse,
  seriesList,
  success,
  volumeVector,
} from './loki-json.ts';
import { detectedFieldValues, detectFields } from './detected-fields.ts';
import { groupPatterns } from './patterns.ts';
import { serveTail, type TailSession } from './loki-tail.ts';
import { resultJson } from '../logql/result-json.ts';

export const LOKI_PREFIX = '/loki/api/v1';

export interface LokiRoutesOptions {
  opensearch: OpenSearch;
  indexPrefix: string;
  pits: PitGate;
  limits: QueryLimits;
  /** The live tail feed of this replica (app.bulkWriter.tail) and each subscriber's buffer. */
  tailFeed: TailFeed;
  tailBufferRecords: number;
  /** Product version, for `status/buildinfo`. */
  version: string;
  /** Largest form body, bytes. */
  bodyLimitBytes: number;
}

// Loki ignores parameters it does not know (Grafana sends some), so the schemas only document.
const Str = Type.Optional(Type.String());
const StrOrList = Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())]));
const LokiParams = Type.Object(
  {
    query: Str,
    time: Str,
    start: Str,
    end: Str,
    since: Str,
    step: Str,
    interval: Str,
    limit: Str,
    direction: Str,
    'match[]': StrOrList,
    match: StrOrList,
    targetLabels: Str,
    aggregateBy: Str,
    line_limit: Str,
    delay_for: Str,
  },
  { additionalProperties: true },
);

const VOLUME_DEFAULT_LIMIT = 100;
const DETECTED_LINE_LIMIT = 100;
const DETECTED_FIELDS_LIMIT = 1000;
/** Lines a `patterns` request groups (the newest of the range), and patterns it answers. */
const PATTERN_LINE_LIMIT = 20_000;
const MAX_PATTERNS = 500;

/**
 * Loki's text for a query past its timeout (pkg/util/server/error.go `ErrDeadlineExceeded`,
 * with 504): what a Grafana user of Loki knows. The product's own message (which names the
 * configured timeout) stays on the product routes.
 */
export const LOKI_DEADLINE_EXCEEDED =
  'request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed';

/** An error as Loki writes it: status and plain text. 5xx text is never internal detail. */
function lokiError(err: FastifyError | Error): { status: number; message: string; retryAfter?: number } {
  if (err instanceof LokiParamError) return { status: 400, message: err.message };
  const mapped = logqlHttpError(err);
  if (mapped instanceof AppError && mapped.errorName === 'AGG_ERR_QUERY_TIMEOUT') {
    return { status: 504, message: LOKI_DEADLINE_EXCEEDED };
  }
  // Loki answers its query limits (max series, bytes, entries, streams) with 400, which is
  // what Grafana and logcli show as the query's error; the product routes keep 422.
  if (mapped instanceof AppError && mapped.errorName === 'AGG_ERR_QUERY_LIMIT') {
    return { status: 400, message: mapped.message };
  }
  if (mapped instanceof AppError) {
    return {
      status: mapped.status,
      message: mapped.message,
      ...(mapped.retryAfterSeconds !== undefined ? { retryAfter: mapped.retryAfterSeconds } : {}),
    };
  }
  const fe = err as FastifyError;
  if (fe.validation || (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)) {
    return { status: fe.statusCode ?? 400, message: fe.message };
  }
  return { status: 500, message: 'internal error' };
}

function parseFormBody(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** `query` as a bare selector (labels, series, stats, volume); undefined when absent. */
function selectorOf(query: string | undefined): Matcher[] | undefined {
  if (query === undefined) return undefined;
  try {
    return parseMatchers(query);
  } catch (err) {
    throw logqlHttpError(err);
  }
}

export async function lokiRoutes(app: FastifyInstance, opts: LokiRoutesOptions): Promise<void> {
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: opts.bodyLimitBytes },
    (_req, body, done) => done(null, parseFormBody(body as string)),
  );

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = lokiError(err);
    if (e.status >= 500) request.log.error({ err: (err as { cause?: unknown }).cause ?? err }, 'loki request failed');
    if (e.retryAfter !== undefined) reply.header('Retry-After', e.retryAfter);
    return reply
      .status(e.status)
      .header('Content-Type', 'text/plain; charset=utf-8')
      .header('X-Content-Type-Options', 'nosniff')
      .send(e.message);
  });

  const formOf = (request: FastifyRequest): LokiForm =>
    lokiForm(request.body as Record<string, unknown> | undefined, request.query as Record<string, unknown>);

  const catalog = async (request: FastifyRequest, reply: FastifyReply, q: Omit<CatalogQuery, 'scope'>) => {
    const budget = budgetFor(request, reply, opts.limits);
    checkWindow(budget, q.startNs, q.endNs);
    return listStreams(opts.opensearch, opts.indexPrefix, { ...q, scope: scopeOf(request.principal) }, budget);
  };

  /** GET and form POST of one read route. */
  const both = (
    path: string,
    summary: string,
    heavy: boolean,
    handler: (request: FastifyRequest, reply: FastifyReply, form: LokiForm) => Promise<unknown>,
  ) => {
    for (const method of ['GET', 'POST'] as const) {
      app.route({
        method,
        url: path,
        config: { auth: 'logs:read', heavy, basicAuth: true },
        schema: {
          summary: `Loki: ${summary}`,
          tags: ['loki'],
          // The form POST twin is the same operation: documented (and fuzzed) once, as GET.
          ...(method === 'GET' ? { querystring: LokiParams } : { hide: true }),
        },
        handler: (request, reply) => handler(request, reply, formOf(request)),
      });
    }
  };

  both('/query', 'instant query', true, async (request, reply, form) => {
    const p = parseInstantQuery(form, nowNanos());
    const run = await runLogqlRequest(request, reply, opts, p.query, {
      startNs: p.timeNs,
      endNs: p.timeNs,
      stepNs: 0n,
      limit: p.limit,
      direction: p.direction,
    });
    return queryResponse(run.result, run.timeMs);
  });

  both('/query_range', 'range query', true, async (request, reply, form) => {
    const p = parseRangeQuery(form, nowNanos());
    const run = await runLogqlRequest(request, reply, opts, p.query, p);
    return queryResponse(run.result, run.timeMs);
  });

  both('/labels', 'label names', false, async (request, reply, form) => {
    const { startNs, endNs } = lokiBounds(form, nowNanos());
    const matchers = selectorOf(form.get('query'));
    const streams = await catalog(request, reply, { selectors: matchers ? [matchers] : [], startNs, endNs });
    return success(labelNames(streams));
  });

  both('/label/:name/values', 'values of a label', false, async (request, reply, form) => {
    const { name } = request.params as { name: string };
    const { startNs, endNs } = lokiBounds(form, nowNanos());
    const matchers = selectorOf(form.get('query'));
    const streams = await catalog(request, reply, { selectors: matchers ? [matchers] : [], startNs, endNs });
    return success(labelValues(streams, name));
  });

  both('/series', 'streams matching selectors', false, async (request, reply, form) => {
    const { startNs, endNs } = lokiBounds(form, nowNanos());
    const selectors = seriesMatches(form).map((m) => selectorOf(m)!);
    const streams = await catalog(request, reply, { selectors, startNs, endNs });
    return success(seriesList(streams));
  });

  both('/index/stats', 'streams, entries and bytes of a selector', false, async (request, reply, form) => {
    const p = parseRangeQuery(form, nowNanos());
    const matchers = selectorOf(p.query) ?? [];
    const streams = await catalog(request, reply, {
      selectors: [matchers],
      startNs: p.startNs,
      endNs: p.endNs,
      withBytes: true,
    });
    return indexStats(streams);
  });

  const volumeOptions = (form: LokiForm, matchers: Matcher[]) => {
    const limit = lokiLimit(form, 'limit', VOLUME_DEFAULT_LIMIT);
    const raw = form.get('aggregateBy') ?? 'series';
    if (raw !== 'series' && raw !== 'labels') throw new LokiParamError('invalid aggregation option');
    const listed = (form.get('targetLabels') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const targets = listed.length ? listed : [...new Set(matchers.map((m) => m.name))];
    return { limit, aggregateBy: raw as 'series' | 'labels', targets };
  };

  both('/index/volume', 'bytes per label set', false, async (request, reply, form) => {
    const { startNs, endNs } = lokiBounds(form, nowNanos());
    if (endNs < startNs) throw new LokiParamError('end timestamp must not be before or equal to start time');
    const matchers = selectorOf(form.get('query') ?? '') ?? [];
    const v = volumeOptions(form, matchers);
    const streams = await catalog(request, reply, { selectors: [matchers], startNs, endNs, withBytes: true });
    return success({ resultType: 'vector', result: volumeVector(streams, v.targets, v.aggregateBy, v.limit, endNs) });
  });

  both('/index/volume_range', 'bytes per label set and step', true, async (request, reply, form) => {
    const p = parseRangeQuery(form, nowNanos());
    const matchers = selectorOf(p.query) ?? [];
    const v = volumeOptions(form, matchers);
    if (v.aggregateBy === 'labels') {
      throw new LokiParamError(
        'aggregateBy=labels is not supported by index/volume_range here; use aggregateBy=series',
      );
    }
    // Loki's volume over time is bytes per step window: the engine computes exactly that.
    const by = v.targets.map((t) => (/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(t) ? t : '')).filter((t) => t !== '');
    const stepSeconds = p.stepNs / 1_000_000_000n;
    const rangeText = stepSeconds * 1_000_000_000n === p.stepNs ? `${stepSeconds}s` : `${p.stepNs / 1_000_000n}ms`;
    const q = `sum by (${by.join(', ')}) (bytes_over_time(${printMatchers(matchers)} [${rangeText}]))`;
    const run = await runLogqlRequest(request, reply, opts, q, { ...p, direction: 'forward' });
    return success({ resultType: 'matrix', result: resultJson(run.result) });
  });

  both('/format_query', 'the query in its canonical form', false, async (_request, _reply, form) => {
    try {
      return success(printExpr(parseExpr(form.get('query') ?? '')));
    } catch (err) {
      throw logqlHttpError(err);
    }
  });

  /** The newest `line_limit` lines of a log query, as detected-fields input (labels and metadata apart). */
  const detectedInput = async (request: FastifyRequest, reply: FastifyReply, form: LokiForm) => {
    const { startNs, endNs } = lokiBounds(form, nowNanos());
    if (endNs < startNs) throw new LokiParamError('end timestamp must not be before or equal to start time');
    const lineLimit = lokiLimit(form, 'line_limit', DETECTED_LINE_LIMIT);
    const run = await runLogqlRequest(request, reply, opts, form.get('query') ?? '', {
      startNs,
      endNs,
      stepNs: 0n,
      limit: Math.min(lineLimit, MAX_ENTRIES_LIMIT),
      direction: 'backward',
    });
    if (run.result.type !== 'streams') throw new LokiParamError('detected fields need a log query');
    return run.result.streams.flatMap((s) => {
      const { detected_level, ...labels } = s.labels;
      const meta: Record<string, string> = detected_level === undefined ? {} : { detected_level };
      return s.entries.map((e) => ({ line: e.line, labels, meta }));
    });
  };

  both('/detected_fields', 'fields found in the lines of a query', true, async (request, reply, form) => {
    const limit = lokiLimit(form, form.get('limit') !== undefined ? 'limit' : 'field_limit', DETECTED_FIELDS_LIMIT);
    return { fields: detectFields(await detectedInput(request, reply, form), limit), limit };
  });

  both('/detected_field/:name/values', 'values of one detected field', true, async (request, reply, form) => {
    const { name } = request.params as { name: string };
    const limit = lokiLimit(form, 'limit', DETECTED_FIELDS_LIMIT);
    return { values: detectedFieldValues(await detectedInput(request, reply, form), name, limit), limit };
  });

  both('/patterns', 'line patterns of a log query, counted per step', true, async (request, reply, form) => {
    const p = parseRangeQuery(form, nowNanos());
    const run = await runLogqlRequest(request, reply, opts, p.query, {
      ...p,
      limit: PATTERN_LINE_LIMIT,
      direction: 'backward',
    });
    if (run.result.type !== 'streams') throw new LokiParamError('patterns need a log query');
    const lines = run.result.streams.flatMap((s) =>
      s.entries.map((e) => ({ tsNs: e.tsNs, line: e.line, level: s.labels['detected_level'] ?? '' })),
    );
    const data = groupPatterns(lines, { startNs: p.startNs, stepNs: p.stepNs, maxPatterns: MAX_PATTERNS });
    if (lines.length < PATTERN_LINE_LIMIT) return { status: 'success', data };
    // Bounded, and said so: the counts are of the newest lines only.
    const oldest = lines.reduce((m, l) => (l.tsNs < m ? l.tsNs : m), lines[0]!.tsNs);
    return {
      status: 'success',
      data,
      warnings: [
        `patterns of the newest ${PATTERN_LINE_LIMIT} lines only (from ${formatNanos(oldest)}); narrow the range for counts of all lines`,
      ],
    };
  });

  both('/detected_labels', 'stream labels and their cardinality', false, async (request, reply, form) => {
    const { startNs, endNs } = lokiBounds(form, nowNanos());
    const matchers = selectorOf(form.get('query'));
    const streams = await catalog(request, reply, { selectors: matchers ? [matchers] : [], startNs, endNs });
    const detectedLabels = labelNames(streams).map((label) => ({
      label,
      cardinality: labelValues(streams, label).length,
    }));
    return { detectedLabels };
  });

  both('/status/buildinfo', 'build information', false, async () =>
    buildInfo(opts.version, `node ${process.versions.node}`),
  );

  app.route({
    method: 'GET',
    url: '/tail',
    // `handler` answers a plain GET (400); `wsHandler` serves the upgraded connection.
    config: { auth: 'logs:read', heavy: true, basicAuth: true },
    schema: { summary: 'Loki: live tail (WebSocket)', tags: ['loki'], querystring: LokiParams },
    // Parameters and query are checked before the upgrade, so a mistake is a plain 400.
    preValidation: async (request) => {
      const p = parseTailQuery(formOf(request), nowNanos());
      let expr;
      try {
        expr = parseExpr(p.query);
      } catch (err) {
        throw logqlHttpError(err);
      }
      if (expr.kind !== 'log') throw new LokiParamError('tail requires a log query, not a metric query');
      const session: TailSession = {
        expr,
        scope: scopeOf(request.principal),
        startNs: p.startNs,
        limit: p.limit,
        delayForSeconds: p.delayForSeconds,
      };
      tailSessions.set(request, session);
    },
    handler: async () => {
      throw new LokiParamError('tail is served over a WebSocket: send an upgrade request');
    },
    wsHandler: (socket, request) => {
      const session = tailSessions.get(request)!;
      void serveTail(socket, session, {
        feed: opts.tailFeed,
        bufferRecords: opts.tailBufferRecords,
        now: nowNanos,
        log: request.log,
        backfill: async (expr: LogSelectorExpr, startNs, endNs, limit, signal) => {
          const store = new OpenSearchLogStore({
            client: opts.opensearch,
            indexPrefix: opts.indexPrefix,
            scope: session.scope,
            deadline: { signal, timeoutMs: opts.limits.heavyTimeoutMs },
            pits: opts.pits,
            onCleanupError: (err) => request.log.warn({ err }, 'loki tail: point in time not deleted'),
          });
          return runQuery(printExpr(expr), { startNs, endNs, stepNs: 0n, limit, direction: 'backward' }, store, {
            signal,
          });
        },
      });
    },
  });
}

/** The parsed tail request, from its preValidation hook to its WebSocket handler. */
const tailSessions = new WeakMap<FastifyRequest, TailSession>();
