/**
 * Cluster management (issue 8 §3) under /v1/k8s/logs:
 *   GET    /clusters/status            status of every known cluster
 *   GET    /clusters/configs           registered clusters, paged
 *   POST   /clusters/configs           register a cluster (optionally issuing its ingest token)
 *   PUT    /clusters/configs?id=       replace a registration (If-Match honoured)
 *   DELETE /clusters/configs?id=       delete it: stops its live view, revokes its ingest tokens, keeps its logs
 *   POST   /clusters/refresh[?id=]     re-read registrations, reconnect, report per cluster
 *
 * Access: reading needs `logs:read`, writing and refreshing `admin`. A registration and its
 * status are cluster-wide resources (they cover every namespace's agents), so a token limited
 * to clusters sees only those clusters, and a token limited to namespaces sees none (empty
 * lists; naming a cluster is a 403) — the rule `scopeCovers` applies to every cluster-wide
 * resource. Credentials are write-only: no response carries them.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { TokenStore } from '../../auth/token-store.ts';
import { AppError, invalidRequest, notFound } from '../../errors.ts';
import { formatEtag, formatVersion, IfMatchHeadersSchema, parseIfMatch, type DocVersion } from '../../http/etag.ts';
import { DEFAULT_LIMIT } from '../../http/paging.ts';
import { scopeCovers, scopeOf, type AccessScope } from '../../http/scope.ts';
import type { HeartbeatStore } from '../../store/heartbeat-store.ts';
import type { OpenSearch } from '../../store/opensearch.ts';
import type { ClusterRegistry } from '../../cluster/cluster-registry.ts';
import {
  credentialKind,
  publicView,
  type ClusterDoc,
  type ClusterSecrets,
} from '../../cluster/cluster-registration.ts';
import type { Stored } from '../../store/system-repository.ts';
import type { Static } from 'typebox';
import { clusterActivity } from './cluster-activity.ts';
import { agentStatuses, ingestRate, overallState, summariseAgents } from './cluster-status.ts';
import type {
  ApiInputSchema} from './cluster-schemas.ts';
import {
  ClusterListQuerySchema,
  ClusterListSchema,
  ClusterSchema,
  ClusterStatusSchema,
  ConnectionStateSchema,
  CreateClusterSchema,
  IdQuerySchema,
  OptionalIdQuerySchema,
  ReplaceClusterSchema,
  errors,
} from './cluster-schemas.ts';
import { Type } from 'typebox';

/** Window of `ingest_rate_per_second`. */
const RATE_WINDOW_MS = 5 * 60_000;

export interface ClusterRoutesOptions {
  registry: ClusterRegistry;
  tokens: TokenStore;
  heartbeats: HeartbeatStore;
  opensearch: OpenSearch;
  indexPrefix: string;
  agentStaleAfterMs: number;
}

/** A cluster-wide resource: visible only to tokens without a namespace limit (see the header). */
const sees = (scope: AccessScope, cluster: string) => scopeCovers(scope, cluster, null);

function checkSees(scope: AccessScope, cluster: string) {
  if (!sees(scope, cluster)) throw new AppError('AGG_ERR_FORBIDDEN', `token may not see cluster ${cluster}`);
}

/** If-Match as a repository precondition: `*` = the registration must exist (checked by the caller). */
function precondition(header: string | string[] | undefined): DocVersion | undefined | '*' {
  return parseIfMatch(header);
}

type ApiInput = Static<typeof ApiInputSchema>;

/** The secrets of an API input; 400 on a contradictory combination. Never echoes values. */
function secretsOf(api: ApiInput): ClusterSecrets | undefined {
  const hasCert = api.client_certificate_data !== undefined || api.client_key_data !== undefined;
  if (api.token !== undefined && hasCert)
    throw invalidRequest('api: give either `token` or a client certificate, not both');
  if (hasCert && (api.client_certificate_data === undefined || api.client_key_data === undefined)) {
    throw invalidRequest('api: `client_certificate_data` and `client_key_data` go together');
  }
  if (api.token !== undefined) return { token: api.token };
  if (hasCert) return { client_certificate_data: api.client_certificate_data!, client_key_data: api.client_key_data! };
  return undefined;
}

export const clusterRoutes: FastifyPluginAsyncTypebox<ClusterRoutesOptions> = async (app, o) => {
  const { registry } = o;

  /** Builds the stored document of an input; `previous` supplies credentials not resent. */
  function toDoc(
    id: string,
    input: {
      name?: string | undefined;
      labels?: Record<string, string> | undefined;
      api?: ApiInput | null | undefined;
    },
    previous: ClusterDoc | undefined,
  ): ClusterDoc {
    const now = new Date().toISOString();
    let api: ClusterDoc['api'] = null;
    let credentials: ClusterDoc['credentials'] = null;
    if (input.api) {
      const given = secretsOf(input.api);
      let secrets: ClusterSecrets = {};
      if (given) {
        secrets = given;
        credentials = registry.seal(given);
      } else if (previous?.credentials && previous.api) {
        // Not resent: keep the stored credentials (still sealed; their kind is unchanged).
        credentials = previous.credentials;
        api = {
          server: input.api.server,
          ca_data: input.api.ca_data ?? null,
          insecure_skip_tls_verify: input.api.insecure_skip_tls_verify ?? false,
          auth: previous.api.auth,
        };
      }
      api ??= {
        server: input.api.server,
        ca_data: input.api.ca_data ?? null,
        insecure_skip_tls_verify: input.api.insecure_skip_tls_verify ?? false,
        auth: credentialKind(secrets),
      };
    }
    return {
      id,
      name: input.name ?? id,
      labels: input.labels ?? {},
      api,
      credentials,
      created_at: previous?.created_at ?? now,
      updated_at: now,
    };
  }

  const view = (s: Stored<ClusterDoc>) => publicView(s.doc, formatVersion(s.version));
  const withEtag = (reply: FastifyReply, s: Stored<ClusterDoc>) => reply.header('ETag', formatEtag(s.version));

  app.get(
    '/clusters/configs',
    {
      config: { auth: 'logs:read' },
      schema: {
        summary: 'List registered clusters (credentials are never shown)',
        tags: ['clusters'],
        querystring: ClusterListQuerySchema,
        response: { 200: ClusterListSchema, ...errors },
      },
    },
    async (request) => {
      const scope = scopeOf(request.principal);
      if (scope.namespaces) return { clusters: [], has_more: false, next_cursor: null };
      const page = await registry.list({
        limit: request.query.limit ?? DEFAULT_LIMIT,
        cursor: request.query.cursor,
        ids: scope.clusters,
      });
      return { clusters: page.items.map(view), has_more: page.has_more, next_cursor: page.next_cursor };
    },
  );

  app.post(
    '/clusters/configs',
    {
      config: { auth: 'admin' },
      schema: {
        summary: "Register a cluster; with `issue_ingest_token`, its agents' ingest token is in this response only",
        tags: ['clusters'],
        body: CreateClusterSchema,
        response: {
          201: Type.Object({
            cluster: ClusterSchema,
            ingest_token: Type.Union([Type.Object({ id: Type.String(), token: Type.String() }), Type.Null()]),
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      checkSees(scopeOf(request.principal), b.id);
      const stored = await registry.create(toDoc(b.id, b, undefined));
      let ingest: { id: string; token: string } | null = null;
      if (b.issue_ingest_token) {
        const { token, record } = await o.tokens.create({
          name: `agents of ${b.id}`,
          scopes: ['ingest'],
          clusters: [b.id],
        });
        ingest = { id: record.id, token };
      }
      withEtag(reply, stored).header('Location', `${request.url.split('?')[0]}?id=${b.id}`);
      return reply.status(201).send({ cluster: view(stored), ingest_token: ingest });
    },
  );

  app.put(
    '/clusters/configs',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Replace a cluster registration (`If-Match: <ETag>` makes it conditional)',
        tags: ['clusters'],
        querystring: IdQuerySchema,
        headers: IfMatchHeadersSchema,
        body: ReplaceClusterSchema,
        response: { 200: ClusterSchema, ...errors },
      },
    },
    async (request, reply) => {
      const id = request.query.id;
      checkSees(scopeOf(request.principal), id);
      const ifMatch = precondition(request.headers['if-match']);
      const current = await registry.get(id);
      if (!current) throw notFound(`no registered cluster "${id}"`);
      const ifVersion = ifMatch === undefined || ifMatch === '*' ? current.version : ifMatch;
      const stored = await registry.replace(toDoc(id, request.body, current.doc), { ifVersion });
      withEtag(reply, stored);
      return view(stored);
    },
  );

  app.delete(
    '/clusters/configs',
    {
      config: { auth: 'admin' },
      schema: {
        summary:
          "Delete a cluster registration: stops its live view and revokes its agents' ingest tokens; its stored logs stay",
        tags: ['clusters'],
        querystring: IdQuerySchema,
        headers: IfMatchHeadersSchema,
        response: {
          200: Type.Object({
            id: Type.String(),
            deleted: Type.Literal(true),
            ingest_tokens_revoked: Type.Integer(),
            logs_kept: Type.Literal(true),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const id = request.query.id;
      checkSees(scopeOf(request.principal), id);
      const ifMatch = precondition(request.headers['if-match']);
      const deleted = await registry.delete(id, ifMatch === undefined || ifMatch === '*' ? {} : { ifVersion: ifMatch });
      if (!deleted) throw notFound(`no registered cluster "${id}"`);
      const revoked = await o.tokens.revokeIngestTokensOf(id);
      return { id, deleted: true as const, ingest_tokens_revoked: revoked, logs_kept: true as const };
    },
  );

  app.post(
    '/clusters/refresh',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Re-read registrations and reconnect every cluster (or `?id=`) now; answers per cluster what happened',
        tags: ['clusters'],
        querystring: OptionalIdQuerySchema,
        response: {
          200: Type.Object({
            results: Type.Array(
              Type.Object({
                id: Type.String(),
                action: Type.Union(
                  [
                    Type.Literal('connected'),
                    Type.Literal('reconnected'),
                    Type.Literal('removed'),
                    Type.Literal('no_connection'),
                  ],
                  {
                    description:
                      '`connected`: new here; `reconnected`: informers restarted; `removed`: deleted elsewhere, stopped; `no_connection`: registered without an API connection.',
                  },
                ),
                api: Type.Union([ConnectionStateSchema, Type.Null()]),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      // The cluster is named in the query (`?id=`); a body is not part of this request, and one
      // with members is refused rather than silently ignored.
      const body: unknown = request.body;
      if (body !== undefined && body !== null && (typeof body !== 'object' || Object.keys(body).length > 0)) {
        throw invalidRequest('POST /clusters/refresh takes no body: name one cluster with ?id=');
      }
      const only = request.query.id;
      const conns = registry.connections;
      let outcome: Map<string, string>;
      if (only) {
        const stored = await registry.get(only);
        if (!stored) {
          if (await conns.remove(only)) outcome = new Map([[only, 'removed']]);
          else throw notFound(`no registered cluster "${only}"`);
        } else outcome = new Map([[only, await registry.apply(stored)]]);
      } else {
        outcome = await registry.sync();
      }
      const results = [];
      for (const [id, what] of [...outcome].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (what === 'removed') {
          results.push({ id, action: 'removed' as const, api: null });
        } else if (what === 'none') {
          results.push({ id, action: 'no_connection' as const, api: null });
        } else {
          if (what === 'unchanged') await conns.reconnect(id);
          const action = what === 'connected' ? ('connected' as const) : ('reconnected' as const);
          results.push({ id, action, api: (await conns.probe(id, true)) ?? null });
        }
      }
      return { results };
    },
  );

  app.get(
    '/clusters/status',
    {
      config: { auth: 'logs:read' },
      schema: {
        summary: 'Status of every known cluster: agents, log activity, API connection, overall state',
        tags: ['clusters'],
        querystring: OptionalIdQuerySchema,
        response: {
          200: Type.Object({ clusters: Type.Array(ClusterStatusSchema), checked_at: Type.String() }),
          ...errors,
        },
      },
    },
    async (request) => {
      const scope = scopeOf(request.principal);
      const only = request.query.id;
      if (only) checkSees(scope, only);
      const nowMs = Date.now();
      const [registrations, heartbeats] = await Promise.all([
        (async () => {
          const out: Array<Stored<ClusterDoc>> = [];
          let cursor: string | undefined;
          do {
            const page = await registry.list({ limit: 1000, cursor, ids: only ? [only] : scope.clusters });
            out.push(...page.items);
            cursor = page.next_cursor ?? undefined;
          } while (cursor !== undefined);
          return out;
        })(),
        o.heartbeats.list(only),
      ]);
      const byId = new Map(registrations.map((r) => [r.id, r.doc]));
      const ids = new Set<string>([
        ...byId.keys(),
        ...heartbeats.map((h) => h.cluster),
        ...registry.connections.clusters(),
      ]);
      const visible = [...ids].filter((id) => sees(scope, id) && (!only || id === only)).sort();
      if (only && visible.length === 0) throw notFound(`no known cluster "${only}"`);
      const [activity, apis] = await Promise.all([
        clusterActivity(o.opensearch, o.indexPrefix, visible, RATE_WINDOW_MS, nowMs),
        Promise.all(
          visible.map((id) => (byId.get(id)?.api ? registry.connections.probe(id) : Promise.resolve(undefined))),
        ),
      ]);
      const clusters = visible.map((id, i) => {
        const doc = byId.get(id);
        const agents = agentStatuses(
          heartbeats.filter((h) => h.cluster === id),
          nowMs,
          o.agentStaleAfterMs,
        );
        const api = apis[i] ?? null;
        const act = activity.get(id);
        return {
          id,
          name: doc?.name ?? id,
          labels: doc?.labels ?? {},
          registered: doc !== undefined,
          ...overallState(agents, api),
          agents: summariseAgents(agents),
          last_record_at: act?.last_record_at ?? null,
          ingest_rate_per_second: ingestRate(act, RATE_WINDOW_MS),
          api,
        };
      });
      return { clusters, checked_at: new Date(nowMs).toISOString() };
    },
  );
};
