/**
 * Reads the records of one partition out of OpenSearch, oldest first (timestamp, then id:
 * a total, stable order, so a rerun yields the same line sequence and hence the same
 * objects), over a point in time so the view is consistent while the partition streams.
 * One page is held at a time; the point in time is always deleted.
 */
import type { OpenSearch } from '../store/opensearch.ts';
import type { PlannedPartition } from './archive-selection.ts';

export interface SourceLine {
  /** `_source` as one JSON line (no newline). */
  line: string;
  id: string;
  timestamp: string;
}

export const SOURCE_PAGE_SIZE = 1000;

/** Day index of a partition: `<prefix>-<cluster>-YYYY.MM.DD`. */
export function partitionIndex(prefix: string, p: Pick<PlannedPartition, 'cluster' | 'day'>): string {
  return `${prefix}-${p.cluster}-${p.day.replaceAll('-', '.')}`;
}

export async function countPartition(
  client: OpenSearch,
  index: string,
  filters: Array<Record<string, unknown>>,
): Promise<number> {
  const res = await client.count({
    index,
    ignore_unavailable: true,
    allow_no_indices: true,
    body: { query: { bool: { filter: filters } } },
  });
  return (res.body as { count: number }).count;
}

export async function* streamPartition(
  client: OpenSearch,
  index: string,
  filters: Array<Record<string, unknown>>,
  opts: { pageSize?: number; signal?: AbortSignal } = {},
): AsyncGenerator<SourceLine[], void, undefined> {
  const pageSize = opts.pageSize ?? SOURCE_PAGE_SIZE;
  const exists = await client.indices.exists({ index });
  if (!exists.body) return;
  const pit = await client.createPit({ index: [index], keep_alive: '2m' });
  let pitId = pit.body.pit_id as string;
  try {
    let after: string[] | undefined;
    for (;;) {
      opts.signal?.throwIfAborted();
      const res = await client.search({
        body: {
          size: pageSize,
          track_total_hits: false,
          query: { bool: { filter: filters } },
          sort: [{ timestamp: { order: 'asc' } }, { id: { order: 'asc' } }],
          pit: { id: pitId, keep_alive: '2m' },
          ...(after ? { search_after: after } : {}),
        },
      });
      if (typeof res.body.pit_id === 'string') pitId = res.body.pit_id;
      const hits = res.body.hits.hits as Array<{
        _source: { id: string; timestamp: string; ingested_at?: string };
        sort: Array<string | number>;
      }>;
      if (hits.length === 0) return;
      // The archive holds the documented record (shared/record.ts), as the API returns it:
      // `ingested_at` is dropped here rather than by store-side source filtering, which
      // would reorder the keys (the line must keep the stored order to hash the same).
      yield hits.map((h) => {
        const { ingested_at: _ingested, ...record } = h._source;
        return { line: JSON.stringify(record), id: record.id, timestamp: record.timestamp };
      });
      if (hits.length < pageSize) return;
      // The record's own timestamp string, not the returned sort value: a date_nanos sort
      // value is a long past 2^53, which JSON parsing rounds (pages would overlap or skip).
      const last = hits[hits.length - 1]!._source;
      after = [last.timestamp, last.id];
    }
  } finally {
    await client.deletePit({ body: { pit_id: [pitId] } }).catch(() => {});
  }
}
