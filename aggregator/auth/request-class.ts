/**
 * Request classes: every API request is `standard` or `heavy`. The class picks the rate
 * limit (plugins/auth.ts), the store timeout and the longest time window
 * (query/query-budget.ts). Pure apart from reading the request.
 *
 * A route is heavy when its config says `heavy: true`, or when its `heavyWhen(request)`
 * says so for this request (e.g. `GET /` with `q`, or asking for an NDJSON export). Both
 * are read in `onRequest`, so `heavyWhen` may only look at the raw query and headers.
 */
import type { FastifyRequest } from 'fastify';

export type RequestClass = 'standard' | 'heavy';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Heavy for some requests only; sees the raw (unvalidated) query and headers. */
    heavyWhen?: (request: FastifyRequest) => boolean;
  }
}

export function requestClass(request: FastifyRequest): RequestClass {
  const config = request.routeOptions.config;
  if (config?.heavy === true) return 'heavy';
  return config?.heavyWhen?.(request) === true ? 'heavy' : 'standard';
}
