/**
 * One generic repository for the aggregator's own resources in a system index (DESIGN.md §5):
 * tokens, collection configs, jobs, and later cluster configs and archive policies.
 *
 * - Validated on read: every `_source` is checked against the resource's TypeBox schema; a
 *   document that does not match is an `AGG_ERR_STORED_DOCUMENT_INVALID` on `get`, and is
 *   skipped (and reported to `onInvalid`) by `list`, so one bad document cannot hide the rest.
 * - Listed by `search_after` over (`sortField`, `tiebreakField`) with the one cursor codec
 *   (http/cursor.ts): no `from`/`size` paging and no fixed page of 1000.
 * - Written with optimistic concurrency: every stored document carries its version
 *   (`_seq_no` / `_primary_term`, an ETag in HTTP); `replace` and `delete` given a version
 *   write only if it is still current (`AGG_ERR_PRECONDITION_FAILED`, 412, otherwise);
 *   `update` re-reads and re-applies its change on a conflict, so concurrent updates are
 *   serialised by the store and none is silently lost.
 *
 * Outcomes that are facts about the resource (already exists, stale version) are AppErrors
 * with their code; store failures go through `toAppError` (429 / 503 / 500) with the
 * resource's name. Concurrency-safe: the instance holds no mutable state.
 */
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError } from '../errors.ts';
import { decodeCursor, encodeCursor, isSortValues } from '../http/cursor.ts';
import type { DocVersion } from '../http/etag.ts';
import type { Page } from '../http/paging.ts';
import type { OpenSearch } from './opensearch.ts';
import { storeStatus, toAppError } from './opensearch.ts';

export interface Stored<T> {
  readonly id: string;
  readonly doc: T;
  readonly version: DocVersion;
}

/** `wait_for`: the write is visible to lists when it returns; `false`: only to `get` (realtime). */
export type RefreshPolicy = 'wait_for' | false;

export interface RepositoryOptions {
  /** Name in messages (`collection config`, `job`). */
  readonly resource: string;
  /** Sort field of lists (a keyword or date in the mapping). */
  readonly sortField: string;
  /** Unique keyword field that breaks ties of `sortField` (the store does not sort on `_id`). */
  readonly tiebreakField: string;
  /** Default refresh of writes. Default `wait_for`. */
  readonly refresh?: RefreshPolicy;
  /** Called for each document a list skipped because it failed validation. */
  readonly onInvalid?: (id: string, problems: string[]) => void;
}

export interface ListOptions {
  /** `bool.filter` clauses (term / range …) of the list's filters. */
  readonly filter?: readonly object[];
  readonly mustNot?: readonly object[];
  readonly limit: number;
  readonly cursor?: string | undefined;
  /** Digest of the filters (http/cursor.ts `filterDigest`): a cursor only continues its own list. */
  readonly digest: string;
  readonly order?: 'asc' | 'desc';
}

export interface WriteOptions {
  /** Write only if the document is still at this version. */
  readonly ifVersion?: DocVersion | undefined;
  readonly refresh?: RefreshPolicy;
}

interface Hit {
  _id: string;
  _source: unknown;
  _seq_no?: number;
  _primary_term?: number;
  sort?: unknown[];
}

export class SystemRepository<S extends TSchema> {
  readonly #client: OpenSearch;
  readonly #index: string;
  readonly #o: Required<Omit<RepositoryOptions, 'onInvalid'>> & Pick<RepositoryOptions, 'onInvalid'>;
  readonly #check: ReturnType<typeof Compile<S>>;

  constructor(client: OpenSearch, index: string, schema: S, opts: RepositoryOptions) {
    this.#client = client;
    this.#index = index;
    this.#o = { refresh: 'wait_for', ...opts };
    this.#check = Compile(schema);
  }

  get index(): string {
    return this.#index;
  }

  /** The document, or undefined when there is none. */
  async get(id: string): Promise<Stored<Static<S>> | undefined> {
    let res;
    try {
      res = await this.#client.get({ index: this.#index, id });
    } catch (err) {
      if (storeStatus(err) === 404) return undefined;
      throw toAppError(err, `${this.#o.resource} read`);
    }
    const body = res.body as { _source?: unknown; _seq_no?: number; _primary_term?: number; found?: boolean };
    if (body.found === false) return undefined;
    return this.#stored(id, body._source, body._seq_no, body._primary_term);
  }

  /** Creates the document; `AGG_ERR_CONFLICT` (409) when `id` exists. */
  async create(id: string, doc: Static<S>, opts: { refresh?: RefreshPolicy } = {}): Promise<Stored<Static<S>>> {
    this.#validateWrite(doc);
    try {
      const res = await this.#client.index({
        index: this.#index,
        id,
        body: doc as Record<string, unknown>,
        op_type: 'create',
        refresh: opts.refresh ?? this.#o.refresh,
      });
      return { id, doc, version: { seqNo: res.body._seq_no, primaryTerm: res.body._primary_term } };
    } catch (err) {
      if (storeStatus(err) === 409)
        throw new AppError('AGG_ERR_CONFLICT', `${this.#o.resource} "${id}" already exists`);
      throw toAppError(err, `${this.#o.resource} create`);
    }
  }

  /**
   * Writes the whole document. With `ifVersion`: only if it is still current, else
   * `AGG_ERR_PRECONDITION_FAILED` (412) — also when it was deleted meanwhile. Without: an
   * unconditional upsert (for documents with a single writer, such as heartbeats).
   */
  async replace(id: string, doc: Static<S>, opts: WriteOptions = {}): Promise<Stored<Static<S>>> {
    this.#validateWrite(doc);
    const v = opts.ifVersion;
    try {
      const res = await this.#client.index({
        index: this.#index,
        id,
        body: doc as Record<string, unknown>,
        refresh: opts.refresh ?? this.#o.refresh,
        ...(v ? { if_seq_no: v.seqNo, if_primary_term: v.primaryTerm } : {}),
      });
      return { id, doc, version: { seqNo: res.body._seq_no, primaryTerm: res.body._primary_term } };
    } catch (err) {
      if (v && (storeStatus(err) === 409 || storeStatus(err) === 404)) throw this.#stale(id);
      throw toAppError(err, `${this.#o.resource} write`);
    }
  }

  /**
   * Read-modify-write: `change` gets the current document and returns the next one (or
   * undefined to leave it as it is). Without `ifVersion`, a concurrent write makes it re-read
   * and apply `change` again (up to `maxAttempts`), so no update is lost; with `ifVersion`, a
   * document not at that version is a 412 at once. Undefined when there is no document.
   * `change` must be pure: it may run several times.
   */
  async update(
    id: string,
    change: (current: Stored<Static<S>>) => Static<S> | undefined,
    opts: WriteOptions & { maxAttempts?: number } = {},
  ): Promise<Stored<Static<S>> | undefined> {
    const attempts = opts.maxAttempts ?? 20;
    for (let i = 0; ; i++) {
      const current = await this.get(id);
      if (!current) return undefined;
      if (opts.ifVersion && !sameVersion(opts.ifVersion, current.version)) throw this.#stale(id);
      const next = change(current);
      if (next === undefined) return current;
      try {
        return await this.replace(id, next, { ifVersion: current.version, refresh: opts.refresh ?? this.#o.refresh });
      } catch (err) {
        const stale = err instanceof AppError && err.errorName === 'AGG_ERR_PRECONDITION_FAILED';
        if (!stale || opts.ifVersion || i + 1 >= attempts) throw err;
        // Someone else wrote in between: read their version and apply the change to it.
      }
    }
  }

  /** Deletes; false when there was no document. With `ifVersion`, 412 unless it is current. */
  async delete(id: string, opts: WriteOptions = {}): Promise<boolean> {
    const v = opts.ifVersion;
    try {
      await this.#client.delete({
        index: this.#index,
        id,
        refresh: opts.refresh ?? this.#o.refresh,
        ...(v ? { if_seq_no: v.seqNo, if_primary_term: v.primaryTerm } : {}),
      });
      return true;
    } catch (err) {
      const status = storeStatus(err);
      if (status === 404) {
        if (v) throw this.#stale(id);
        return false;
      }
      if (v && status === 409) throw this.#stale(id);
      throw toAppError(err, `${this.#o.resource} delete`);
    }
  }

  /**
   * Deletes every document matching `filter` (a bool filter); the number deleted. A
   * document changed while the deletion runs is skipped (`conflicts: proceed`): it no
   * longer is what the caller matched, so the next call decides again.
   */
  async deleteWhere(filter: readonly object[]): Promise<number> {
    try {
      const res = await this.#client.deleteByQuery({
        index: this.#index,
        conflicts: 'proceed',
        refresh: true,
        allow_no_indices: true,
        ignore_unavailable: true,
        body: { query: { bool: { filter: [...filter] } } },
      });
      return (res.body as { deleted?: number }).deleted ?? 0;
    } catch (err) {
      throw toAppError(err, `${this.#o.resource} delete`);
    }
  }

  /** One page of documents matching `filter`, in (`sortField`, `tiebreakField`) order. */
  async list(opts: ListOptions): Promise<Page<Stored<Static<S>>>> {
    const order = opts.order ?? 'asc';
    const kind = `repo:${this.#index}:${order}`;
    const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, kind, opts.digest, isSortValues(2));
    let res;
    try {
      res = await this.#client.search({
        index: this.#index,
        body: {
          size: opts.limit + 1,
          seq_no_primary_term: true,
          track_total_hits: false,
          query: { bool: { filter: [...(opts.filter ?? [])], must_not: [...(opts.mustNot ?? [])] } },
          sort: [{ [this.#o.sortField]: { order } }, { [this.#o.tiebreakField]: { order } }],
          ...(after ? { search_after: after } : {}),
        } as never,
      });
    } catch (err) {
      throw toAppError(err, `${this.#o.resource} list`);
    }
    const hits = res.body.hits.hits as Hit[];
    const hasMore = hits.length > opts.limit;
    const page = hits.slice(0, opts.limit);
    const items: Array<Stored<Static<S>>> = [];
    for (const h of page) {
      if (!this.#check.Check(h._source)) {
        this.#o.onInvalid?.(h._id, this.#problems(h._source));
        continue;
      }
      items.push({
        id: h._id,
        doc: h._source as Static<S>,
        version: { seqNo: h._seq_no ?? -1, primaryTerm: h._primary_term ?? -1 },
      });
    }
    const last = page[page.length - 1];
    return {
      items,
      has_more: hasMore,
      next_cursor: hasMore && last?.sort ? encodeCursor(kind, opts.digest, last.sort) : null,
    };
  }

  /** Every document matching `filter`, page by page (for internal scans; bounded by the caller's loop). */
  async *scan(filter: readonly object[], pageSize = 500): AsyncGenerator<Stored<Static<S>>, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ filter, limit: pageSize, cursor, digest: 'scan' });
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  #stored(id: string, source: unknown, seqNo: number | undefined, primaryTerm: number | undefined): Stored<Static<S>> {
    if (!this.#check.Check(source)) {
      throw new AppError(
        'AGG_ERR_STORED_DOCUMENT_INVALID',
        `stored ${this.#o.resource} "${id}" does not match its schema`,
        {
          details: this.#problems(source),
        },
      );
    }
    return { id, doc: source as Static<S>, version: { seqNo: seqNo ?? -1, primaryTerm: primaryTerm ?? -1 } };
  }

  /** A bug, not a caller's input: the use case builds documents. */
  #validateWrite(doc: unknown): void {
    if (!this.#check.Check(doc)) {
      throw new AppError(
        'AGG_ERR_INTERNAL',
        `${this.#o.resource}: refusing to store a document that does not match its schema`,
        {
          cause: new Error(this.#problems(doc).join('; ')),
        },
      );
    }
  }

  #problems(value: unknown): string[] {
    return this.#check
      .Errors(value)
      .slice(0, 10)
      .map((e) => `${e.instancePath || '/'} ${e.message}`);
  }

  #stale(id: string): AppError {
    return new AppError(
      'AGG_ERR_PRECONDITION_FAILED',
      `${this.#o.resource} "${id}" was changed or deleted since that version was read; read it again`,
    );
  }
}

export function sameVersion(a: DocVersion, b: DocVersion): boolean {
  return a.seqNo === b.seqNo && a.primaryTerm === b.primaryTerm;
}
