/**
 * The one error handler: every failure leaves as the envelope of DESIGN.md §6.
 * Validation errors keep their details (what was wrong, where); 5xx bodies never carry
 * internal text — that goes to the log with the request id.
 */
import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { PluginNames } from './names.ts';

export function envelope(request: FastifyRequest, status: number, code: string, message: string, details?: unknown[]) {
  return { error: { status, code, message, ...(details && details.length > 0 ? { details } : {}) }, request_id: request.id };
}

type Violation = NonNullable<FastifyError['validation']>[number];

/** One schema violation in words; an unknown parameter or property is named (ajv keeps it in params). */
function describeViolation(v: Violation): string {
  const where = v.instancePath || '/';
  const extra = (v.params as { additionalProperty?: unknown } | undefined)?.additionalProperty;
  if (v.keyword === 'additionalProperties' && typeof extra === 'string') return `${where} unknown parameter "${extra.slice(0, 100)}"`;
  return `${where} ${v.message ?? ''}`.trim();
}

function fromFastify(err: FastifyError): AppError | undefined {
  if (err.validation) {
    const details = err.validation.map((v) => ({ in: err.validationContext, path: v.instancePath || '/', message: v.message, params: v.params }));
    return new AppError('AGG_ERR_INVALID_REQUEST', `invalid ${err.validationContext ?? 'request'}: ${err.validation.map(describeViolation).join('; ')}`, { details });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('AGG_ERR_PAYLOAD_TOO_LARGE', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('AGG_ERR_UNSUPPORTED_MEDIA_TYPE', 'unsupported content type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('AGG_ERR_INVALID_REQUEST', 'body is not valid JSON');
    default:
      break;
  }
  if (err instanceof SyntaxError || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) {
    return new AppError('AGG_ERR_INVALID_REQUEST', err.message);
  }
  return undefined;
}

export const errorHandlerPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const appErr = err instanceof AppError ? err : fromFastify(err);
      if (!appErr || appErr.status >= 500) {
        request.log.error({ err: appErr?.cause ?? err }, 'request failed');
      }
      const e = appErr ?? new AppError('AGG_ERR_INTERNAL', 'internal error');
      if (e.retryAfterSeconds !== undefined) reply.header('Retry-After', e.retryAfterSeconds);
      // AppError messages are written by us and never embed store text; anything else
      // that escaped is not shown.
      const message = appErr ? e.message : 'internal error';
      return reply.status(e.status).send(envelope(request, e.status, e.code, message, e.details));
    });
    app.setNotFoundHandler((request, reply) =>
      reply.status(404).send(envelope(request, 404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
    );
  },
  { name: PluginNames.errorHandler, fastify: '5.x' },
);
