/**
 * Registered clusters: the `clusters` system index (on the generic repository) and the live
 * connections they define (cluster-connections.ts), kept in step.
 *
 * A write on this replica applies to its connections at once; every replica also re-reads
 * all registrations every `syncIntervalMs` (and on `/clusters/refresh`), so a cluster
 * registered, changed or deleted through another replica reaches this one within that time.
 * A registration whose credentials cannot be decrypted (no key, another key) gets no
 * connection and says why in its status; it is never a request failure of `/pods`.
 *
 * Concurrency: changes to the connections (a write's apply, a delete's removal, a whole
 * sync) run one at a time. A sync decides from a scan of the store what to connect and what
 * to stop; a write applied while that scan ran would otherwise be undone by it (a cluster
 * registered meanwhile stopped as "deleted", one deleted meanwhile connected again) until
 * the next sync.
 */
import { AppError } from '../errors.ts';
import { filterDigest } from '../http/cursor.ts';
import { formatVersion } from '../http/etag.ts';
import type { Page } from '../http/paging.ts';
import type { SystemRepository, Stored, WriteOptions } from '../store/system-repository.ts';
import type { ClusterConnections } from './cluster-connections.ts';
import type { ClusterDocSchema } from './cluster-registration.ts';
import { kubeConfigFor, type ClusterDoc, type ClusterSecrets } from './cluster-registration.ts';
import { CredentialCipher, CredentialKeyError } from './credential-cipher.ts';

export type ClusterRepository = SystemRepository<typeof ClusterDocSchema>;

export interface RegistryLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export class ClusterRegistry {
  readonly #repo: ClusterRepository;
  readonly #connections: ClusterConnections;
  readonly #cipher: CredentialCipher | undefined;
  readonly #log: RegistryLogger;
  #timer: NodeJS.Timeout | undefined;
  #synced = false;
  #closed = false;
  /** Tail of the queue of connection changes (see Concurrency above). */
  #changes: Promise<unknown> = Promise.resolve();

  constructor(
    repo: ClusterRepository,
    connections: ClusterConnections,
    credentialsKey: string | undefined,
    log: RegistryLogger,
  ) {
    this.#repo = repo;
    this.#connections = connections;
    this.#cipher = credentialsKey === undefined ? undefined : new CredentialCipher(credentialsKey);
    this.#log = log;
  }

  get connections(): ClusterConnections {
    return this.#connections;
  }

  /** Seals secrets for storage; 409 `credentials_key_missing` when no key is configured. */
  seal(secrets: ClusterSecrets): NonNullable<ClusterDoc['credentials']> {
    if (!this.#cipher) {
      throw new AppError(
        'AGG_ERR_CREDENTIALS_KEY_MISSING',
        'refusing to store cluster credentials unencrypted: configure K8S_LOGS_CREDENTIALS_KEY (chart: credentials Secret) on the aggregator',
      );
    }
    return this.#cipher.seal(secrets);
  }

  /** The stored secrets of a registration (to keep them across an update that does not resend them). */
  open(doc: ClusterDoc): ClusterSecrets {
    if (!doc.credentials) return {};
    if (!this.#cipher)
      throw new CredentialKeyError('no K8S_LOGS_CREDENTIALS_KEY configured to decrypt the stored credentials');
    return this.#cipher.open(doc.credentials) as ClusterSecrets;
  }

  get(id: string): Promise<Stored<ClusterDoc> | undefined> {
    return this.#repo.get(id);
  }

  list(opts: {
    limit: number;
    cursor?: string | undefined;
    ids?: readonly string[] | null;
  }): Promise<Page<Stored<ClusterDoc>>> {
    return this.#repo.list({
      filter: opts.ids ? [{ terms: { id: [...opts.ids] } }] : [],
      limit: opts.limit,
      cursor: opts.cursor,
      digest: filterDigest({ list: 'clusters', ids: opts.ids ?? null }),
    });
  }

  async create(doc: ClusterDoc): Promise<Stored<ClusterDoc>> {
    const stored = await this.#repo.create(doc.id, doc);
    await this.apply(stored);
    return stored;
  }

  async replace(doc: ClusterDoc, opts: WriteOptions): Promise<Stored<ClusterDoc>> {
    const stored = await this.#repo.replace(doc.id, doc, opts);
    await this.apply(stored);
    return stored;
  }

  /** Deletes the registration and stops its connection; false when there was none. */
  async delete(id: string, opts: WriteOptions): Promise<boolean> {
    const deleted = await this.#repo.delete(id, opts);
    await this.#exclusive(() => this.#connections.remove(id));
    return deleted;
  }

  /** Makes this replica's connection of one registration match it. */
  apply(stored: Stored<ClusterDoc>): Promise<'unchanged' | 'connected' | 'reconnected' | 'removed' | 'none'> {
    return this.#exclusive(() => this.#apply(stored));
  }

  /** Runs `change` after every change queued before it (never two at once). */
  #exclusive<T>(change: () => Promise<T>): Promise<T> {
    const run = this.#changes.then(change, change);
    this.#changes = run.catch(() => {});
    return run;
  }

  async #apply(stored: Stored<ClusterDoc>): Promise<'unchanged' | 'connected' | 'reconnected' | 'removed' | 'none'> {
    const { doc } = stored;
    if (!doc.api) return (await this.#connections.remove(doc.id)) ? 'removed' : 'none';
    // The version changes on every write; a rewrite with the same settings reconnects, harmlessly.
    const fingerprint = formatVersion(stored.version);
    let target: Parameters<ClusterConnections['set']>[2];
    try {
      target = { kc: kubeConfigFor(doc.id, doc.api, this.open(doc)) };
    } catch (err) {
      const reason = err instanceof CredentialKeyError ? err.message : 'invalid connection settings';
      this.#log.warn({ cluster: doc.id, reason }, 'registered cluster has no usable connection');
      target = { broken: reason };
    }
    return this.#connections.set(doc.id, fingerprint, target);
  }

  /**
   * Re-reads every registration and brings the connections in step: new and changed ones
   * (re)connected, deleted ones stopped. Returns what happened per cluster id.
   */
  sync(): Promise<Map<string, string>> {
    return this.#exclusive(async () => {
      const outcome = new Map<string, string>();
      const seen = new Set<string>();
      for await (const stored of this.#repo.scan([])) {
        seen.add(stored.id);
        outcome.set(stored.id, await this.#apply(stored));
      }
      for (const id of this.#connections.registeredIds()) {
        if (!seen.has(id)) {
          await this.#connections.remove(id);
          outcome.set(id, 'removed');
        }
      }
      this.#synced = true;
      return outcome;
    });
  }

  /**
   * Syncs now and then every `intervalMs` (every second until the first sync succeeds: the
   * store may not be prepared yet). Failures are logged at debug and retried.
   */
  start(intervalMs: number): void {
    const tick = async () => {
      if (this.#closed) return;
      try {
        await this.sync();
      } catch (err) {
        this.#log.debug({ err: (err as Error).message }, 'cluster registrations not synced; retrying');
      }
      if (this.#closed) return;
      this.#timer = setTimeout(() => void tick(), this.#synced ? intervalMs : Math.min(1000, intervalMs));
      this.#timer.unref();
    };
    this.#timer = setTimeout(() => void tick(), 0);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#connections.close();
  }
}
