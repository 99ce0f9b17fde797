/**
 * Collection configurations, one document per cluster in the `configs` system index.
 * A cluster nobody configured collects with DEFAULT_COLLECTION_CONFIG. The ETag is a
 * digest of the content, so every replica computes the same one.
 */
import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import {
  CollectionConfigSchema,
  DEFAULT_COLLECTION_CONFIG,
  type CollectionConfig,
} from '../../shared/schemas/collection-config.ts';
import type { OpenSearch } from './opensearch.ts';
import { systemIndexName } from './system-indices.ts';
import { SystemRepository } from './system-repository.ts';

export function configEtag(config: CollectionConfig): string {
  return `"${createHash('sha256').update(JSON.stringify(config)).digest('base64url').slice(0, 22)}"`;
}

const ClusterConfigDocSchema = Type.Object({
  cluster: Type.String(),
  config: CollectionConfigSchema,
  etag: Type.String(),
  updated_at: Type.String(),
});

export class CollectionConfigStore {
  readonly #repo: SystemRepository<typeof ClusterConfigDocSchema>;

  constructor(client: OpenSearch, indexPrefix: string) {
    this.#repo = new SystemRepository(client, systemIndexName(indexPrefix, 'configs'), ClusterConfigDocSchema, {
      resource: 'collection config',
      sortField: 'cluster',
      tiebreakField: 'cluster',
    });
  }

  async get(cluster: string): Promise<{ config: CollectionConfig; etag: string; stored: boolean }> {
    const got = await this.#repo.get(cluster);
    if (got) return { config: got.doc.config, etag: configEtag(got.doc.config), stored: true };
    return { config: DEFAULT_COLLECTION_CONFIG, etag: configEtag(DEFAULT_COLLECTION_CONFIG), stored: false };
  }

  async put(cluster: string, config: CollectionConfig): Promise<string> {
    const etag = configEtag(config);
    await this.#repo.replace(cluster, { cluster, config, etag, updated_at: new Date().toISOString() });
    return etag;
  }
}
