/**
 * `GET /s3/content` (issue 12): archived records read back out of S3, with the filters and
 * the page shape of `GET /`. The archive catalog picks the objects that can hold a match
 * (scope, cluster, namespace, time overlap, or one key); each is streamed, decompressed and
 * split into lines, and every record is matched here (`recordMatches`, pure).
 *
 * Bounds: the stored bytes of the candidate objects are summed before any is read; above
 * `maxScanBytes` the request is refused (`window_too_large`, narrow the filters) rather
 * than half-answered. Memory holds one decompressed chunk plus the best `limit + 1`
 * records, so `total` is exact (every candidate is read in full).
 *
 * Order is the order of `GET /`: (timestamp, id), newest first by default. The cursor pins
 * the resolved window, so `now-30d` means the same instant on every page. Not here: label
 * selectors (the archive keeps pod labels; matching them is future work) and range reads
 * (gzip and zstd streams are not seekable without an index of their own).
 */
import { createInterface } from 'node:readline';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { LogRecord } from '../../shared/record.ts';
import { AppError } from '../errors.ts';
import { decodeCursor, encodeCursor } from '../http/cursor.ts';
import type { OpenSearch } from '../store/opensearch.ts';
import { toAppError } from '../store/opensearch.ts';
import type { ArchiveCatalog, CatalogObject } from './archive-catalog.ts';
import type { ArchiveBucket } from './s3-bucket.ts';

export interface ContentFilters {
  clusters?: readonly string[] | undefined;
  namespaces?: readonly string[] | undefined;
  pods?: readonly string[] | undefined;
  containers?: readonly string[] | undefined;
  levels?: readonly string[] | undefined;
  streams?: readonly string[] | undefined;
  /** Case-insensitive substring of the message. */
  q?: string | undefined;
  /** Inclusive bounds as canonical timestamps (string order is time order); null = open. */
  startTs: string | null;
  endTs: string | null;
  /** The token's limits, applied to every record as well as to the object list. */
  scopeClusters: readonly string[] | null;
  scopeNamespaces: readonly string[] | null;
}

export interface ContentQuery extends ContentFilters {
  /** One object by key, instead of every object the filters select. */
  key?: string | undefined;
  direction: 'forward' | 'backward';
  limit: number;
  /** Position after which the page starts (the cursor's). */
  after?: { ts: string; id: string } | undefined;
}

const has = (list: readonly string[] | null | undefined, v: string) => !list || list.includes(v);

/** Pure: does the archived record pass the filters and the scope? */
export function recordMatches(r: LogRecord, f: ContentFilters, qLower = f.q?.toLowerCase()): boolean {
  return (
    has(f.scopeClusters, r.cluster) &&
    has(f.scopeNamespaces, r.namespace) &&
    has(f.clusters, r.cluster) &&
    has(f.namespaces, r.namespace) &&
    has(f.pods, r.pod) &&
    has(f.containers, r.container) &&
    has(f.levels, r.level) &&
    has(f.streams, r.stream) &&
    (f.startTs === null || r.timestamp >= f.startTs) &&
    (f.endTs === null || r.timestamp <= f.endTs) &&
    (qLower === undefined || r.message.toLowerCase().includes(qLower))
  );
}

/** Pure: total order of the page; negative when `a` comes first. */
export function compareRecords(
  a: { timestamp: string; id: string },
  b: { timestamp: string; id: string },
  direction: 'forward' | 'backward',
): number {
  const c = a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  return direction === 'forward' ? c : -c;
}

/**
 * Keeps the first `capacity` records in page order (sorted insertion; capacity ≤ 1001, so
 * an array beats a heap here). Mutates `best`.
 */
export function keepBest(best: LogRecord[], r: LogRecord, capacity: number, direction: 'forward' | 'backward'): void {
  if (best.length >= capacity && compareRecords(r, best[best.length - 1]!, direction) >= 0) return;
  let lo = 0;
  let hi = best.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareRecords(best[mid]!, r, direction) < 0) lo = mid + 1;
    else hi = mid;
  }
  best.splice(lo, 0, r);
  if (best.length > capacity) best.pop();
}

export const CONTENT_CURSOR_KIND = 's3-content';
type ContentPosition = [string, string, string | null, string | null];
const isPosition = (p: unknown): p is ContentPosition =>
  Array.isArray(p) &&
  p.length === 4 &&
  typeof p[0] === 'string' &&
  p[0].length <= 40 &&
  typeof p[1] === 'string' &&
  p[1].length <= 256 &&
  (p[2] === null || typeof p[2] === 'string') &&
  (p[3] === null || typeof p[3] === 'string');

export function encodeContentCursor(
  last: { timestamp: string; id: string },
  f: ContentFilters,
  digest: string,
): string {
  return encodeCursor(CONTENT_CURSOR_KIND, digest, [last.timestamp, last.id, f.startTs, f.endTs]);
}

export function decodeContentCursor(cursor: string, digest: string) {
  const [ts, id, startTs, endTs] = decodeCursor(cursor, CONTENT_CURSOR_KIND, digest, isPosition);
  return { after: { ts, id }, startTs, endTs };
}

export interface ContentDeps {
  client: OpenSearch;
  catalog: ArchiveCatalog;
  bucket(name: string): ArchiveBucket;
  /** Refuse a request whose candidate objects store more than this many bytes. */
  maxScanBytes: number;
  signal?: AbortSignal | undefined;
}

/** Catalog objects that can hold a match, in key order; bounded by count and stored bytes. */
export async function candidateObjects(deps: ContentDeps, q: ContentQuery): Promise<CatalogObject[]> {
  await deps.catalog.ensure();
  const filter: object[] = [];
  const terms = (field: string, v: readonly string[] | null | undefined) => {
    if (v) filter.push({ terms: { [field]: [...v] } });
  };
  terms('cluster', q.scopeClusters);
  terms('namespace', q.scopeNamespaces);
  terms('cluster', q.clusters);
  terms('namespace', q.namespaces);
  if (q.key !== undefined) filter.push({ term: { key: q.key } });
  // Objects overlapping the window. Not narrowed by the cursor's position: every page reads
  // the same objects, so `total` is the query's, as on `GET /`.
  if (q.startTs !== null) filter.push({ range: { last_timestamp: { gte: q.startTs } } });
  if (q.endTs !== null) filter.push({ range: { first_timestamp: { lte: q.endTs } } });
  const MAX_OBJECTS = 10_000;
  let res;
  try {
    res = await deps.client.search({
      index: deps.catalog.index,
      body: {
        size: MAX_OBJECTS,
        track_total_hits: MAX_OBJECTS + 1,
        query: { bool: { filter } },
        sort: [{ key: { order: 'asc' } }],
        aggs: { stored: { sum: { field: 'stored_bytes' } } },
      } as never,
    });
  } catch (err) {
    throw toAppError(err, 's3 content');
  }
  const total = (res.body.hits.total as { value: number }).value;
  const stored = (res.body.aggregations as { stored: { value: number } }).stored.value;
  if (total > MAX_OBJECTS || stored > deps.maxScanBytes) {
    throw new AppError(
      'AGG_ERR_WINDOW_TOO_LARGE',
      `the archive objects this request selects hold ${stored} stored bytes in ${total} objects, more than the ${deps.maxScanBytes} bytes one request may scan: narrow start/end, cluster or namespace`,
    );
  }
  return (res.body.hits.hits as Array<{ _source: CatalogObject }>).map((h) => h._source);
}

/** The records of one archived object, in stored order, decompressed as they stream. */
export async function* objectRecords(
  bucket: ArchiveBucket,
  key: string,
  compression: string,
  signal?: AbortSignal,
): AsyncGenerator<LogRecord, void, undefined> {
  const body: Readable = await bucket.stream(key);
  const inflate = compression === 'zstd' ? createZstdDecompress() : createGunzip();
  body.on('error', (err) => inflate.destroy(err));
  const lines = createInterface({ input: body.pipe(inflate), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      signal?.throwIfAborted();
      if (line) yield JSON.parse(line) as LogRecord;
    }
  } finally {
    lines.close();
    body.destroy();
    inflate.destroy();
  }
}

export interface ContentPage {
  logs: LogRecord[];
  total: number;
  has_more: boolean;
  /** The last record of the page, when there are more. */
  last: LogRecord | undefined;
  scanned_objects: number;
  scanned_bytes: number;
}

/** One page: reads every candidate object, keeps the best `limit + 1` matches after the position. */
export async function contentPage(deps: ContentDeps, q: ContentQuery): Promise<ContentPage> {
  const objects = await candidateObjects(deps, q);
  const qLower = q.q?.toLowerCase();
  const best: LogRecord[] = [];
  let total = 0;
  let scanned = 0;
  const afterRec = q.after ? { timestamp: q.after.ts, id: q.after.id } : undefined;
  for (const o of objects) {
    scanned += o.stored_bytes;
    for await (const r of objectRecords(deps.bucket(o.bucket), o.key, o.compression, deps.signal)) {
      if (!recordMatches(r, q, qLower)) continue;
      total++;
      if (afterRec && compareRecords(r, afterRec, q.direction) <= 0) continue;
      keepBest(best, r, q.limit + 1, q.direction);
    }
  }
  const hasMore = best.length > q.limit;
  const logs = best.slice(0, q.limit);
  return {
    logs,
    total,
    has_more: hasMore,
    last: hasMore ? logs[logs.length - 1] : undefined,
    scanned_objects: objects.length,
    scanned_bytes: scanned,
  };
}

/**
 * Every match as NDJSON lines, object by object in key order (partition, then part) and in
 * stored order within an object: an export of the archive, not a sorted merge.
 */
export async function* contentNdjson(
  deps: ContentDeps,
  objects: readonly CatalogObject[],
  q: ContentFilters,
  max: number | undefined,
): AsyncGenerator<string, void, undefined> {
  const qLower = q.q?.toLowerCase();
  let sent = 0;
  for (const o of objects) {
    let chunk = '';
    for await (const r of objectRecords(deps.bucket(o.bucket), o.key, o.compression, deps.signal)) {
      if (!recordMatches(r, q, qLower)) continue;
      chunk += JSON.stringify(r) + '\n';
      if (++sent === max) break;
      if (chunk.length >= 64 * 1024) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
    if (sent === max) return;
  }
}
