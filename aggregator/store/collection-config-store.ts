/**
 * Collection configurations, one document per cluster in the `configs` system index.
 * A cluster nobody configured collects with DEFAULT_COLLECTION_CONFIG. The ETag is a
 * digest of the content, so every replica computes the same one.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_COLLECTION_CONFIG, type CollectionConfig } from '../../shared/schemas/collection-config.ts';
import type { OpenSearch } from './opensearch.ts';
import { storeStatus } from './opensearch.ts';
import { systemIndexName } from './system-indices.ts';

export function configEtag(config: CollectionConfig): string {
  return `"${createHash('sha256').update(JSON.stringify(config)).digest('base64url').slice(0, 22)}"`;
}

export class CollectionConfigStore {
  readonly #client: OpenSearch;
  readonly #index: string;

  constructor(client: OpenSearch, indexPrefix: string) {
    this.#client = client;
    this.#index = systemIndexName(indexPrefix, 'configs');
  }

  async get(cluster: string): Promise<{ config: CollectionConfig; etag: string; stored: boolean }> {
    try {
      const res = await this.#client.get({ index: this.#index, id: cluster });
      const config = (res.body._source as { config: CollectionConfig }).config;
      return { config, etag: configEtag(config), stored: true };
    } catch (err) {
      if (storeStatus(err) !== 404) throw err;
      return { config: DEFAULT_COLLECTION_CONFIG, etag: configEtag(DEFAULT_COLLECTION_CONFIG), stored: false };
    }
  }

  async put(cluster: string, config: CollectionConfig): Promise<string> {
    const etag = configEtag(config);
    await this.#client.index({
      index: this.#index,
      id: cluster,
      refresh: 'wait_for',
      body: { cluster, config, etag, updated_at: new Date().toISOString() },
    });
    return etag;
  }
}
