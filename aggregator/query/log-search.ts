/**
 * Runs a LogQuery against OpenSearch and shapes one page of results. The only I/O here is
 * the search call; page shaping (has_more, cursor) is plain code over the hits.
 */
import type { LogRecord } from '../../shared/record.ts';
import type { OpenSearch } from '../store/opensearch.ts';
import { toAppError } from '../store/opensearch.ts';
import { logIndexPattern } from '../store/log-indices.ts';
import { compileSearch, type LogQuery } from './log-query.ts';
import { encodeCursor } from './cursor.ts';

/** Totals are counted exactly up to this bound, then reported as a lower bound. */
export const TOTAL_BOUND = 10_000;

export interface LogPage {
  logs: LogRecord[];
  total: number;
  total_relation: 'eq' | 'gte';
  has_more: boolean;
  next_cursor: string | null;
  took_ms: number;
}

export class LogSearch {
  readonly #client: OpenSearch;
  readonly #prefix: string;

  constructor(client: OpenSearch, indexPrefix: string) {
    this.#client = client;
    this.#prefix = indexPrefix;
  }

  indexPattern(q: LogQuery): string {
    const clusters = q.clusters?.length ? q.clusters : (q.scope.clusters ?? undefined);
    return logIndexPattern(this.#prefix, clusters);
  }

  async page(q: LogQuery, digest: string): Promise<LogPage> {
    const body = compileSearch(q, { fetch: q.limit + 1, trackTotalHits: TOTAL_BOUND });
    let res;
    try {
      res = await this.#client.search({
        index: this.indexPattern(q),
        body,
        ignore_unavailable: true,
        allow_no_indices: true,
      });
    } catch (err) {
      throw toAppError(err, 'search');
    }
    const hits = res.body.hits.hits as Array<{ _source: LogRecord }>;
    const total = res.body.hits.total as { value: number; relation: 'eq' | 'gte' };
    const hasMore = hits.length > q.limit;
    const logs = hits.slice(0, q.limit).map((h) => h._source);
    const last = logs[logs.length - 1];
    return {
      logs,
      total: total.value,
      total_relation: total.relation,
      has_more: hasMore,
      next_cursor:
        hasMore && last
          ? encodeCursor({ ts: last.timestamp, id: last.id, start: q.startNs.toString(), end: q.endNs.toString(), q: digest })
          : null,
      took_ms: res.body.took as number,
    };
  }
}
