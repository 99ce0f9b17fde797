/**
 * `POST /v1/k8s/logs/search`: the full search over log records (heavy rate class).
 *
 * The body compiles to the same LogQuery as `GET /` (so the token's cluster/namespace
 * limits are in every query, aggregations and exports included) plus the extras: counts
 * by term and a time histogram over all matches (first page only), highlight fragments.
 * With `Accept: application/x-ndjson` every match is streamed instead (export.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import type { LogSearch } from '../../query/log-search.ts';
import type { FieldFilter, LogQuery } from '../../query/log-query.ts';
import { invalidRequest } from '../../errors.ts';
import { RegexError, toLuceneRegex } from '../../query/lucene-regex.ts';
import { IntervalError, resolveInterval } from '../../query/histogram-interval.ts';
import { compileAggregations, compileHighlight, shapeHistogram, shapeTermCounts } from '../../query/search-aggregations.ts';
import { SearchBodySchema, SearchResponseSchema } from './search-schemas.ts';
import type { Static } from 'typebox';
import { applyCursor, checkWithinScope, digestOf, parseLabels, resolveWindow, scopeOf, DEFAULT_LIMIT } from './log-params.ts';
import { sendExport, wantsNdjson } from './export.ts';
import { budgetFor, checkWindow, type QueryLimits } from '../../query/query-budget.ts';

export interface SearchRoutesOptions {
  search: LogSearch;
  limits: QueryLimits;
}

const errors = {
  400: ErrorEnvelopeSchema, 401: ErrorEnvelopeSchema, 403: ErrorEnvelopeSchema, 413: ErrorEnvelopeSchema,
  429: ErrorEnvelopeSchema, 503: ErrorEnvelopeSchema, 504: ErrorEnvelopeSchema,
};

type SearchBody = Static<typeof SearchBodySchema>;

export function fieldFilters(body: SearchBody): FieldFilter[] | undefined {
  return body.fields?.map((f, i) => {
    if (f.op === 'eq' || f.op === 'neq') {
      if (f.value === undefined) throw invalidRequest(`fields[${i}]: "${f.op}" needs a value`);
      return { field: f.field, op: f.op, value: String(f.value) };
    }
    if (f.value !== undefined) throw invalidRequest(`fields[${i}]: "${f.op}" takes no value`);
    return { field: f.field, op: f.op };
  });
}

function regexOf(body: SearchBody): LogQuery['regex'] {
  if (body.regex === undefined) return undefined;
  try {
    return { pattern: toLuceneRegex(body.regex), caseInsensitive: body.case_sensitive === false };
  } catch (err) {
    if (err instanceof RegexError) throw invalidRequest(`regex: ${err.message}`);
    throw err;
  }
}

export const searchRoutes: FastifyPluginAsyncTypebox<SearchRoutesOptions> = async (app, opts) => {
  app.post('/search', {
    config: { auth: 'logs:read', heavy: true },
    schema: {
      summary: 'Search log records (filters, full text, exact substrings, regex, fields, counts, histogram)',
      description: 'With `Accept: application/x-ndjson` every match is streamed as NDJSON (limit and cursor ignored; `max` caps it).',
      tags: ['logs'],
      body: SearchBodySchema,
      response: { 200: SearchResponseSchema, ...errors },
    },
  }, async (request, reply) => {
    const b = request.body;
    const scope = scopeOf(request.principal);
    checkWithinScope(scope, b.clusters, b.namespaces);
    const caseInsensitive = b.case_sensitive === false;
    const filters = {
      clusters: b.clusters, namespaces: b.namespaces, pods: b.pods, containers: b.containers, nodes: b.nodes,
      streams: b.streams, levels: b.levels, text: b.query,
      contains: b.contains?.map((value) => ({ value, caseInsensitive })),
      regex: regexOf(b),
      labels: parseLabels(b.labels),
      fields: fieldFilters(b),
      direction: b.sort?.order === 'asc' ? ('forward' as const) : ('backward' as const),
    };
    const digest = digestOf({ ...filters, scope, endpoint: 'search' });
    const window = resolveWindow(b.start === undefined ? undefined : String(b.start), b.end === undefined ? undefined : String(b.end));
    const whole: LogQuery = { scope, ...filters, ...window, limit: b.limit ?? DEFAULT_LIMIT };
    const budget = budgetFor(request, reply, opts.limits);
    // An export is every match: limit and cursor do not apply.
    if (wantsNdjson(request)) {
      checkWindow(budget, whole.startNs, whole.endNs);
      return sendExport(request, reply, opts.search, whole, b.max, budget);
    }
    const query = applyCursor(whole, b.cursor, digest);
    checkWindow(budget, query.startNs, query.endNs);

    // Counts describe the whole result, so they come with the first page only.
    const firstPage = b.cursor === undefined;
    let interval: string | undefined;
    if (firstPage && b.histogram !== undefined && b.histogram !== false) {
      try {
        interval = resolveInterval(query.startNs, query.endNs, b.histogram === true ? undefined : b.histogram.interval);
      } catch (err) {
        if (err instanceof IntervalError) throw invalidRequest(`histogram.interval: ${err.message}`);
        throw err;
      }
    }
    const aggKeys = firstPage ? (b.aggregations ?? []) : [];
    const aggs = compileAggregations(aggKeys, interval ? { interval, startNs: query.startNs, endNs: query.endNs } : undefined);
    const res = await opts.search.pageWithExtras(query, digest, { aggs, highlight: b.highlight ? compileHighlight() : undefined }, budget);
    return {
      ...res.page,
      ...(aggKeys.length ? { aggregations: shapeTermCounts(aggKeys, res.aggregations) } : {}),
      ...(interval ? { histogram: shapeHistogram(interval, res.aggregations) } : {}),
      ...(res.highlights ? { highlights: res.highlights } : {}),
    };
  });
};
