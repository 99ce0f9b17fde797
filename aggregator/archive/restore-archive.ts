/**
 * Restore (issue 12): archived records loaded back into the store, and removed again.
 *
 * Restored records go to `<prefix>-<cluster>-YYYY.MM.DD-restored` (the day of each record's
 * own timestamp). The name matches the cluster's log index pattern, so `GET /`, `/search`
 * and LogQL see them; it is not a day index (retention never picks it, and the archive
 * planner skips `-restored`, so restored data is never archived a second time).
 *
 * Idempotent by record id: each record is written with `op_type: create` and `_id` = its
 * id (a second restore of the same range stores nothing twice: every write is a 409,
 * counted as `already_present`), and a record its original day index still holds is not
 * written at all (it is already visible; a copy would show twice).
 *
 * Memory: one object streams at a time, one batch of `BATCH` records is held.
 */
import type { LogRecord } from '../../shared/record.ts';
import type { OpenSearch } from '../store/opensearch.ts';
import { storeErrorType } from '../store/opensearch.ts';
import { objectRecords } from './archive-content.ts';
import type { CatalogObject } from './archive-catalog.ts';
import type { ArchiveBucket } from './s3-bucket.ts';
import { partitionIndex } from './partition-source.ts';

export const RESTORED_SUFFIX = '-restored';
const BATCH = 500;

export function restoredIndexName(prefix: string, cluster: string, day: string): string {
  return `${partitionIndex(prefix, { cluster, day })}${RESTORED_SUFFIX}`;
}

/** Pattern of every restored index of a cluster. */
export function restoredIndexPattern(prefix: string, cluster: string): string {
  return `${prefix}-${cluster}-*${RESTORED_SUFFIX}`;
}

export interface RestoreRange {
  cluster: string;
  /** Empty = every namespace. */
  namespaces: readonly string[];
  /** Inclusive canonical timestamps. */
  startTs: string;
  endTs: string;
}

export interface ObjectRestore {
  /** Records of the object inside the range. */
  read: number;
  /** Written now. */
  restored: number;
  /** Already in the store (restored before, or still in the original day index). */
  already_present: number;
}

/** Pure: is the record part of the range? */
export function inRange(r: Pick<LogRecord, 'cluster' | 'namespace' | 'timestamp'>, range: RestoreRange): boolean {
  return (
    r.cluster === range.cluster &&
    (range.namespaces.length === 0 || range.namespaces.includes(r.namespace)) &&
    r.timestamp >= range.startTs &&
    r.timestamp <= range.endTs
  );
}

/** Creates the restored index when missing (once per written batch: cheap, and never stale). */
async function ensureIndex(client: OpenSearch, index: string): Promise<void> {
  try {
    // Settings and mappings come from the log index template (`<prefix>-*`); no cluster alias.
    await client.indices.create({ index });
  } catch (err) {
    if (storeErrorType(err) !== 'resource_already_exists_exception') throw err;
  }
}

/** Ids of `ids` that `index` holds (none when the index is gone). */
async function presentIds(client: OpenSearch, index: string, ids: readonly string[]): Promise<Set<string>> {
  const res = await client.search({
    index,
    ignore_unavailable: true,
    allow_no_indices: true,
    body: { size: ids.length, _source: false, query: { ids: { values: [...ids] } } },
  });
  return new Set((res.body.hits.hits as Array<{ _id: string }>).map((h) => h._id));
}

async function writeBatch(
  client: OpenSearch,
  indexPrefix: string,
  batch: LogRecord[],
  out: ObjectRestore,
): Promise<void> {
  const byDay = new Map<string, LogRecord[]>();
  for (const r of batch) {
    const day = r.timestamp.slice(0, 10);
    const list = byDay.get(day) ?? [];
    list.push(r);
    byDay.set(day, list);
  }
  const lines: string[] = [];
  for (const [day, recs] of byDay) {
    const original = await presentIds(
      client,
      partitionIndex(indexPrefix, { cluster: recs[0]!.cluster, day }),
      recs.map((r) => r.id),
    );
    const index = restoredIndexName(indexPrefix, recs[0]!.cluster, day);
    const before = lines.length;
    for (const r of recs) {
      if (original.has(r.id)) {
        out.already_present++;
        continue;
      }
      lines.push(JSON.stringify({ create: { _index: index, _id: r.id } }), JSON.stringify(r));
    }
    if (lines.length > before) await ensureIndex(client, index);
  }
  if (lines.length === 0) return;
  const res = await client.bulk({ body: lines.join('\n') + '\n' } as never);
  const items = (res.body as { items: Array<{ create: { status: number; error?: { type?: string } } }> }).items;
  for (const item of items) {
    if (item.create.status === 201) out.restored++;
    else if (item.create.status === 409) out.already_present++;
    else
      throw new Error(`restore: the store refused a record (${item.create.status} ${item.create.error?.type ?? ''})`);
  }
}

/** Restores the records of one archived object that fall in `range`. */
export async function restoreObject(input: {
  client: OpenSearch;
  indexPrefix: string;
  bucket: ArchiveBucket;
  object: Pick<CatalogObject, 'key' | 'compression'>;
  range: RestoreRange;
  signal?: AbortSignal | undefined;
}): Promise<ObjectRestore> {
  const out: ObjectRestore = { read: 0, restored: 0, already_present: 0 };
  let batch: LogRecord[] = [];
  for await (const r of objectRecords(input.bucket, input.object.key, input.object.compression, input.signal)) {
    if (!inRange(r, input.range)) continue;
    out.read++;
    batch.push(r);
    if (batch.length >= BATCH) {
      await writeBatch(input.client, input.indexPrefix, batch, out);
      batch = [];
    }
  }
  if (batch.length > 0) await writeBatch(input.client, input.indexPrefix, batch, out);
  return out;
}

/**
 * Removes restored records of a range (and the restored indices left empty). The original
 * day indices are never touched. Returns the number of records deleted.
 */
export async function removeRestored(client: OpenSearch, indexPrefix: string, range: RestoreRange): Promise<number> {
  const index = restoredIndexPattern(indexPrefix, range.cluster);
  const filter: object[] = [
    { term: { cluster: range.cluster } },
    { range: { timestamp: { gte: range.startTs, lte: range.endTs } } },
  ];
  if (range.namespaces.length > 0) filter.push({ terms: { namespace: [...range.namespaces] } });
  const res = await client.deleteByQuery({
    index,
    ignore_unavailable: true,
    allow_no_indices: true,
    refresh: true,
    conflicts: 'proceed',
    body: { query: { bool: { filter } } },
  });
  const deleted = (res.body as { deleted?: number }).deleted ?? 0;
  const cat = await client.cat
    .indices({ index, format: 'json', h: 'index,docs.count' } as never)
    .catch(() => ({ body: [] }));
  const empty = ((cat.body as Array<{ index: string; 'docs.count': string }>) ?? [])
    .filter((i) => i['docs.count'] === '0')
    .map((i) => i.index);
  if (empty.length > 0) await client.indices.delete({ index: empty.join(','), ignore_unavailable: true });
  return deleted;
}
