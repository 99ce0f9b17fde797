/**
 * Use cases of the collection configuration API (`/v1/k8s/logs/config*`): list, create,
 * replace, delete, bulk update, disable a namespace, disable a cluster. Every failure is an
 * AppError with its code (400 / 403 / 404 / 409 / 412); the routes only translate HTTP.
 *
 * Access: a caller sees and changes only configurations within its token's scope
 * (http/scope.ts); a cluster-wide configuration is out of the scope of a namespace-limited
 * token. The scope is checked from the id before the store is read, so an id outside the
 * scope is a 403 whether or not it exists.
 *
 * Disabling is a write of `enabled: false` on the scope's configuration (created when there
 * is none): repeating it changes nothing, and enabling it again (PUT or bulk update) restores
 * collection. Each write is one conditional document write, so a bulk item is applied whole
 * or not at all.
 */
import { AppError, invalidRequest, notFound } from '../errors.ts';
import { filterDigest } from '../http/cursor.ts';
import type { DocVersion } from '../http/etag.ts';
import type { Page } from '../http/paging.ts';
import { checkWithinScope, scopeCovers, type AccessScope } from '../http/scope.ts';
import { LabelSelectorError, parseLabelSelector } from '../query/label-selector.ts';
import type { CollectionConfigStore } from '../store/collection-config-store.ts';
import type { Stored } from '../store/system-repository.ts';
import {
  CLUSTER_ONLY_SETTINGS,
  configId,
  type CollectionConfigDoc,
  type CollectionSettings,
} from './collection-config-model.ts';

export type StoredConfig = Stored<CollectionConfigDoc>;

export interface ConfigFilters {
  cluster?: string | undefined;
  namespace?: string | undefined;
  enabled?: boolean | undefined;
}

export interface BulkItem {
  id: string;
  enabled?: boolean | undefined;
  /** Settings to set (others kept). */
  set?: CollectionSettings | undefined;
  /** Settings to remove (inherited again). */
  unset?: Array<keyof CollectionSettings> | undefined;
  /** Apply only at this version. */
  version?: DocVersion | undefined;
}

export type BulkResult =
  | { id: string; ok: true; status: 200; config: StoredConfig }
  | { id: string; ok: false; status: number; error: { code: string; message: string } };

/** Id → scope, without the store: `<cluster>` or `<cluster>:<namespace>`. */
export function scopeOfId(id: string): { cluster: string; namespace: string | null } {
  const i = id.indexOf(':');
  return i < 0 ? { cluster: id, namespace: null } : { cluster: id.slice(0, i), namespace: id.slice(i + 1) };
}

const now = () => new Date().toISOString();

export class CollectionConfigs {
  readonly #store: CollectionConfigStore;

  constructor(store: CollectionConfigStore) {
    this.#store = store;
  }

  async list(
    scope: AccessScope,
    f: ConfigFilters,
    paging: { limit: number; cursor?: string | undefined },
  ): Promise<Page<StoredConfig>> {
    checkWithinScope(scope, f.cluster ? [f.cluster] : undefined, f.namespace ? [f.namespace] : undefined);
    const filter: object[] = [];
    if (f.cluster) filter.push({ term: { cluster: f.cluster } });
    if (f.namespace) filter.push({ term: { namespace: f.namespace } });
    if (f.enabled !== undefined) filter.push({ term: { enabled: f.enabled } });
    // The token's limits, whatever the filters say (a null namespace is outside any namespace list).
    if (scope.clusters) filter.push({ terms: { cluster: [...scope.clusters] } });
    if (scope.namespaces) filter.push({ terms: { namespace: [...scope.namespaces] } });
    return this.#store.repo.list({
      filter,
      limit: paging.limit,
      cursor: paging.cursor,
      digest: filterDigest({ list: 'configs', ...f, scope }),
    });
  }

  async get(scope: AccessScope, id: string, verb = 'read'): Promise<StoredConfig> {
    this.#checkId(scope, id, verb);
    const got = await this.#store.repo.get(id);
    if (!got) throw notFound(`no collection configuration with id "${id}"`);
    return got;
  }

  async create(
    scope: AccessScope,
    input: { cluster: string; namespace: string | null; enabled: boolean; settings: CollectionSettings },
  ): Promise<StoredConfig> {
    this.#checkScope(scope, input.cluster, input.namespace, 'configure');
    validateSettings(input.namespace, input.settings);
    const id = configId(input.cluster, input.namespace);
    const at = now();
    const doc: CollectionConfigDoc = {
      id,
      cluster: input.cluster,
      namespace: input.namespace,
      enabled: input.enabled,
      settings: input.settings,
      created_at: at,
      updated_at: at,
    };
    try {
      return await this.#store.repo.create(id, doc);
    } catch (err) {
      if (err instanceof AppError && err.errorName === 'AGG_ERR_CONFLICT') {
        const where =
          input.namespace === null
            ? `cluster "${input.cluster}"`
            : `namespace "${input.namespace}" of cluster "${input.cluster}"`;
        throw new AppError(
          'AGG_ERR_CONFLICT',
          `a collection configuration of ${where} exists (id "${id}"); update it with PUT ?id=${id}`,
        );
      }
      throw err;
    }
  }

  /** PUT: `enabled` and the settings replace the stored ones (left-out settings are inherited). */
  async replace(
    scope: AccessScope,
    id: string,
    input: { enabled: boolean; settings: CollectionSettings },
    ifVersion: DocVersion | '*' | undefined,
  ): Promise<StoredConfig> {
    const { namespace } = this.#checkId(scope, id, 'configure');
    validateSettings(namespace, input.settings);
    const out = await this.#store.repo.update(
      id,
      ({ doc }) => ({ ...doc, enabled: input.enabled, settings: input.settings, updated_at: now() }),
      ifVersion && ifVersion !== '*' ? { ifVersion } : {},
    );
    if (!out) throw notFound(`no collection configuration with id "${id}"`);
    return out;
  }

  /** Deleting a namespace configuration falls back to the cluster-wide one; deleting that, to the defaults. */
  async delete(scope: AccessScope, id: string, ifVersion: DocVersion | '*' | undefined): Promise<void> {
    this.#checkId(scope, id, 'configure');
    const deleted = await this.#store.repo.delete(id, ifVersion && ifVersion !== '*' ? { ifVersion } : {});
    if (!deleted) throw notFound(`no collection configuration with id "${id}"`);
  }

  /** Each item on its own: one conditional write, with its result or its error. Never throws for an item. */
  async bulkUpdate(scope: AccessScope, items: readonly BulkItem[]): Promise<BulkResult[]> {
    const results: BulkResult[] = [];
    // In order, one at a time: a request that names one id twice gets both applied in turn.
    for (const item of items) {
      try {
        const { namespace } = this.#checkId(scope, item.id, 'configure');
        if (item.set) validateSettings(namespace, item.set);
        const out = await this.#store.repo.update(
          item.id,
          ({ doc }) => {
            const settings: Record<string, unknown> = { ...doc.settings, ...item.set };
            for (const k of item.unset ?? []) delete settings[k];
            return {
              ...doc,
              enabled: item.enabled ?? doc.enabled,
              settings: settings as CollectionSettings,
              updated_at: now(),
            };
          },
          item.version ? { ifVersion: item.version } : {},
        );
        if (!out) throw notFound(`no collection configuration with id "${item.id}"`);
        results.push({ id: item.id, ok: true, status: 200, config: out });
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        results.push({ id: item.id, ok: false, status: err.status, error: { code: err.code, message: err.message } });
      }
    }
    return results;
  }

  /** Disables collection of one scope (namespace, or with `namespace` null the whole cluster). Idempotent. */
  async disable(
    scope: AccessScope,
    cluster: string,
    namespace: string | null,
  ): Promise<{ config: StoredConfig; changed: boolean }> {
    this.#checkScope(scope, cluster, namespace, 'configure');
    const id = configId(cluster, namespace);
    for (let attempt = 0; attempt < 5; attempt++) {
      let changed = false;
      const out = await this.#store.repo.update(id, ({ doc }) => {
        if (!doc.enabled) return undefined;
        changed = true;
        return { ...doc, enabled: false, updated_at: now() };
      });
      if (out) return { config: out, changed };
      try {
        return {
          config: await this.create(scope, { cluster, namespace, enabled: false, settings: {} }),
          changed: true,
        };
      } catch (err) {
        // Created by someone else in between: disable that one.
        if (!(err instanceof AppError && err.errorName === 'AGG_ERR_CONFLICT')) throw err;
      }
    }
    throw new AppError('AGG_ERR_STORE_BUSY', 'collection config: too many concurrent changes, retry', {
      retryAfterSeconds: 1,
    });
  }

  #checkId(scope: AccessScope, id: string, verb: string): { cluster: string; namespace: string | null } {
    const s = scopeOfId(id);
    this.#checkScope(scope, s.cluster, s.namespace, verb);
    return s;
  }

  #checkScope(scope: AccessScope, cluster: string, namespace: string | null, verb: string): void {
    if (scopeCovers(scope, cluster, namespace)) return;
    const what =
      namespace === null
        ? `the cluster-wide configuration of "${cluster}"`
        : `namespace "${namespace}" of cluster "${cluster}"`;
    throw new AppError('AGG_ERR_FORBIDDEN', `token may not ${verb} ${what}`);
  }
}

/** 400 for what the schema cannot say: cluster-only settings on a namespace, an unparsable selector. */
export function validateSettings(namespace: string | null, s: CollectionSettings): void {
  if (namespace !== null) {
    const bad = CLUSTER_ONLY_SETTINGS.filter((k) => s[k] !== undefined);
    if (bad.length)
      throw invalidRequest(`${bad.join(', ')}: only a cluster-wide configuration (namespace null) selects namespaces`);
  }
  if (s.label_selector !== undefined) {
    try {
      parseLabelSelector(s.label_selector);
    } catch (err) {
      if (err instanceof LabelSelectorError) throw invalidRequest(`label_selector: ${err.message}`);
      throw err;
    }
  }
}
