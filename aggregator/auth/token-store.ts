/**
 * Bearer tokens, stored hashed in the `tokens` system index (DESIGN.md §6).
 *
 * The document id is the SHA-256 of the token, so verification is one GET; the public
 * token id is a short random handle for listing and revoking. Verified tokens are cached
 * for `cacheMs`: a revocation reaches every replica within that time.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { OpenSearch } from '../store/opensearch.ts';
import { storeStatus } from '../store/opensearch.ts';
import { systemIndexName } from '../store/system-indices.ts';
import type { Principal, Scope } from './scopes.ts';

export interface TokenRecord {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  clusters: string[] | null;
  namespaces: string[] | null;
  created_at: string;
  expires_at: string | null;
}

interface TokenDoc extends TokenRecord {
  hash: string;
  revoked: boolean;
  bootstrap?: boolean;
}

const TOKEN_PREFIX = 'k8sl_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export class TokenStore {
  readonly #client: OpenSearch;
  readonly #index: string;
  readonly #cacheMs: number;
  readonly #cache = new Map<string, { principal: Principal | null; until: number }>();

  constructor(client: OpenSearch, indexPrefix: string, cacheMs: number) {
    this.#client = client;
    this.#index = systemIndexName(indexPrefix, 'tokens');
    this.#cacheMs = cacheMs;
  }

  /** The principal for a presented token, or null when unknown, revoked or expired. */
  async verify(token: string, now = Date.now()): Promise<Principal | null> {
    const hash = hashToken(token);
    const cached = this.#cache.get(hash);
    if (cached && cached.until > now) return cached.principal;
    let doc: TokenDoc | undefined;
    try {
      const res = await this.#client.get({ index: this.#index, id: hash });
      doc = res.body._source as TokenDoc;
    } catch (err) {
      if (storeStatus(err) !== 404) throw err;
    }
    const valid = doc && !doc.revoked && (!doc.expires_at || Date.parse(doc.expires_at) > now);
    const principal: Principal | null = valid && doc
      ? { tokenId: doc.id, name: doc.name, scopes: doc.scopes, clusters: doc.clusters, namespaces: doc.namespaces }
      : null;
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(hash, { principal, until: now + this.#cacheMs });
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
  }): Promise<{ token: string; record: TokenRecord }> {
    const token = input.secret ?? generateToken();
    const record: TokenRecord = {
      id: input.bootstrap ? 'bootstrap-admin' : randomBytes(8).toString('hex'),
      name: input.name,
      prefix: token.slice(0, TOKEN_PREFIX.length + 4),
      scopes: input.scopes,
      clusters: input.clusters ?? null,
      namespaces: input.namespaces ?? null,
      created_at: new Date().toISOString(),
      expires_at: input.expiresAt ?? null,
    };
    const doc: TokenDoc = { ...record, hash: hashToken(token), revoked: false, ...(input.bootstrap ? { bootstrap: true } : {}) };
    await this.#client.index({ index: this.#index, id: doc.hash, body: doc, refresh: 'wait_for' });
    return { token, record };
  }

  async list(): Promise<TokenRecord[]> {
    const res = await this.#client.search({
      index: this.#index,
      body: { size: 1000, query: { bool: { filter: [{ term: { revoked: false } }], must_not: [{ term: { id: 'bootstrap-marker' } }] } }, sort: [{ created_at: 'asc' }] },
    });
    return (res.body.hits.hits as Array<{ _source: TokenDoc }>).map(({ _source: d }) => toRecord(d));
  }

  /** Revokes by public id; false when no live token has that id. */
  async revoke(id: string): Promise<boolean> {
    const res = await this.#client.updateByQuery({
      index: this.#index,
      refresh: true,
      body: {
        query: { bool: { filter: [{ term: { id } }, { term: { revoked: false } }] } },
        script: { source: 'ctx._source.revoked = true', lang: 'painless' },
      },
    });
    this.#cache.clear();
    return ((res.body as { updated?: number }).updated ?? 0) > 0;
  }

  /**
   * Makes sure an admin token exists. With a configured secret, that token is (re)written.
   * Without one, the first replica to win the `create` of a marker document generates a
   * token and returns it for printing; every other start returns undefined.
   */
  async bootstrapAdmin(configured: string | undefined): Promise<string | undefined> {
    if (configured) {
      await this.create({ name: 'bootstrap admin', scopes: ['admin'], secret: configured, bootstrap: true });
      return undefined;
    }
    try {
      await this.#client.create({ index: this.#index, id: 'bootstrap-marker', body: { id: 'bootstrap-marker', revoked: true, created_at: new Date().toISOString() }, refresh: 'wait_for' });
    } catch (err) {
      if (storeStatus(err) === 409) return undefined;
      throw err;
    }
    const { token } = await this.create({ name: 'bootstrap admin', scopes: ['admin'], bootstrap: true });
    return token;
  }
}

function toRecord(d: TokenDoc): TokenRecord {
  return { id: d.id, name: d.name, prefix: d.prefix, scopes: d.scopes, clusters: d.clusters, namespaces: d.namespaces, created_at: d.created_at, expires_at: d.expires_at };
}
