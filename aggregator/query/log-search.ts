/**
 * Runs a LogQuery against OpenSearch and shapes one page of results. The only I/O here is
 * the search call; page shaping (has_more, cursor) is plain code over the hits.
 */
import type { LogRecord } from '../../shared/record.ts';
import type { OpenSearch } from '../store/opensearch.ts';
import { searchError } from './search-error.ts';
import { logIndexPattern } from '../store/log-indices.ts';
import { compileSearch, type LogQuery } from './log-query.ts';
import { exportNdjson, type ExportOptions } from './log-export.ts';

export { searchError };
import { encodeLogCursor } from '../http/cursor.ts';
import type { PitGate } from './pit-gate.ts';
import { storeTimeoutParams, transportOptions, withDeadline, type StoreDeadline } from './query-budget.ts';

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
  readonly #pits: PitGate | undefined;

  /** `pits` bounds the concurrent exports of this replica; undefined = unbounded. */
  constructor(client: OpenSearch, indexPrefix: string, pits?: PitGate) {
    this.#client = client;
    this.#prefix = indexPrefix;
    this.#pits = pits;
  }

  indexPattern(q: LogQuery): string {
    const clusters = q.clusters?.length ? q.clusters : (q.scope.clusters ?? undefined);
    return logIndexPattern(this.#prefix, clusters);
  }

  /** Every match as NDJSON chunks over a point in time; see log-export.ts. */
  exportNdjson(q: LogQuery, opts: ExportOptions = {}): AsyncGenerator<string, void, undefined> {
    return exportNdjson(this.#client, this.indexPattern(q), q, { ...(this.#pits ? { pits: this.#pits } : {}), ...opts });
  }

  async page(q: LogQuery, digest: string, deadline?: StoreDeadline): Promise<LogPage> {
    const { page } = await this.pageWithExtras(q, digest, {}, deadline);
    return page;
  }

  /**
   * One page plus, when asked, the raw aggregation results (over every match, not just the
   * page) and highlight fragments per record id.
   */
  async pageWithExtras(
    q: LogQuery,
    digest: string,
    extras: { aggs?: Record<string, unknown> | undefined; highlight?: Record<string, unknown> | undefined },
    deadline?: StoreDeadline,
  ): Promise<{ page: LogPage; aggregations: Record<string, unknown> | undefined; highlights: Record<string, string[]> | undefined }> {
    const body = compileSearch(q, { fetch: q.limit + 1, trackTotalHits: TOTAL_BOUND, aggs: extras.aggs, highlight: extras.highlight });
    let res;
    try {
      res = await withDeadline(
        deadline,
        'search',
        this.#client.search(
          { index: this.indexPattern(q), body, ignore_unavailable: true, allow_no_indices: true, ...storeTimeoutParams(deadline) },
          transportOptions(deadline),
        ),
      );
    } catch (err) {
      throw searchError(err, q);
    }
    const page = this.#shape(q, digest, res.body);
    let highlights: Record<string, string[]> | undefined;
    if (extras.highlight) {
      highlights = {};
      for (const h of (res.body.hits.hits as Array<{ _source: LogRecord; highlight?: Record<string, string[]> }>).slice(0, q.limit)) {
        const fragments = h.highlight?.['message.text'];
        if (fragments?.length) highlights[h._source.id] = fragments;
      }
    }
    return { page, aggregations: res.body.aggregations as Record<string, unknown> | undefined, highlights };
  }

  #shape(q: LogQuery, digest: string, body: { hits: { hits: unknown; total?: unknown }; took: unknown }): LogPage {
    const res = { body };
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
          ? encodeLogCursor({ ts: last.timestamp, id: last.id, start: q.startNs.toString(), end: q.endNs.toString() }, digest)
          : null,
      took_ms: res.body.took as number,
    };
  }
}
