/**
 * Streaming export of every record a LogQuery matches, as NDJSON chunks, without holding
 * the result: a point in time pins a consistent view of the indices, then `search_after`
 * pages of EXPORT_PAGE_SIZE are read one at a time, each turned into one chunk. The
 * consumer pulls (an async generator), so a slow client slows the reads rather than
 * filling memory; at most one page is held.
 *
 * The point in time is always deleted: at the end, on error, and when the consumer stops
 * early (`return()` on the generator, which is what a destroyed stream does).
 */
import type { LogRecord } from '../../shared/record.ts';
import type { OpenSearch } from '../store/opensearch.ts';
import { compileSearch, type LogQuery } from './log-query.ts';
import { searchError } from './log-search.ts';
import { toAppError } from '../store/opensearch.ts';

export const EXPORT_PAGE_SIZE = 1000;
/** Keep-alive of the point in time between two page reads. */
export const PIT_KEEP_ALIVE = '1m';

export interface ExportOptions {
  /** Stop after this many records; undefined = all. */
  max?: number | undefined;
  pageSize?: number;
  /** Called when the point in time could not be deleted (it expires by itself). */
  onCleanupError?: (err: unknown) => void;
}

/**
 * Yields NDJSON chunks (whole lines, each ending in "\n"). The first `next()` opens the
 * point in time and reads the first page, so setup errors surface before a caller has
 * committed to a streaming response.
 */
export async function* exportNdjson(client: OpenSearch, indexPattern: string, q: LogQuery, opts: ExportOptions = {}): AsyncGenerator<string, void, undefined> {
  const pageSize = opts.pageSize ?? EXPORT_PAGE_SIZE;
  let remaining = opts.max ?? Number.POSITIVE_INFINITY;
  let indices: string[];
  try {
    const resolved = await client.indices.resolveIndex({ name: indexPattern, expand_wildcards: 'open' });
    indices = (resolved.body.indices as Array<{ name: string }>).map((i) => i.name);
  } catch (err) {
    throw toAppError(err, 'export');
  }
  if (indices.length === 0 || remaining <= 0) return;

  let pitId: string;
  try {
    const pit = await client.createPit({ index: indices, keep_alive: PIT_KEEP_ALIVE });
    pitId = pit.body.pit_id as string;
  } catch (err) {
    throw toAppError(err, 'export');
  }
  try {
    let after = q.after;
    while (remaining > 0) {
      const size = Math.min(pageSize, remaining);
      const body = compileSearch({ ...q, ...(after ? { after } : {}) }, { fetch: size, trackTotalHits: false });
      body['pit'] = { id: pitId, keep_alive: PIT_KEEP_ALIVE };
      let res;
      try {
        res = await client.search({ body });
      } catch (err) {
        throw searchError(err, q);
      }
      if (typeof res.body.pit_id === 'string') pitId = res.body.pit_id;
      const hits = res.body.hits.hits as Array<{ _source: LogRecord }>;
      if (hits.length === 0) return;
      let chunk = '';
      for (const h of hits) chunk += JSON.stringify(h._source) + '\n';
      remaining -= hits.length;
      const last = hits[hits.length - 1]!._source;
      after = { ts: last.timestamp, id: last.id };
      yield chunk;
      if (hits.length < size) return;
    }
  } finally {
    await client.deletePit({ body: { pit_id: [pitId] } }).catch((err: unknown) => opts.onCleanupError?.(err));
  }
}
