/**
 * Log retrieval: `GET /v1/k8s/logs/` (newest first, cursor paging). With
 * `Accept: application/x-ndjson` every match is streamed as NDJSON instead (export.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { Levels } from '../../../shared/record.ts';
import type { LogSearch } from '../../query/log-search.ts';
import type { LogQuery } from '../../query/log-query.ts';
import { invalidRequest } from '../../errors.ts';
import { LogsPageSchema, ListLogsQuerySchema } from './schemas.ts';
import { sendExport, wantsNdjson } from './export.ts';
import { searchRoutes } from './search-routes.ts';
import { applyCursor, checkWithinScope, digestOf, list, parseLabels, resolveWindow, scopeOf, DEFAULT_LIMIT } from './log-params.ts';
import { budgetFor, checkWindow, type QueryLimits } from '../../query/query-budget.ts';

export interface LogsRoutesOptions {
  search: LogSearch;
  limits: QueryLimits;
}

const errors = {
  400: ErrorEnvelopeSchema, 401: ErrorEnvelopeSchema, 403: ErrorEnvelopeSchema, 413: ErrorEnvelopeSchema,
  429: ErrorEnvelopeSchema, 503: ErrorEnvelopeSchema, 504: ErrorEnvelopeSchema,
};

export const logsRoutes: FastifyPluginAsyncTypebox<LogsRoutesOptions> = async (app, opts) => {
  // POST /search shares this area's prefix and LogSearch.
  await app.register(searchRoutes, { search: opts.search, limits: opts.limits });
  app.get('/', {
    // A substring match scans messages and an export reads everything: both are heavy.
    config: { auth: 'logs:read', heavyWhen: (request) => (request.query as { q?: unknown }).q !== undefined || wantsNdjson(request) },
    schema: {
      summary: 'List log records, newest first',
      description: 'With `Accept: application/x-ndjson` every match is streamed as NDJSON (limit and cursor ignored; `max` caps it).',
      tags: ['logs'],
      querystring: ListLogsQuerySchema,
      response: { 200: LogsPageSchema, ...errors },
    },
  }, async (request, reply) => {
    const p = request.query;
    const scope = scopeOf(request.principal);
    const clusters = list(p.cluster);
    const namespaces = list(p.namespace);
    checkWithinScope(scope, clusters, namespaces);
    const levels = list(p.level);
    const badLevel = levels?.find((l) => !(Levels as readonly string[]).includes(l));
    if (badLevel) throw invalidRequest(`level: unknown level "${badLevel}"; use ${Levels.join(', ')}`);
    const filters = {
      clusters, namespaces, pods: list(p.pod), containers: list(p.container),
      streams: p.stream ? [p.stream] : undefined, levels,
      contains: p.q ? [{ value: p.q, caseInsensitive: true }] : undefined,
      labels: parseLabels(p.labels),
      direction: p.direction ?? 'backward',
    };
    const digest = digestOf({ ...filters, scope });
    const budget = budgetFor(request, reply, opts.limits);
    const whole: LogQuery = { scope, ...filters, ...resolveWindow(p.start, p.end), limit: p.limit ?? DEFAULT_LIMIT };
    // An export is every match: limit and cursor do not apply.
    if (wantsNdjson(request)) {
      checkWindow(budget, whole.startNs, whole.endNs);
      return sendExport(request, reply, opts.search, whole, p.max, budget);
    }
    const query = applyCursor(whole, p.cursor, digest);
    checkWindow(budget, query.startNs, query.endNs);
    return opts.search.page(query, digest, budget);
  });
};
