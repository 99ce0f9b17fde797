/**
 * Writes validated records into their day indices with `_bulk` + `op_type: create`.
 *
 * Contract: returns one outcome per input record, in order. `created` and `duplicate`
 * (409: an earlier send stored it) mean stored; `rejected` is final (the document can
 * never be indexed as it is); `retry` means OpenSearch pushed back or failed transiently
 * for that item, and the caller must not acknowledge the batch. Concurrency-safe: the only
 * shared state is the set of day indices known to exist, which only grows.
 */
import type { LogRecord } from '../../shared/record.ts';
import type { DiscardReason } from '../../shared/reasons.ts';
import type { OpenSearch } from './opensearch.ts';
import { storeErrorType } from './opensearch.ts';
import { clusterAlias, dayIndexName } from './log-indices.ts';

export type ItemOutcome =
  | { kind: 'created' }
  | { kind: 'duplicate' }
  | { kind: 'retry'; status: number }
  | { kind: 'rejected'; reason: DiscardReason; message: string };

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string };
}

/** Pure: what one `_bulk` item result means for delivery. */
export function classifyBulkItem(item: BulkItemResult): ItemOutcome {
  if (item.status >= 200 && item.status < 300) return { kind: 'created' };
  if (item.status === 409) return { kind: 'duplicate' };
  if (item.status === 429 || item.status >= 500) return { kind: 'retry', status: item.status };
  const type = item.error?.type ?? 'unknown';
  if (type === 'index_closed_exception') {
    return { kind: 'rejected', reason: 'index_closed', message: 'the day index is closed' };
  }
  // 400-class: the document itself cannot be indexed (mapping, too large a term, …).
  return { kind: 'rejected', reason: 'mapping_rejected', message: `store rejected the record (${type})` };
}

/**
 * Pure: the NDJSON body of a create-only bulk request. `raw[i]`, when given, is record
 * i's JSON text exactly as validated: it is stored as received with `ingested_at`
 * appended instead of being serialised again.
 */
export function buildBulkBody(
  prefix: string,
  records: readonly LogRecord[],
  ingestedAt: string,
  raw?: ReadonlyArray<string | undefined>,
): string {
  let body = '';
  const stamp = `,"ingested_at":"${ingestedAt}"}`;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    body += `{"create":{"_index":${JSON.stringify(dayIndexName(prefix, r.cluster, r.timestamp))},"_id":${JSON.stringify(r.id)}}}\n`;
    const text = raw?.[i];
    const close = text === undefined ? -1 : text.lastIndexOf('}');
    body += (close > 0 ? text!.slice(0, close) + stamp : JSON.stringify({ ...r, ingested_at: ingestedAt })) + '\n';
  }
  return body;
}

/** Only what delivery needs from the `_bulk` response: OpenSearch serialises less, we parse less. */
const BULK_FILTER_PATH = 'errors,items.*.status,items.*.error.type';

export class BulkWriter {
  readonly #client: OpenSearch;
  readonly #prefix: string;
  readonly #knownIndices = new Set<string>();

  constructor(client: OpenSearch, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  /** Records must be validated and carry canonical timestamps. Throws on request-level failure. */
  async write(records: readonly LogRecord[], raw?: ReadonlyArray<string | undefined>): Promise<ItemOutcome[]> {
    if (records.length === 0) return [];
    await this.#ensureDayIndices(records);
    const body = buildBulkBody(this.#prefix, records, new Date().toISOString(), raw);
    // A pre-built NDJSON string: the client passes it through unchanged.
    const res = await this.#client.bulk({ body: body as unknown as Record<string, unknown>[], filter_path: BULK_FILTER_PATH });
    const items = (res.body as { items: Array<Record<string, BulkItemResult>> }).items;
    return items.map((entry) => classifyBulkItem(Object.values(entry)[0] ?? { status: 500 }));
  }

  /**
   * Day indices are created explicitly (not by auto-create) so each joins its cluster's
   * alias; the template supplies settings and mappings.
   */
  async #ensureDayIndices(records: readonly LogRecord[]): Promise<void> {
    const missing = new Map<string, string>();
    for (const r of records) {
      const index = dayIndexName(this.#prefix, r.cluster, r.timestamp);
      if (!this.#knownIndices.has(index)) missing.set(index, r.cluster);
    }
    for (const [index, cluster] of missing) {
      try {
        await this.#client.indices.create({
          index,
          body: { aliases: { [clusterAlias(this.#prefix, cluster)]: {} } },
        });
      } catch (err) {
        if (storeErrorType(err) !== 'resource_already_exists_exception') throw err;
      }
      this.#knownIndices.add(index);
    }
  }

  /** Forget known indices (after retention deleted some). */
  forget(index: string): void {
    this.#knownIndices.delete(index);
  }
}
