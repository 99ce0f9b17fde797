/**
 * Collection configuration API under /v1/k8s/logs: `GET/POST/PUT/DELETE /config`,
 * `POST /config/bulk-update`, `POST /config/disable`, `POST /config/disable/cluster`.
 * Handlers translate HTTP only; the use cases are collection/collection-configs.ts. Reads
 * need `logs:read`, writes `logs:write`. Single-resource answers carry the version as
 * `ETag`; `PUT` and `DELETE` honour `If-Match` (412 when stale).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { CollectionConfigs, type StoredConfig } from '../../collection/collection-configs.ts';
import { CLUSTER_ONLY_SETTINGS, type CollectionSettings } from '../../collection/collection-config-model.ts';
import { formatEtag, formatVersion, IfMatchHeadersSchema, parseIfMatch } from '../../http/etag.ts';
import { DEFAULT_LIMIT } from '../../http/paging.ts';
import { scopeOf } from '../../http/scope.ts';
import {
  BulkResultSchema,
  BulkUpdateSchema,
  ConfigListQuerySchema,
  ConfigListSchema,
  ConfigSchema,
  CreateConfigSchema,
  DisableClusterSchema,
  DisableNamespaceSchema,
  DisableResultSchema,
  IdQuerySchema,
  ReplaceConfigSchema,
} from './schemas.ts';

const errors = {
  400: ErrorEnvelopeSchema,
  401: ErrorEnvelopeSchema,
  403: ErrorEnvelopeSchema,
  404: ErrorEnvelopeSchema,
  409: ErrorEnvelopeSchema,
  412: ErrorEnvelopeSchema,
  429: ErrorEnvelopeSchema,
  503: ErrorEnvelopeSchema,
};

/** The API view of a stored configuration. */
export function toResource(s: StoredConfig) {
  const d = s.doc;
  return {
    id: d.id,
    cluster: d.cluster,
    namespace: d.namespace,
    enabled: d.enabled,
    ...d.settings,
    created_at: d.created_at,
    updated_at: d.updated_at,
    version: formatVersion(s.version),
  };
}

function settingsOf(body: Record<string, unknown>): CollectionSettings {
  const { cluster: _c, namespace: _n, enabled: _e, ...settings } = body;
  return settings as CollectionSettings;
}

export const collectionConfigRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const configs = new CollectionConfigs(app.collectionConfigs);
  const tags = ['config'];

  app.get(
    '/config',
    {
      config: { auth: 'logs:read' },
      schema: {
        summary: 'List collection configurations (filter by cluster, namespace, enabled)',
        description:
          'Ordered by id (a cluster-wide configuration first, then its namespaces). A namespace-limited token sees only its namespaces’ configurations.',
        tags,
        querystring: ConfigListQuerySchema,
        response: { 200: ConfigListSchema, ...errors },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await configs.list(
        scopeOf(request.principal),
        { cluster: q.cluster, namespace: q.namespace, enabled: q.enabled },
        { limit: q.limit ?? DEFAULT_LIMIT, cursor: q.cursor },
      );
      return { configs: page.items.map(toResource), has_more: page.has_more, next_cursor: page.next_cursor };
    },
  );

  app.post(
    '/config',
    {
      config: { auth: 'logs:write' },
      schema: {
        summary: 'Create a collection configuration (cluster-wide, or for one namespace)',
        description: `One configuration per scope (409 for a second). A namespace configuration wins over the cluster-wide one for its namespace; settings left out are inherited. ${CLUSTER_ONLY_SETTINGS.join(' and ')} are cluster-wide only.`,
        tags,
        body: CreateConfigSchema,
        response: { 201: ConfigSchema, ...errors },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const created = await configs.create(scopeOf(request.principal), {
        cluster: b.cluster,
        namespace: b.namespace ?? null,
        enabled: b.enabled ?? true,
        settings: settingsOf(b),
      });
      reply.header('ETag', formatEtag(created.version));
      return reply.status(201).send(toResource(created));
    },
  );

  app.put(
    '/config',
    {
      config: { auth: 'logs:write' },
      schema: {
        summary: 'Replace a collection configuration (`?id=`); honours If-Match',
        tags,
        querystring: IdQuerySchema,
        headers: IfMatchHeadersSchema,
        body: ReplaceConfigSchema,
        response: { 200: ConfigSchema, ...errors },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const out = await configs.replace(
        scopeOf(request.principal),
        request.query.id,
        { enabled: b.enabled ?? true, settings: settingsOf(b) },
        parseIfMatch(request.headers['if-match']),
      );
      reply.header('ETag', formatEtag(out.version));
      return toResource(out);
    },
  );

  app.delete(
    '/config',
    {
      config: { auth: 'logs:write' },
      schema: {
        summary: 'Delete a collection configuration (`?id=`); honours If-Match',
        description: 'A namespace falls back to the cluster-wide configuration, a cluster to the defaults.',
        tags,
        querystring: IdQuerySchema,
        headers: IfMatchHeadersSchema,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await configs.delete(scopeOf(request.principal), request.query.id, parseIfMatch(request.headers['if-match']));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/config/bulk-update',
    {
      config: { auth: 'logs:write' },
      schema: {
        summary: 'Enable, disable or patch several configurations; a result per item',
        description:
          'Items apply in order, each whole or not at all; one failing (404, 403, 412 with `version`, 400) does not stop the others. Always 200 when the request itself is valid.',
        tags,
        body: BulkUpdateSchema,
        response: { 200: BulkResultSchema, ...errors },
      },
    },
    async (request) => {
      const items = request.body.items.map((i) => ({
        id: i.id,
        enabled: i.enabled,
        set: i.set,
        unset: i.unset as Array<keyof CollectionSettings> | undefined,
        version: i.version ? (parseIfMatch(i.version) as { seqNo: number; primaryTerm: number }) : undefined,
      }));
      const results = (await configs.bulkUpdate(scopeOf(request.principal), items)).map((r) =>
        r.ok ? { ...r, config: toResource(r.config) } : r,
      );
      const succeeded = results.filter((r) => r.ok).length;
      return { results, succeeded, failed: results.length - succeeded };
    },
  );

  app.post(
    '/config/disable',
    {
      config: { auth: 'logs:write' },
      schema: {
        summary: 'Disable collection for a namespace (idempotent; re-enable with PUT or bulk-update)',
        tags,
        body: DisableNamespaceSchema,
        response: { 200: DisableResultSchema, ...errors },
      },
    },
    async (request, reply) => {
      const out = await configs.disable(scopeOf(request.principal), request.body.cluster, request.body.namespace);
      reply.header('ETag', formatEtag(out.config.version));
      return { config: toResource(out.config), changed: out.changed };
    },
  );

  app.post(
    '/config/disable/cluster',
    {
      config: { auth: 'logs:write' },
      schema: {
        summary: 'Disable all collection for a cluster (idempotent; namespace configurations cannot re-enable it)',
        tags,
        body: DisableClusterSchema,
        response: { 200: DisableResultSchema, ...errors },
      },
    },
    async (request, reply) => {
      const out = await configs.disable(scopeOf(request.principal), request.body.cluster, null);
      reply.header('ETag', formatEtag(out.config.version));
      return { config: toResource(out.config), changed: out.changed };
    },
  );
};
