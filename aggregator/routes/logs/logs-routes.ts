/** Log retrieval: `GET /v1/k8s/logs/` (newest first, cursor paging). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { Levels } from '../../../shared/record.ts';
import type { LogSearch } from '../../query/log-search.ts';
import type { LogQuery } from '../../query/log-query.ts';
import { invalidRequest } from '../../errors.ts';
import { LogsPageSchema, ListLogsQuerySchema } from './schemas.ts';
import { applyCursor, checkWithinScope, digestOf, list, parseLabels, resolveWindow, scopeOf, DEFAULT_LIMIT } from './log-params.ts';

export interface LogsRoutesOptions {
  search: LogSearch;
}

const errors = { 400: ErrorEnvelopeSchema, 401: ErrorEnvelopeSchema, 403: ErrorEnvelopeSchema, 429: ErrorEnvelopeSchema, 503: ErrorEnvelopeSchema };

export const logsRoutes: FastifyPluginAsyncTypebox<LogsRoutesOptions> = async (app, opts) => {
  app.get('/', {
    config: { auth: 'logs:read' },
    schema: {
      summary: 'List log records, newest first',
      tags: ['logs'],
      querystring: ListLogsQuerySchema,
      response: { 200: LogsPageSchema, ...errors },
    },
  }, async (request) => {
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
    const query: LogQuery = applyCursor(
      { scope, ...filters, ...resolveWindow(p.start, p.end), limit: p.limit ?? DEFAULT_LIMIT },
      p.cursor,
      digest,
    );
    return opts.search.page(query, digest);
  });
};
