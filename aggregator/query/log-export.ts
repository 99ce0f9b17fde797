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
import { searchError } from './search-error.ts';
import { toAppError } from '../store/opensearch.ts';
import { AppError } from '../errors.ts';
import type { PitGate } from './pit-gate.ts';
import { storeTimeoutParams, transportOptions, withDeadline, type StoreDeadline } from './query-budget.ts';

export const EXPORT_PAGE_SIZE = 1000;
/** Keep-alive of the point in time between two page reads. */
export const PIT_KEEP_ALIVE = '1m';

export interface ExportOptions {
  /** Stop after this many records; undefined = all. */
  max?: number | undefined;
  pageSize?: number;
  /** Called when the point in time could not be deleted (it expires by itself). */
  onCleanupError?: (err: unknown) => void;
  /** Bounds each store call (per page, not the whole export) and stops on client close. */
  deadline?: StoreDeadline | undefined;
  /** Concurrent points in time of this replica; full = 429 `too_many_exports` before anything is opened. */
  pits?: PitGate;
}

/** How long a refused export is told to wait: about one export page's worth of work. */
const EXPORT_RETRY_AFTER_SECONDS = 5;

/**
 * Yields NDJSON chunks (whole lines, each ending in "\n"). The first `next()` opens the
 * point in time and reads the first page, so setup errors surface before a caller has
 * committed to a streaming response.
 */
export async function* exportNdjson(client: OpenSearch, indexPattern: string, q: LogQuery, opts: ExportOptions = {}): AsyncGenerator<string, void, undefined> {
  const pageSize = opts.pageSize ?? EXPORT_PAGE_SIZE;
  const deadline = opts.deadline;
  let remaining = opts.max ?? Number.POSITIVE_INFINITY;
  if (remaining <= 0) return;
  // The slot is taken before the point in time exists and given back after it is deleted.
  const release = opts.pits ? opts.pits.tryAcquire() : () => {};
  if (!release) {
    throw new AppError('AGG_ERR_TOO_MANY_EXPORTS', `export: this replica already runs ${opts.pits?.max} exports; retry later`, {
      retryAfterSeconds: EXPORT_RETRY_AFTER_SECONDS,
    });
  }
  try {
    let indices: string[];
    try {
      const resolved = await withDeadline(deadline, 'export', client.indices.resolveIndex({ name: indexPattern, expand_wildcards: 'open' }, transportOptions(deadline)));
      indices = (resolved.body.indices as Array<{ name: string }>).map((i) => i.name);
    } catch (err) {
      throw toAppError(err, 'export');
    }
    if (indices.length === 0) return;

    let pitId: string;
    try {
      const pit = await withDeadline(deadline, 'export', client.createPit({ index: indices, keep_alive: PIT_KEEP_ALIVE }, transportOptions(deadline)));
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
          res = await withDeadline(deadline, 'export', client.search({ body, ...storeTimeoutParams(deadline) }, transportOptions(deadline)));
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
      // Not under the request's signal: the point in time is deleted even when the client left.
      await client.deletePit({ body: { pit_id: [pitId] } }).catch((err: unknown) => opts.onCleanupError?.(err));
    }
  } finally {
    release();
  }
}
