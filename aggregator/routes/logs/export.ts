/**
 * NDJSON export for the retrieval endpoints: `Accept: application/x-ndjson` on `GET /` or
 * `POST /search` streams every matching record (limit and cursor do not apply; `max` caps
 * the count) instead of one page.
 *
 * The first page is read before the response starts, so a bad query or an unavailable
 * store is still an ordinary error envelope. After that the status is committed: a failure
 * mid-stream aborts the response (the client sees an incomplete chunked body, never a
 * silently short file). The stream pulls pages as the socket drains; a client that goes
 * away destroys it, which stops the reads and deletes the point in time.
 */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LogQuery } from '../../query/log-query.ts';
import type { LogSearch } from '../../query/log-search.ts';
import type { StoreDeadline } from '../../query/query-budget.ts';

export const NDJSON = 'application/x-ndjson';

/** True when the client asks for NDJSON (an explicit media type in Accept). */
export function wantsNdjson(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    return type?.trim() === NDJSON && !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
  });
}

export async function sendExport(
  request: FastifyRequest,
  reply: FastifyReply,
  search: LogSearch,
  query: LogQuery,
  max: number | undefined,
  deadline?: StoreDeadline,
): Promise<FastifyReply> {
  const pages = search.exportNdjson(query, {
    max,
    deadline,
    onCleanupError: (err) => request.log.warn({ err }, 'export: could not delete the point in time; it expires by itself'),
  });
  const first = await pages.next(); // setup errors become envelopes
  async function* all(): AsyncGenerator<string, void, undefined> {
    if (first.done) return;
    yield first.value;
    yield* pages;
  }
  const body = Readable.from(all(), { objectMode: false });
  // Destroyed before the first read pulled `all()` into `pages`: close `pages` directly so
  // its point in time is deleted (a second return() after a normal end is a no-op).
  body.once('close', () => void pages.return(undefined));
  body.on('error', (err) => request.log.error({ err }, 'export aborted'));
  reply.header('content-type', `${NDJSON}; charset=utf-8`);
  reply.header('cache-control', 'no-store');
  return reply.send(body);
}
