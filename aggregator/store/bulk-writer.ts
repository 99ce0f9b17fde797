/**
 * Writes validated records into their day indices with `_bulk` + `op_type: create`.
 *
 * Contract: returns one outcome per input record, in order. `created` and `duplicate`
 * (409: an earlier send stored it) mean stored; `rejected` is final (the document itself
 * can never be indexed as it is); `retry` means OpenSearch pushed back, failed, or refused
 * that item for a reason of its own (closed or blocked index), and the caller must not
 * acknowledge the batch. A request-level failure (the day index cannot be created, the
 * `_bulk` request itself fails) is thrown: a {@link DayIndexError} for index creation, the
 * client's error otherwise; the caller decides what it means (this adapter never picks an
 * HTTP status). Concurrency-safe: the only shared state is the set of day indices believed
 * to exist (a stale entry is corrected by the `index_not_found` path below) and the day
 * indices whose creation was just refused (see `refusedRetryMs`).
 *
 * The chunks of one batch are sent in parallel, every request through the replica's one
 * {@link BulkGate}; a batch that would queue past the gate's bound throws
 * {@link BulkQueueFullError} before anything is sent (the caller answers 429).
 *
 * Every record is published on {@link BulkWriter.tail} as `write` starts, before it is
 * sent to OpenSearch (live tail: a view must not wait for a slow `_bulk` or the refresh;
 * see tail/tail-feed.ts for the guarantee).
 */
import type { LogRecord } from '../../shared/record.ts';
import type { DiscardReason } from '../../shared/reasons.ts';
import type { OpenSearch } from './opensearch.ts';
import { storeErrorType } from './opensearch.ts';
import { clusterAlias, dayIndexName } from './log-indices.ts';
import { BulkGate } from './bulk-gate.ts';
import { TailFeed } from '../tail/tail-feed.ts';

/** Why an item must be sent again; a bounded vocabulary (metric label values). */
export type ItemRetryCause = 'busy' | 'unavailable' | 'index_missing' | 'index_closed' | 'blocked' | 'refused';

export type ItemOutcome =
  | { kind: 'created' }
  | { kind: 'duplicate' }
  | { kind: 'retry'; status: number; cause: ItemRetryCause }
  | { kind: 'rejected'; reason: DiscardReason; message: string };

export interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string };
}

/**
 * Pure: what one `_bulk` item result means for delivery. Only the record's own shape
 * (a 400 such as a mapping error or an oversize term) is rejected for good; a refusal of
 * the store (missing, closed or blocked index, any other 4xx) is retried, since it says
 * nothing about the record and resending after the store is fixed succeeds.
 */
export function classifyBulkItem(item: BulkItemResult): ItemOutcome {
  const status = item.status;
  if (status >= 200 && status < 300) return { kind: 'created' };
  if (status === 409) return { kind: 'duplicate' };
  const type = item.error?.type;
  if (type === 'index_not_found_exception') return { kind: 'retry', status, cause: 'index_missing' };
  if (type === 'index_closed_exception') return { kind: 'retry', status, cause: 'index_closed' };
  if (type === 'cluster_block_exception') return { kind: 'retry', status, cause: 'blocked' };
  if (status === 429) return { kind: 'retry', status, cause: 'busy' };
  if (status >= 500) return { kind: 'retry', status, cause: 'unavailable' };
  if (status === 400 || status === 413) {
    return { kind: 'rejected', reason: 'mapping_rejected', message: `store rejected the record (${type ?? 'unknown'})` };
  }
  return { kind: 'retry', status, cause: 'refused' };
}

/** A day index could not be created: the store refused or failed the request. */
export class DayIndexError extends Error {
  override readonly name = 'DayIndexError';
  readonly index: string;
  constructor(index: string, cause: unknown) {
    super(`creating day index ${index} failed`, { cause });
    this.index = index;
  }
}

/** One `_bulk` request body and the input records it holds, `[start, end)`. */
export interface BulkChunk {
  body: string;
  start: number;
  end: number;
}

/**
 * Pure: NDJSON bodies of create-only bulk requests, split at record boundaries so that no
 * body is longer than `maxBytes` UTF-8 bytes unless a single record is (it then goes
 * alone). Chunks cover the input in order. `raw[i]`, when given, is record i's JSON text
 * exactly as validated: it is stored as received with `ingested_at` appended instead of
 * being serialised again.
 */
export function buildBulkChunks(
  prefix: string,
  records: readonly LogRecord[],
  ingestedAt: string,
  raw: ReadonlyArray<string | undefined> | undefined,
  maxBytes: number,
): BulkChunk[] {
  const chunks: BulkChunk[] = [];
  let body = '';
  let bytes = 0;
  let start = 0;
  const stamp = `,"ingested_at":"${ingestedAt}"}`;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const text = raw?.[i];
    const close = text === undefined ? -1 : text.lastIndexOf('}');
    const entry =
      `{"create":{"_index":${JSON.stringify(dayIndexName(prefix, r.cluster, r.timestamp))},"_id":${JSON.stringify(r.id)}}}\n` +
      (close > 0 ? text!.slice(0, close) + stamp : JSON.stringify({ ...r, ingested_at: ingestedAt })) +
      '\n';
    const entryBytes = Buffer.byteLength(entry);
    if (bytes > 0 && bytes + entryBytes > maxBytes) {
      chunks.push({ body, start, end: i });
      body = '';
      bytes = 0;
      start = i;
    }
    body += entry;
    bytes += entryBytes;
  }
  if (bytes > 0) chunks.push({ body, start, end: records.length });
  return chunks;
}

/** Pure: the whole batch as one bulk body (benchmarks and direct loaders). */
export function buildBulkBody(
  prefix: string,
  records: readonly LogRecord[],
  ingestedAt: string,
  raw?: ReadonlyArray<string | undefined>,
): string {
  return buildBulkChunks(prefix, records, ingestedAt, raw, Infinity)
    .map((c) => c.body)
    .join('');
}

/** Only what delivery needs from the `_bulk` response: OpenSearch serialises less, we parse less. */
const BULK_FILTER_PATH = 'errors,items.*.status,items.*.error.type';

export class BulkWriter {
  readonly #client: OpenSearch;
  readonly #prefix: string;
  readonly #maxBulkBytes: number;
  readonly #knownIndices = new Set<string>();
  /** This replica's bound on `_bulk` requests in flight and waiting (shared by all batches). */
  readonly gate: BulkGate;
  /** Records as they are created in the store, for live views. */
  readonly tail: TailFeed;
  readonly #tailBufferRecords: number;
  /** Day index → when its refused creation may be tried again (ms) and the refusal. */
  readonly #refused = new Map<string, { untilMs: number; cause: unknown }>();
  readonly #refusedRetryMs: number;
  readonly #now: () => number;

  /**
   * `refusedRetryMs`: after the store refused (or failed) to create a day index, batches for
   * that day fail at once with the same refusal for this long, ms, instead of asking the
   * store again for every batch of every agent (a shard limit at midnight would otherwise
   * turn into a storm of create requests). Default 5000; agents retry anyway.
   */
  constructor(
    client: OpenSearch,
    prefix: string,
    opts: {
      maxBulkBytes?: number;
      maxConcurrentBulks?: number;
      maxQueuedBulks?: number;
      liveTailMaxSubscribers?: number;
      liveTailBufferRecords?: number;
      refusedRetryMs?: number;
      now?: () => number;
    } = {},
  ) {
    this.#client = client;
    this.#prefix = prefix;
    this.#maxBulkBytes = opts.maxBulkBytes ?? 10 << 20;
    this.gate = new BulkGate(opts.maxConcurrentBulks ?? 4, opts.maxQueuedBulks ?? 16);
    this.tail = new TailFeed({ maxSubscribers: opts.liveTailMaxSubscribers ?? 100 });
    this.#tailBufferRecords = opts.liveTailBufferRecords ?? 10_000;
    this.#refusedRetryMs = opts.refusedRetryMs ?? 5000;
    this.#now = opts.now ?? Date.now;
  }

  /** Buffer bound of each live tail subscription (config `ingest.liveTailBufferRecords`). */
  get tailBufferRecords(): number {
    return this.#tailBufferRecords;
  }

  /** Records must be validated and carry canonical timestamps. Throws on request-level failure. */
  async write(records: readonly LogRecord[], raw?: ReadonlyArray<string | undefined>): Promise<ItemOutcome[]> {
    if (records.length === 0) return [];
    this.tail.publish(records);
    await this.#ensureDayIndices(records);
    const chunks = buildBulkChunks(this.#prefix, records, new Date().toISOString(), raw, this.#maxBulkBytes);
    // Admission and the chunks' slot requests happen in one synchronous step (#send calls
    // acquire before its first await), so the gate's bound holds exactly.
    this.gate.admit(chunks.length);
    const outcomes = await this.#send(chunks, records.length);
    // A day index this replica believed to exist is gone (another replica's retention, an
    // operator) and auto-create is off: forget it, create it again with its alias (so
    // retention and queries still find it) and send its items once more. Anything still
    // failing stays `retry`, and the agent sends the batch again.
    const missing: number[] = [];
    outcomes.forEach((o, i) => {
      if (o.kind === 'retry' && o.cause === 'index_missing') missing.push(i);
    });
    if (missing.length === 0) return outcomes;
    const again = missing.map((i) => records[i]!);
    for (const r of again) this.#knownIndices.delete(dayIndexName(this.#prefix, r.cluster, r.timestamp));
    await this.#ensureDayIndices(again);
    const againRaw = raw ? missing.map((i) => raw[i]) : undefined;
    const retried = await this.#send(buildBulkChunks(this.#prefix, again, new Date().toISOString(), againRaw, this.#maxBulkBytes), again.length);
    missing.forEach((i, k) => {
      outcomes[i] = retried[k]!;
    });
    return outcomes;
  }

  /**
   * Sends the chunks in parallel, each in a gate slot; outcomes in input order. When one
   * request fails the error is thrown once all have finished (none is left running).
   */
  async #send(chunks: readonly BulkChunk[], count: number): Promise<ItemOutcome[]> {
    const outcomes: ItemOutcome[] = new Array<ItemOutcome>(count);
    const settled = await Promise.allSettled(
      chunks.map((chunk) =>
        this.gate.run(async () => {
          // A pre-built NDJSON string: the client passes it through unchanged.
          const res = await this.#client.bulk({ body: chunk.body as unknown as Record<string, unknown>[], filter_path: BULK_FILTER_PATH });
          const items = (res.body as { items?: Array<Record<string, BulkItemResult>> }).items ?? [];
          for (let i = chunk.start; i < chunk.end; i++) {
            const entry = items[i - chunk.start];
            // A missing item result is not an acknowledgement.
            outcomes[i] = classifyBulkItem((entry && Object.values(entry)[0]) ?? { status: 500 });
          }
        }),
      ),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return outcomes;
  }

  /**
   * Day indices are created explicitly (not by auto-create) so each joins its cluster's
   * alias; the template supplies settings and mappings. When the index already exists
   * (another replica was first, or OpenSearch auto-created it without the alias) the alias
   * is added again, which is idempotent.
   */
  async #ensureDayIndices(records: readonly LogRecord[]): Promise<void> {
    const missing = new Map<string, string>();
    for (const r of records) {
      const index = dayIndexName(this.#prefix, r.cluster, r.timestamp);
      if (!this.#knownIndices.has(index)) missing.set(index, r.cluster);
    }
    for (const [index, cluster] of missing) {
      const alias = clusterAlias(this.#prefix, cluster);
      const refused = this.#refused.get(index);
      if (refused !== undefined) {
        if (this.#now() < refused.untilMs) throw new DayIndexError(index, refused.cause);
        this.#refused.delete(index);
      }
      try {
        try {
          await this.#client.indices.create({ index, body: { aliases: { [alias]: {} } } });
        } catch (err) {
          if (storeErrorType(err) !== 'resource_already_exists_exception') throw err;
          await this.#client.indices.putAlias({ index, name: alias });
        }
      } catch (err) {
        this.#refused.set(index, { untilMs: this.#now() + this.#refusedRetryMs, cause: err });
        throw new DayIndexError(index, err);
      }
      this.#knownIndices.add(index);
    }
  }

  /** Forget known indices (after retention deleted some). */
  forget(index: string): void {
    this.#knownIndices.delete(index);
  }
}
