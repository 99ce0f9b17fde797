/**
 * What exists: `GET /namespaces`, `GET /pods`, `GET /containers` under /v1/k8s/logs.
 * Index counts (window default 24 h) merged with the live cluster view; key-ordered pages
 * with `limit` + `cursor`. The token's cluster/namespace limits apply to both sources.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { nowNanos } from '../../../shared/time.ts';
import { invalidRequest } from '../../errors.ts';
import { budgetFor, checkWindow, type QueryLimits } from '../../query/query-budget.ts';
import { checkWithinScope, list, resolveWindow, scopeOf, DEFAULT_LIMIT } from '../logs/log-params.ts';
import type { DiscoveryService } from './discovery-service.ts';
import {
  decodeDiscoveryCursor,
  discoveryDigest,
  encodeDiscoveryCursor,
  type DiscoveryLevel,
  type DiscoveryQuery,
  type MergedItem,
} from './discovery-query.ts';
import {
  ContainersPageSchema,
  ContainersQuerySchema,
  NamespacesPageSchema,
  NamespacesQuerySchema,
  PodsPageSchema,
  PodsQuerySchema,
} from './schemas.ts';

export interface DiscoveryRoutesOptions {
  discovery: DiscoveryService;
  limits: QueryLimits;
}

/** Default window of the index counts. */
export const DISCOVERY_WINDOW_NS = 24n * 3_600_000_000_000n;

const errors = {
  400: ErrorEnvelopeSchema, 401: ErrorEnvelopeSchema, 403: ErrorEnvelopeSchema,
  429: ErrorEnvelopeSchema, 503: ErrorEnvelopeSchema, 504: ErrorEnvelopeSchema,
};

interface Params {
  cluster?: string;
  namespace?: string;
  pod?: string;
  start?: string;
  end?: string;
  limit?: number;
  cursor?: string;
}

export const discoveryRoutes: FastifyPluginAsyncTypebox<DiscoveryRoutesOptions> = async (app, opts) => {
  const run = async (level: DiscoveryLevel, p: Params, request: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    const scope = scopeOf(request.principal);
    const clusters = list(p.cluster);
    const namespaces = list(p.namespace);
    checkWithinScope(scope, clusters, namespaces);
    const base = { level, scope, ...(clusters ? { clusters } : {}), ...(namespaces ? { namespaces } : {}), ...(list(p.pod) ? { pods: list(p.pod) } : {}) };
    const digest = discoveryDigest(base);
    let q: DiscoveryQuery;
    if (p.cursor !== undefined) {
      const c = decodeDiscoveryCursor(p.cursor, level, digest);
      q = { ...base, startNs: c.startNs, endNs: c.endNs, limit: p.limit ?? DEFAULT_LIMIT, after: c.after };
    } else {
      const now = nowNanos();
      const { endNs } = resolveWindow(undefined, p.end, now);
      const startNs = p.start === undefined ? endNs - DISCOVERY_WINDOW_NS : resolveWindow(p.start, p.end, now).startNs;
      if (endNs < startNs) throw invalidRequest('`end` is before `start`');
      q = { ...base, startNs, endNs, limit: p.limit ?? DEFAULT_LIMIT };
    }
    const budget = budgetFor(request, reply, opts.limits);
    checkWindow(budget, q.startNs, q.endNs);
    const page = await opts.discovery.page(q, budget);
    const last = page.items[page.items.length - 1];
    return {
      items: page.items,
      has_more: page.hasMore,
      next_cursor: page.hasMore && last ? encodeDiscoveryCursor(level, digest, { after: last.key, startNs: q.startNs, endNs: q.endNs }) : null,
      live_clusters: page.liveClusters,
      took_ms: Math.round(performance.now() - started),
    };
  };

  app.get('/namespaces', {
    // Composite aggregations over the window (and the live view): heavy.
    config: { auth: 'logs:read', heavy: true },
    schema: {
      summary: 'Namespaces with logs (counts, first/last seen) and, for connected clusters, those that exist now',
      tags: ['discovery'],
      querystring: NamespacesQuerySchema,
      response: { 200: NamespacesPageSchema, ...errors },
    },
  }, async (request, reply) => {
    const { items, ...rest } = await run('namespace', request.query, request, reply);
    return { namespaces: items.map(({ key: [cluster = '', name = ''], ...seen }) => ({ cluster, name, ...seenOf(seen) })), ...rest };
  });

  app.get('/pods', {
    // Composite aggregations over the window (and the live view): heavy.
    config: { auth: 'logs:read', heavy: true },
    schema: {
      summary: 'Pods with logs (counts, first/last seen) and, for connected clusters, those that exist now (with phase)',
      tags: ['discovery'],
      querystring: PodsQuerySchema,
      response: { 200: PodsPageSchema, ...errors },
    },
  }, async (request, reply) => {
    const { items, ...rest } = await run('pod', request.query, request, reply);
    return {
      pods: items.map(({ key: [cluster = '', namespace = '', name = ''], ...seen }) => ({
        cluster, namespace, name, ...seenOf(seen),
        ...(seen.phase !== undefined ? { phase: seen.phase } : {}),
        ...(seen.node !== undefined ? { node: seen.node } : {}),
      })),
      ...rest,
    };
  });

  app.get('/containers', {
    // Composite aggregations over the window (and the live view): heavy.
    config: { auth: 'logs:read', heavy: true },
    schema: {
      summary: 'Containers with logs (counts, first/last seen) and, for connected clusters, those that exist now',
      tags: ['discovery'],
      querystring: ContainersQuerySchema,
      response: { 200: ContainersPageSchema, ...errors },
    },
  }, async (request, reply) => {
    const { items, ...rest } = await run('container', request.query, request, reply);
    return {
      containers: items.map(({ key: [cluster = '', namespace = '', pod = '', name = ''], ...seen }) => ({ cluster, namespace, pod, name, ...seenOf(seen) })),
      ...rest,
    };
  });
};

function seenOf(item: Omit<MergedItem, 'key'>) {
  return { live: item.live, log_count: item.log_count, first_seen: item.first_seen, last_seen: item.last_seen };
}
