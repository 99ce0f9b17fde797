/**
 * Discovery (`/namespaces`, `/pods`, `/containers`): what exists, from the log index merged
 * with the live cluster view. Pure: the OpenSearch request body, bucket parsing, the
 * sorted merge with live items and the cursor. Table-tested; I/O is in discovery-service.ts.
 *
 * Items are keyed by (cluster, namespace[, pod[, container]]) and listed in key order, so
 * a page boundary is just a key: the index side pages with a composite aggregation
 * (`after` = the key), the live side filters its (small, fully listed) items by the same
 * key. The token's access scope is part of the query model and always lands in the filter.
 */
import { MAX_TIME_NS } from '../../../shared/time.ts';
import { decodeCursor, encodeCursor, filterDigest } from '../../http/cursor.ts';
import { compileFilters, type AccessScope, type LogQuery } from '../../query/log-query.ts';

export type DiscoveryLevel = 'namespace' | 'pod' | 'container';

/** Key fields per level, in sort order. */
export const KEY_FIELDS: Record<DiscoveryLevel, readonly string[]> = {
  namespace: ['cluster', 'namespace'],
  pod: ['cluster', 'namespace', 'pod'],
  container: ['cluster', 'namespace', 'pod', 'container'],
};

export interface DiscoveryQuery {
  level: DiscoveryLevel;
  scope: AccessScope;
  clusters?: readonly string[];
  namespaces?: readonly string[];
  pods?: readonly string[];
  startNs: bigint;
  endNs: bigint;
  limit: number;
  /** Key of the last item of the previous page. */
  after?: readonly string[];
}

/** What the index knows about one key. */
export interface IndexedItem {
  key: string[];
  logCount: number;
  /** Epoch ms of the oldest / newest record in the window. */
  firstSeenMs: number;
  lastSeenMs: number;
}

/** What the live cluster says about one key. */
export interface LiveItem {
  key: string[];
  phase?: string;
  node?: string;
}

export interface MergedItem {
  key: string[];
  live: boolean;
  log_count: number;
  first_seen: string | null;
  last_seen: string | null;
  phase?: string;
  node?: string;
}

export function compareKeys(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * The composite-aggregation search: one bucket per key with its count and min/max
 * timestamp. Asks for `limit + 1` buckets so the caller can tell whether the index has more.
 */
export function compileDiscoverySearch(q: DiscoveryQuery): Record<string, unknown> {
  const logQuery: LogQuery = {
    scope: q.scope,
    ...(q.clusters ? { clusters: q.clusters } : {}),
    ...(q.namespaces ? { namespaces: q.namespaces } : {}),
    ...(q.pods ? { pods: q.pods } : {}),
    startNs: q.startNs,
    endNs: q.endNs,
    direction: 'backward',
    limit: q.limit,
  };
  const { filter } = compileFilters(logQuery);
  const fields = KEY_FIELDS[q.level];
  return {
    size: 0,
    track_total_hits: false,
    query: { bool: { filter } },
    aggs: {
      items: {
        composite: {
          size: q.limit + 1,
          sources: fields.map((f) => ({ [f]: { terms: { field: f } } })),
          ...(q.after ? { after: Object.fromEntries(fields.map((f, i) => [f, q.after?.[i] ?? ''])) } : {}),
        },
        aggs: { first_seen: { min: { field: 'timestamp' } }, last_seen: { max: { field: 'timestamp' } } },
      },
    },
  };
}

interface CompositeBucket {
  key: Record<string, string>;
  doc_count: number;
  first_seen: { value: number | null };
  last_seen: { value: number | null };
}

export function parseDiscoveryBuckets(level: DiscoveryLevel, aggregations: unknown): IndexedItem[] {
  const buckets = (aggregations as { items?: { buckets?: CompositeBucket[] } } | undefined)?.items?.buckets ?? [];
  const fields = KEY_FIELDS[level];
  return buckets.map((b) => ({
    key: fields.map((f) => String(b.key[f])),
    logCount: b.doc_count,
    firstSeenMs: b.first_seen.value ?? 0,
    lastSeenMs: b.last_seen.value ?? 0,
  }));
}

/**
 * Merges one page. `indexed` is what the composite aggregation returned (sorted, at most
 * limit + 1 items, all after `after`); when it returned limit + 1 the index has more, and
 * keys beyond its last one are unknown, so live items past it wait for a later page.
 * `live` is every live item in scope (any order); those not after `after` are skipped.
 */
export function mergeDiscoveryPage(
  indexed: readonly IndexedItem[],
  live: readonly LiveItem[],
  after: readonly string[] | undefined,
  limit: number,
): { items: MergedItem[]; hasMore: boolean } {
  const indexTruncated = indexed.length > limit;
  const bound = indexTruncated ? indexed[indexed.length - 1]?.key : undefined;
  const byKey = new Map<string, MergedItem>();
  for (const it of indexed) {
    byKey.set(JSON.stringify(it.key), {
      key: it.key,
      live: false,
      log_count: it.logCount,
      first_seen: new Date(it.firstSeenMs).toISOString(),
      last_seen: new Date(it.lastSeenMs).toISOString(),
    });
  }
  for (const it of live) {
    if (after && compareKeys(it.key, after) <= 0) continue;
    if (bound && compareKeys(it.key, bound) > 0) continue;
    const id = JSON.stringify(it.key);
    const item = byKey.get(id) ?? { key: it.key, live: false, log_count: 0, first_seen: null, last_seen: null };
    item.live = true;
    if (it.phase !== undefined) item.phase = it.phase;
    if (it.node !== undefined) item.node = it.node;
    byKey.set(id, item);
  }
  const all = [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
  return { items: all.slice(0, limit), hasMore: all.length > limit };
}

/** Keeps the live items the query may show: scope and filters, key by key. */
export function liveItemInScope(q: DiscoveryQuery, key: readonly string[]): boolean {
  const [cluster = '', namespace = '', pod] = key;
  const allowed = (limits: readonly string[] | null | undefined, v: string) => !limits || limits.includes(v);
  return (
    allowed(q.scope.clusters, cluster) &&
    allowed(q.scope.namespaces, namespace) &&
    allowed(q.clusters, cluster) &&
    allowed(q.namespaces, namespace) &&
    (pod === undefined || allowed(q.pods, pod))
  );
}

/** A discovery cursor's position: the last key shown and the window the first page resolved. */
export interface DiscoveryCursor {
  after: string[];
  startNs: bigint;
  endNs: bigint;
}

/** As it travels in the shared codec (http/cursor.ts): bigints as decimal strings. */
type DiscoveryPosition = [after: string[], startNs: string, endNs: string];

const cursorKind = (level: DiscoveryLevel) => `discovery:${level}`;

export function encodeDiscoveryCursor(level: DiscoveryLevel, digest: string, c: DiscoveryCursor): string {
  const position: DiscoveryPosition = [c.after, c.startNs.toString(), c.endNs.toString()];
  return encodeCursor(cursorKind(level), digest, position);
}

/** Throws the codec's AGG_ERR_INVALID_CURSOR when malformed, of another level or query, or forged. */
export function decodeDiscoveryCursor(cursor: string, level: DiscoveryLevel, digest: string): DiscoveryCursor {
  const isPosition = (v: unknown): v is DiscoveryPosition =>
    Array.isArray(v) &&
    v.length === 3 &&
    Array.isArray(v[0]) &&
    v[0].length === KEY_FIELDS[level].length &&
    v[0].every((k: unknown) => typeof k === 'string') &&
    typeof v[1] === 'string' &&
    /^\d{1,19}$/.test(v[1]) &&
    typeof v[2] === 'string' &&
    /^\d{1,19}$/.test(v[2]) &&
    // A window no request could have asked for: forged or corrupted.
    BigInt(v[2]) <= MAX_TIME_NS &&
    BigInt(v[1]) <= BigInt(v[2]);
  const [after, start, end] = decodeCursor(cursor, cursorKind(level), digest, isPosition);
  return { after, startNs: BigInt(start), endNs: BigInt(end) };
}

/** Digest of everything but the position, so a cursor only continues the query it came from. */
export function discoveryDigest(q: Omit<DiscoveryQuery, 'after' | 'startNs' | 'endNs' | 'limit'>): string {
  return filterDigest({
    level: q.level,
    scope_clusters: q.scope.clusters ?? null,
    scope_namespaces: q.scope.namespaces ?? null,
    clusters: q.clusters ?? null,
    namespaces: q.namespaces ?? null,
    pods: q.pods ?? null,
  });
}
