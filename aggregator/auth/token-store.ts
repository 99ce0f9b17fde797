/**
 * Bearer tokens, stored hashed in the `tokens` system index (DESIGN.md §6).
 *
 * The document id is the SHA-256 of the token, so verification is one GET; the public
 * token id is a short random handle for listing and revoking. Verdicts are cached
 * (`token-cache.ts`): valid tokens for `cacheMs` — a revocation reaches every replica within
 * that time — and refusals for the shorter `negativeCacheMs`, in separate bounded LRUs so
 * bogus tokens cannot evict valid ones. Concurrent verifications of one token share one
 * lookup. A store failure is an AppError: 429 when the store pushes back, else 503 with
 * Retry-After — a client cannot be told its token is bad when it could not be checked.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Counter } from 'prom-client';
import { Type, type Static } from 'typebox';
import { AppError } from '../errors.ts';
import { filterDigest } from '../http/cursor.ts';
import type { Page } from '../http/paging.ts';
import type { OpenSearch } from '../store/opensearch.ts';
import { toAppError } from '../store/opensearch.ts';
import { systemIndexName } from '../store/system-indices.ts';
import { SystemRepository } from '../store/system-repository.ts';
import { Scopes, type Principal, type Scope } from './scopes.ts';
import { TokenCache } from './token-cache.ts';

const Names = Type.Union([Type.Array(Type.String()), Type.Null()]);

/** Public id of the bootstrap admin token (every generation of it). */
export const BOOTSTRAP_TOKEN_ID = 'bootstrap-admin';

/** A stored token (id = SHA-256 of the secret); the secret itself is never stored. */
export const TokenDocSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  scopes: Type.Array(Type.Enum(Scopes)),
  clusters: Names,
  namespaces: Names,
  created_at: Type.String(),
  expires_at: Type.Union([Type.String(), Type.Null()]),
  hash: Type.String(),
  revoked: Type.Boolean(),
  bootstrap: Type.Optional(Type.Boolean()),
});
type TokenDoc = Static<typeof TokenDocSchema>;

export type TokenRecord = Omit<TokenDoc, 'hash' | 'revoked' | 'bootstrap'>;

const MARKER_ID = 'bootstrap-marker';

/** Public id of the agents' ingest token configured for `cluster` (K8S_LOGS_BOOTSTRAP_INGEST_*). */
export function bootstrapIngestTokenId(cluster: string): string {
  return `bootstrap-ingest-${cluster}`;
}

/** Whether a public id names a configured agents' ingest token (rotated by configuration, not revoked by hand). */
export function isBootstrapIngestTokenId(id: string): boolean {
  return id.startsWith('bootstrap-ingest-');
}

const TOKEN_PREFIX = 'k8sl_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export interface TokenStoreOptions {
  /** How long a valid token is trusted without a store lookup, ms. */
  cacheMs: number;
  /** How long an unknown, revoked or expired token is refused without a store lookup, ms. */
  negativeCacheMs: number;
  /** Bound of each of the valid and refused verdict caches, entries. */
  cacheMaxEntries: number;
  /** Counts store lookups made to verify a token, by `result` (valid | refused | error). */
  lookups?: Counter<'result'>;
}

export class TokenStore {
  readonly #client: OpenSearch;
  readonly #index: string;
  readonly #repo: SystemRepository<typeof TokenDocSchema>;
  readonly #cache: TokenCache;
  readonly #lookups: Counter<'result'> | undefined;
  /** Lookups under way, by hash: concurrent requests with one token share one GET. Bounded by in-flight requests. */
  readonly #inflight = new Map<string, Promise<Principal | null>>();

  constructor(client: OpenSearch, indexPrefix: string, opts: TokenStoreOptions) {
    this.#client = client;
    this.#index = systemIndexName(indexPrefix, 'tokens');
    this.#repo = new SystemRepository(client, this.#index, TokenDocSchema, {
      resource: 'token',
      sortField: 'created_at',
      tiebreakField: 'hash',
    });
    this.#cache = new TokenCache({
      positiveTtlMs: opts.cacheMs,
      negativeTtlMs: opts.negativeCacheMs,
      maxEntries: opts.cacheMaxEntries,
    });
    this.#lookups = opts.lookups;
  }

  /**
   * The principal for a presented token, or null when unknown, revoked or expired.
   * Throws an AppError (503 + Retry-After, or 429) when the store cannot answer.
   */
  async verify(token: string, now = Date.now()): Promise<Principal | null> {
    const hash = hashToken(token);
    const cached = this.#cache.get(hash, now);
    if (cached !== undefined) return cached;
    const pending = this.#inflight.get(hash);
    if (pending !== undefined) return pending;
    const lookup = this.#lookup(hash, now).finally(() => this.#inflight.delete(hash));
    this.#inflight.set(hash, lookup);
    return lookup;
  }

  async #lookup(hash: string, now: number): Promise<Principal | null> {
    let doc: TokenDoc | undefined;
    try {
      doc = (await this.#repo.get(hash))?.doc;
    } catch (err) {
      this.#lookups?.inc({ result: 'error' });
      throw authStoreError(err);
    }
    const valid = doc && !doc.revoked && (!doc.expires_at || Date.parse(doc.expires_at) > now);
    const principal: Principal | null =
      valid && doc
        ? { tokenId: doc.id, name: doc.name, scopes: doc.scopes, clusters: doc.clusters, namespaces: doc.namespaces }
        : null;
    this.#lookups?.inc({ result: principal ? 'valid' : 'refused' });
    this.#cache.set(hash, principal, now);
    return principal;
  }

  /** Creates a token; the secret is returned once and never stored. */
  async create(input: {
    name: string;
    scopes: Scope[];
    clusters?: string[] | null;
    namespaces?: string[] | null;
    expiresAt?: string | null;
    secret?: string;
    bootstrap?: boolean;
    /** A fixed public id (configured tokens); default random. */
    id?: string;
  }): Promise<{ token: string; record: TokenRecord }> {
    const token = input.secret ?? generateToken();
    const record: TokenRecord = {
      id: input.id ?? (input.bootstrap ? BOOTSTRAP_TOKEN_ID : randomBytes(8).toString('hex')),
      name: input.name,
      prefix: token.slice(0, TOKEN_PREFIX.length + 4),
      scopes: input.scopes,
      clusters: input.clusters ?? null,
      namespaces: input.namespaces ?? null,
      created_at: new Date().toISOString(),
      expires_at: input.expiresAt ?? null,
    };
    const doc: TokenDoc = {
      ...record,
      hash: hashToken(token),
      revoked: false,
      ...(input.bootstrap ? { bootstrap: true } : {}),
    };
    await this.#repo.replace(doc.hash, doc);
    // A refusal cached before the token existed (the configured admin token presented early) ends now.
    this.#cache.delete(doc.hash);
    return { token, record };
  }

  /** Live (not revoked) tokens, oldest first, one page at a time. */
  async list(opts: { limit: number; cursor?: string | undefined }): Promise<Page<TokenRecord>> {
    const page = await this.#repo.list({
      filter: [{ term: { revoked: false } }],
      mustNot: [{ term: { id: MARKER_ID } }],
      limit: opts.limit,
      cursor: opts.cursor,
      digest: filterDigest({ list: 'tokens' }),
    });
    return { ...page, items: page.items.map((s) => toRecord(s.doc)) };
  }

  /** Revokes by public id; false when no live token has that id. */
  async revoke(id: string): Promise<boolean> {
    const { items } = await this.#repo.list({
      filter: [{ term: { id } }, { term: { revoked: false } }],
      limit: 10,
      digest: 'revoke',
    });
    let revoked = 0;
    for (const item of items) {
      const after = await this.#repo.update(item.id, ({ doc }) =>
        doc.revoked ? undefined : { ...doc, revoked: true },
      );
      if (after?.doc.revoked) revoked++;
    }
    this.#cache.clear();
    return revoked > 0;
  }

  /**
   * Revokes every live ingest token of `cluster` (its agents' tokens, issued at registration
   * or by hand): what deleting a cluster does. Returns how many were revoked.
   */
  async revokeIngestTokensOf(cluster: string): Promise<number> {
    let revoked = 0;
    for await (const item of this.#repo.scan([
      { term: { clusters: cluster } },
      { term: { scopes: 'ingest' } },
      { term: { revoked: false } },
    ])) {
      const after = await this.#repo.update(item.id, ({ doc }) =>
        doc.revoked ? undefined : { ...doc, revoked: true },
      );
      if (after?.doc.revoked) revoked++;
    }
    this.#cache.clear();
    return revoked;
  }

  /**
   * Makes sure an admin token exists. With a configured secret, that token is (re)written
   * and every other bootstrap admin token is revoked: rotating the configured token retires
   * the old one (other replicas stop accepting it within their cache time). Without one,
   * the first replica to win the `create` of a marker document generates a token, revokes
   * earlier bootstrap tokens and returns the new one for printing; every other start returns
   * undefined. Tokens made through the API are never touched.
   */
  async bootstrapAdmin(configured: string | undefined): Promise<string | undefined> {
    if (configured) {
      await this.create({ name: 'bootstrap admin', scopes: ['admin'], secret: configured, bootstrap: true });
      await this.#revokeBootstrapExcept(hashToken(configured));
      return undefined;
    }
    try {
      await this.#repo.create(MARKER_ID, {
        id: MARKER_ID,
        name: 'bootstrap marker',
        prefix: '',
        scopes: [],
        clusters: null,
        namespaces: null,
        created_at: new Date().toISOString(),
        expires_at: null,
        hash: MARKER_ID,
        revoked: true,
      });
    } catch (err) {
      if (err instanceof AppError && err.errorName === 'AGG_ERR_CONFLICT') return undefined;
      throw err;
    }
    const { token } = await this.create({ name: 'bootstrap admin', scopes: ['admin'], bootstrap: true });
    await this.#revokeBootstrapExcept(hashToken(token));
    return token;
  }

  /**
   * Makes sure the agents' ingest token configured for one cluster is live: (re)written with
   * scope `ingest` for that cluster only, under the fixed id `bootstrap-ingest-<cluster>`, and
   * any earlier secret of it revoked, so changing the chart's Secret rotates it. It is not a
   * bootstrap admin token: rotating the admin token leaves it alone, and the reverse.
   */
  async bootstrapIngest(secret: string, cluster: string): Promise<void> {
    const id = bootstrapIngestTokenId(cluster);
    await this.create({
      name: `agents of ${cluster} (configured)`,
      scopes: ['ingest'],
      clusters: [cluster],
      secret,
      id,
    });
    await this.#revokeExcept([{ term: { id } }], hashToken(secret));
  }

  async #revokeBootstrapExcept(keepHash: string): Promise<void> {
    await this.#revokeExcept([{ term: { bootstrap: true } }], keepHash);
  }

  /** Revokes every live token matching `filter` but the one with `keepHash` (and the marker). */
  async #revokeExcept(filter: object[], keepHash: string): Promise<void> {
    await this.#client.updateByQuery({
      index: this.#index,
      refresh: true,
      conflicts: 'proceed',
      body: {
        query: {
          bool: {
            filter: [...filter, { term: { revoked: false } }],
            must_not: [{ term: { hash: keepHash } }, { term: { id: MARKER_ID } }],
          },
        },
        script: { source: 'ctx._source.revoked = true', lang: 'painless' },
      },
    });
    this.#cache.clear();
  }
}

/** Authentication could not be decided: never a 500 and never a 401 (the token may be fine). */
function authStoreError(err: unknown): AppError {
  const e = toAppError(err, 'authentication');
  if (e.status === 429 || e.status === 503) return e;
  return new AppError('AGG_ERR_STORE_UNAVAILABLE', 'authentication: the token store could not be read', {
    retryAfterSeconds: 5,
    cause: err,
  });
}

function toRecord(d: TokenDoc): TokenRecord {
  return {
    id: d.id,
    name: d.name,
    prefix: d.prefix,
    scopes: d.scopes,
    clusters: d.clusters,
    namespaces: d.namespaces,
    created_at: d.created_at,
    expires_at: d.expires_at,
  };
}
