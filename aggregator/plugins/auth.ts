/**
 * Bearer-token authentication, scope checks and per-token rate limits for every route,
 * driven by the route's `config`:
 *
 *   config: { auth: 'logs:read', heavy: true }   // needs the scope; heavy rate class
 *   config: { auth: 'public' }                   // /healthz, /readyz, /metrics, /docs
 *   config: { auth: 'any' }                      // any valid token (GET /tokens/self)
 *
 * A route without `auth` is refused: forgetting it fails closed. 401 = no or unknown
 * token; 403 = a valid token without the scope. A route with `basicAuth: true` (the Loki
 * API: Grafana and logcli offer basic auth) also takes `Authorization: Basic`, the token
 * being the password (the user name is ignored).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { grants, type Principal, type Scope } from '../auth/scopes.ts';
import { RateLimiter } from '../auth/rate-limiter.ts';
import { requestClass } from '../auth/request-class.ts';
import { PluginNames } from './names.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: Scope | 'public' | 'any';
    heavy?: boolean;
    /** Also accept the token as the password of HTTP basic auth. */
    basicAuth?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface AuthOptions {
  rateLimit: { standardPerMinute: number; heavyPerMinute: number };
  /** Clock of the rate-limit windows, ms since the epoch. */
  now: () => number;
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (m) return m[1];
  if (request.routeOptions.config?.basicAuth !== true) return undefined;
  const b = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!b) return undefined;
  const userPass = Buffer.from(b[1]!, 'base64').toString('utf8');
  const password = userPass.slice(userPass.indexOf(':') + 1);
  return userPass.includes(':') && password !== '' ? password : undefined;
}

export const authPlugin = fp(
  async (app: FastifyInstance, opts: AuthOptions) => {
    const limiter = new RateLimiter();
    app.decorateRequest('principal', null);
    app.addHook('onRequest', async (request, reply) => {
      const needed = request.routeOptions.config?.auth;
      if (needed === 'public') return;
      if (request.is404) return; // the not-found handler answers
      if (needed === undefined) throw new AppError('AGG_ERR_FORBIDDEN', 'route has no access policy');
      const token = bearerToken(request);
      if (!token) {
        reply.header('WWW-Authenticate', 'Bearer');
        throw new AppError('AGG_ERR_UNAUTHORIZED', 'missing bearer token');
      }
      const principal = await app.tokens.verify(token);
      if (!principal) {
        reply.header('WWW-Authenticate', 'Bearer error="invalid_token"');
        throw new AppError('AGG_ERR_UNAUTHORIZED', 'invalid, expired or revoked token');
      }
      if (needed !== 'any' && !grants(principal, needed)) {
        throw new AppError('AGG_ERR_FORBIDDEN', `token lacks the "${needed}" scope`);
      }
      request.principal = principal;
      // Agents are limited by backpressure (429 from the store), not by request counts.
      if (needed === 'ingest') return;
      const heavy = requestClass(request) === 'heavy';
      const limit = heavy ? opts.rateLimit.heavyPerMinute : opts.rateLimit.standardPerMinute;
      if (limit <= 0) return;
      const d = limiter.take(`${principal.tokenId}:${heavy ? 'h' : 's'}`, limit, opts.now());
      reply.header('X-RateLimit-Limit', d.limit);
      reply.header('X-RateLimit-Remaining', d.remaining);
      reply.header('X-RateLimit-Reset', d.resetSeconds);
      if (!d.allowed) {
        throw new AppError('AGG_ERR_RATE_LIMITED', `rate limit of ${d.limit} ${heavy ? 'heavy ' : ''}requests per minute exceeded`, {
          retryAfterSeconds: d.resetSeconds,
        });
      }
    });
  },
  { name: PluginNames.auth, fastify: '5.x', dependencies: [PluginNames.repositories] },
);
