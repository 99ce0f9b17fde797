/**
 * Collection configurations in the `configs` system index (one document per scope, see
 * collection/collection-config-model.ts), and the effective config an agent of a cluster
 * receives. A cluster nobody configured collects with DEFAULT_COLLECTION_CONFIG. The ETag
 * of the effective config is a digest of its content, so every replica computes the same one.
 */
import { createHash } from 'node:crypto';
import type { CollectionConfig } from '../../shared/schemas/collection-config.ts';
import {
  CollectionConfigDocSchema,
  effectiveConfig,
  type CollectionConfigDoc,
} from '../collection/collection-config-model.ts';
import type { OpenSearch } from './opensearch.ts';
import { systemIndexName } from './system-indices.ts';
import { SystemRepository, type RepositoryOptions } from './system-repository.ts';

export function configEtag(config: CollectionConfig): string {
  return `"${createHash('sha256').update(JSON.stringify(config)).digest('base64url').slice(0, 22)}"`;
}

export type CollectionConfigRepository = SystemRepository<typeof CollectionConfigDocSchema>;

export class CollectionConfigStore {
  /** The documents; the use cases (collection/collection-configs.ts) write through it. */
  readonly repo: CollectionConfigRepository;

  constructor(client: OpenSearch, indexPrefix: string, opts: Pick<RepositoryOptions, 'onInvalid'> = {}) {
    this.repo = new SystemRepository(client, systemIndexName(indexPrefix, 'configs'), CollectionConfigDocSchema, {
      resource: 'collection config',
      // `<cluster>` sorts before its `<cluster>:<namespace>` configurations.
      sortField: 'id',
      tiebreakField: 'id',
      ...opts,
    });
  }

  /** Every configuration of `cluster` (a cluster has one per configured namespace at most). */
  async ofCluster(cluster: string): Promise<CollectionConfigDoc[]> {
    const out: CollectionConfigDoc[] = [];
    for await (const s of this.repo.scan([{ term: { cluster } }])) out.push(s.doc);
    return out;
  }

  /** The merged config the agents of `cluster` obey, and its ETag. */
  async get(cluster: string): Promise<{ config: CollectionConfig; etag: string; stored: boolean }> {
    const docs = await this.ofCluster(cluster);
    const config = effectiveConfig(cluster, docs);
    return { config, etag: configEtag(config), stored: docs.length > 0 };
  }
}
