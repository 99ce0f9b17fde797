/** Access tokens (admin): `GET/POST/DELETE /v1/k8s/logs/tokens`. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { Scopes } from '../../auth/scopes.ts';
import { BOOTSTRAP_TOKEN_ID, isBootstrapIngestTokenId, type TokenStore } from '../../auth/token-store.ts';
import { AppError, invalidRequest } from '../../errors.ts';
import { CLUSTER_ID_PATTERN } from '../../store/log-indices.ts';
import { PageProperties, PagingQueryProperties, DEFAULT_LIMIT } from '../../http/paging.ts';

const TokenSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'First characters of the secret, to recognise it.' }),
  scopes: Type.Array(Type.Enum(Scopes)),
  clusters: Type.Union([Type.Array(Type.String()), Type.Null()]),
  namespaces: Type.Union([Type.Array(Type.String()), Type.Null()]),
  created_at: Type.String(),
  expires_at: Type.Union([Type.String(), Type.Null()]),
});

const CreateTokenSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    scopes: Type.Array(Type.Enum(Scopes), { minItems: 1, uniqueItems: true }),
    clusters: Type.Optional(Type.Array(Type.String({ pattern: CLUSTER_ID_PATTERN }), { minItems: 1, maxItems: 100 })),
    namespaces: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { minItems: 1, maxItems: 1000 })),
    expires_at: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

const errors = { 400: ErrorEnvelopeSchema, 401: ErrorEnvelopeSchema, 403: ErrorEnvelopeSchema, 404: ErrorEnvelopeSchema, 409: ErrorEnvelopeSchema, 429: ErrorEnvelopeSchema, 503: ErrorEnvelopeSchema };

export const tokenRoutes: FastifyPluginAsyncTypebox<{ tokens: TokenStore }> = async (app, { tokens }) => {
  app.get('/tokens', {
    config: { auth: 'admin' },
    schema: {
      summary: 'List access tokens, oldest first (secrets are never shown)',
      tags: ['tokens'],
      querystring: Type.Object(PagingQueryProperties, { additionalProperties: false }),
      response: { 200: Type.Object({ tokens: Type.Array(TokenSchema), ...PageProperties }), ...errors },
    },
  }, async (request) => {
    const page = await tokens.list({ limit: request.query.limit ?? DEFAULT_LIMIT, cursor: request.query.cursor });
    return { tokens: page.items, has_more: page.has_more, next_cursor: page.next_cursor };
  });

  // What the caller's own token may do, so a client (the web UI) can hide what it would be
  // refused; the API refuses anyway.
  app.get('/tokens/self', {
    config: { auth: 'any' },
    schema: {
      summary: "The calling token: name, scopes and limits (any valid token; never the secret)",
      tags: ['tokens'],
      querystring: Type.Object({}, { additionalProperties: false }),
      response: {
        200: Type.Object({
          id: Type.String(),
          name: Type.String(),
          scopes: Type.Array(Type.Enum(Scopes)),
          clusters: Type.Union([Type.Array(Type.String()), Type.Null()]),
          namespaces: Type.Union([Type.Array(Type.String()), Type.Null()]),
        }),
        ...errors,
      },
    },
  }, async (request) => {
    const p = request.principal!;
    return { id: p.tokenId, name: p.name, scopes: [...p.scopes], clusters: p.clusters ? [...p.clusters] : null, namespaces: p.namespaces ? [...p.namespaces] : null };
  });

  app.post('/tokens', {
    config: { auth: 'admin' },
    schema: {
      summary: 'Create an access token; the secret is in this response only',
      tags: ['tokens'],
      body: CreateTokenSchema,
      response: { 201: Type.Object({ token: Type.String(), ...TokenSchema.properties }), ...errors },
    },
  }, async (request, reply) => {
    const b = request.body;
    if (b.scopes.includes('ingest') && b.clusters?.length !== 1) {
      throw invalidRequest('an ingest token must name exactly one cluster in `clusters`');
    }
    if (b.expires_at && Date.parse(b.expires_at) <= Date.now()) throw invalidRequest('expires_at is in the past');
    const { token, record } = await tokens.create({ name: b.name, scopes: b.scopes, clusters: b.clusters ?? null, namespaces: b.namespaces ?? null, expiresAt: b.expires_at ?? null });
    return reply.status(201).send({ token, ...record });
  });

  app.delete('/tokens', {
    config: { auth: 'admin' },
    schema: {
      summary: 'Revoke an access token',
      tags: ['tokens'],
      querystring: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
      response: { 204: Type.Null(), ...errors },
    },
  }, async (request, reply) => {
    // Revoking it could leave no admin token (nobody could make one again): it is rotated by
    // configuration instead (a new K8S_LOGS_ADMIN_TOKEN revokes the previous one at start).
    if (request.query.id === BOOTSTRAP_TOKEN_ID) {
      throw new AppError('AGG_ERR_BOOTSTRAP_TOKEN', 'the bootstrap admin token cannot be revoked here; rotate it by setting K8S_LOGS_ADMIN_TOKEN');
    }
    // Re-registered at every start from the chart's Secret, so a revocation here would not
    // last: it is rotated by changing that Secret (the previous secret is revoked at start).
    if (isBootstrapIngestTokenId(request.query.id)) {
      throw new AppError(
        'AGG_ERR_BOOTSTRAP_TOKEN',
        "a configured agents' ingest token cannot be revoked here; rotate it by changing K8S_LOGS_BOOTSTRAP_INGEST_TOKEN (the chart's agent token Secret)",
      );
    }
    const found = await tokens.revoke(request.query.id);
    if (!found) throw new AppError('AGG_ERR_NOT_FOUND', `no live token with id "${request.query.id}"`);
    return reply.status(204).send(null);
  });
};
