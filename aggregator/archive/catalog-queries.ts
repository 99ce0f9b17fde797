/**
 * Reads of the archive catalog for `/s3/metadata` and `/s3/stats`. The caller's token
 * scope (clusters, namespaces) is always a filter, so a namespace-restricted token sees
 * only its namespaces' objects and figures. Figures are sums over catalog documents (one
 * per object): exact, not estimates.
 */
import type { OpenSearch } from '../store/opensearch.ts';
import { toAppError } from '../store/opensearch.ts';
import { decodeCursor, encodeCursor, filterDigest, isSortValues } from '../http/cursor.ts';
import { Type, type Static } from 'typebox';
import { Nullable } from '../../shared/schemas/nullable.ts';
import type { ArchiveCatalog, CatalogObject } from './archive-catalog.ts';

const Figures = Type.Object({
  objects: Type.Integer({ minimum: 0 }),
  records: Type.Integer({ minimum: 0 }),
  stored_bytes: Type.Integer({ minimum: 0 }),
  raw_bytes: Type.Integer({ minimum: 0 }),
});

/** The store's part of `/s3/stats` (the route adds `policies`). */
export const ArchiveFiguresSchema = Type.Object({
  totals: Type.Object({
    ...Figures.properties,
    compression_ratio: Nullable(Type.Number({ description: 'raw / stored; null for an empty archive.' })),
  }),
  by_cluster: Type.Record(Type.String(), Figures),
  by_namespace: Type.Record(Type.String(), Figures, { description: 'Summed over clusters.' }),
  by_day: Type.Record(Type.String(), Figures, { description: 'UTC event-time day `YYYY-MM-DD`.' }),
  by_storage_class: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Stored bytes.' }),
  oldest_record: Nullable(Type.String({ description: 'The earliest archived record timestamp (ns).' })),
  newest_record: Nullable(Type.String({ description: 'The latest archived record timestamp (ns).' })),
});
export type ArchiveFigures = Static<typeof ArchiveFiguresSchema>;

interface Scope {
  scopeClusters: readonly string[] | null;
  scopeNamespaces: readonly string[] | null;
}

function scopeFilters(s: Scope): object[] {
  const f: object[] = [];
  if (s.scopeClusters) f.push({ terms: { cluster: [...s.scopeClusters] } });
  if (s.scopeNamespaces) f.push({ terms: { namespace: [...s.scopeNamespaces] } });
  return f;
}

export async function listArchiveObjects(
  client: OpenSearch,
  catalog: ArchiveCatalog,
  q: Scope & {
    cluster?: string | undefined;
    namespace?: string | undefined;
    start?: string | undefined;
    end?: string | undefined;
    limit: number;
    cursor?: string | undefined;
  },
): Promise<{ items: CatalogObject[]; has_more: boolean; next_cursor: string | null }> {
  await catalog.ensure();
  const digest = filterDigest({
    c: q.cluster ?? null,
    n: q.namespace ?? null,
    s: q.start ?? null,
    e: q.end ?? null,
    sc: q.scopeClusters,
    sn: q.scopeNamespaces,
  });
  const after = q.cursor ? decodeCursor(q.cursor, 's3-metadata', digest, isSortValues(1)) : undefined;
  const filter: object[] = [...scopeFilters(q)];
  if (q.cluster) filter.push({ term: { cluster: q.cluster } });
  if (q.namespace) filter.push({ term: { namespace: q.namespace } });
  // Objects overlapping [start, end].
  if (q.start) filter.push({ range: { last_timestamp: { gte: q.start } } });
  if (q.end) filter.push({ range: { first_timestamp: { lte: q.end } } });
  try {
    const res = await client.search({
      index: catalog.index,
      body: {
        size: q.limit + 1,
        track_total_hits: false,
        query: { bool: { filter } },
        sort: [{ key: { order: 'asc' } }],
        ...(after ? { search_after: after } : {}),
      } as never,
    });
    const hits = res.body.hits.hits as Array<{ _source: CatalogObject; sort: unknown[] }>;
    const page = hits.slice(0, q.limit);
    const hasMore = hits.length > q.limit;
    return {
      items: page.map((h) => h._source),
      has_more: hasMore,
      next_cursor: hasMore ? encodeCursor('s3-metadata', digest, page[page.length - 1]!.sort) : null,
    };
  } catch (err) {
    throw toAppError(err, 's3 metadata');
  }
}

interface Sums {
  doc_count: number;
  records: { value: number };
  stored: { value: number };
  raw: { value: number };
}
const sums = {
  records: { sum: { field: 'records' } },
  stored: { sum: { field: 'stored_bytes' } },
  raw: { sum: { field: 'raw_bytes' } },
};
const figures = (b: Sums) => ({
  objects: b.doc_count,
  records: b.records.value,
  stored_bytes: b.stored.value,
  raw_bytes: b.raw.value,
});

export async function archiveStats(
  client: OpenSearch,
  catalog: ArchiveCatalog,
  scope: Scope,
): Promise<ArchiveFigures> {
  await catalog.ensure();
  const terms = (field: string) => ({ terms: { field, size: 10_000, order: { _key: 'asc' } }, aggs: sums });
  let res;
  try {
    res = await client.search({
      index: catalog.index,
      body: {
        size: 0,
        track_total_hits: true,
        query: { bool: { filter: scopeFilters(scope) } },
        aggs: {
          ...sums,
          by_cluster: terms('cluster'),
          by_namespace: terms('namespace'),
          by_day: terms('day'),
          by_storage_class: terms('storage_class'),
          // min/max aggregations answer in milliseconds (a double) even on date_nanos; a sort
          // on the field is exact, and the stored string is the record's own timestamp.
          oldest: { top_hits: { size: 1, sort: [{ first_timestamp: 'asc' }], _source: ['first_timestamp'] } },
          newest: { top_hits: { size: 1, sort: [{ last_timestamp: 'desc' }], _source: ['last_timestamp'] } },
        },
      } as never,
    });
  } catch (err) {
    throw toAppError(err, 's3 stats');
  }
  const a = res.body.aggregations as unknown as Record<
    string,
    { buckets: Array<Sums & { key: string }> } & Sums & {
      value: number | null;
      hits: { hits: Array<{ _source: Partial<CatalogObject> }> };
    }
  >;
  const total = (res.body.hits.total as { value: number }).value;
  const byKey = (name: string) => Object.fromEntries(a[name]!.buckets.map((b) => [b.key, figures(b)]));
  const stored = a['stored']!.value ?? 0;
  const raw = a['raw']!.value ?? 0;
  return {
    totals: {
      objects: total,
      records: a['records']!.value ?? 0,
      stored_bytes: stored,
      raw_bytes: raw,
      compression_ratio: stored > 0 ? raw / stored : null,
    },
    by_cluster: byKey('by_cluster'),
    by_namespace: byKey('by_namespace'),
    by_day: byKey('by_day'),
    by_storage_class: Object.fromEntries(a['by_storage_class']!.buckets.map((b) => [b.key, b.stored.value])),
    oldest_record: a['oldest']!.hits.hits[0]?._source.first_timestamp ?? null,
    newest_record: a['newest']!.hits.hits[0]?._source.last_timestamp ?? null,
  };
}
