/**
 * Collection configurations in the `configs` system index (one document per scope, see
 * collection/collection-config-model.ts), and the effective config an agent of a cluster
 * receives. A cluster nobody configured collects with DEFAULT_COLLECTION_CONFIG. The ETag
 * of the effective config is a digest of its content, so every replica computes the same one.
 */
import { createHash } from 'node:crypto';
import { Value } from 'typebox/value';
import type { CollectionConfig } from '../../shared/schemas/collection-config.ts';
import {
  CollectionConfigDocSchema,
  effectiveConfig,
  type CollectionConfigDoc,
} from '../collection/collection-config-model.ts';
import { isV1ConfigDoc, migrateV1ConfigDoc } from '../collection/v1-config-migration.ts';
import { AppError } from '../errors.ts';
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
  readonly #client: OpenSearch;

  constructor(client: OpenSearch, indexPrefix: string, opts: Pick<RepositoryOptions, 'onInvalid'> = {}) {
    this.#client = client;
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

  /**
   * Rewrites the documents of version 1 (one per cluster, see v1-config-migration.ts) as
   * this version's, at start, before anything reads them. Safe to repeat and to race with
   * other replicas: namespace documents are created (an existing one is left as it is), then
   * the cluster's document is replaced only if it is still the old one, so a crash between
   * the two steps migrates again on the next start and a replica that lost the race does
   * nothing. Answers how many clusters were migrated and which old documents could not be.
   */
  async migrateV1(): Promise<{ migrated: number; unreadable: string[] }> {
    let migrated = 0;
    const unreadable: string[] = [];
    let after: unknown[] | undefined;
    for (;;) {
      const res = await this.#client.search({
        index: this.repo.index,
        body: {
          size: 100,
          // Only version 1 wrote `etag`.
          query: { exists: { field: 'etag' } },
          sort: [{ id: 'asc' }, { cluster: 'asc' }],
          seq_no_primary_term: true,
          ...(after ? { search_after: after as never } : {}),
        },
      });
      const hits = (
        res.body as {
          hits: {
            hits: Array<{ _id: string; _source: unknown; _seq_no: number; _primary_term: number; sort: unknown[] }>;
          };
        }
      ).hits.hits;
      for (const h of hits) {
        if (!isV1ConfigDoc(h._source)) {
          unreadable.push(h._id);
          continue;
        }
        const docs = migrateV1ConfigDoc(h._source);
        // Version 1 was laxer (any override key, for one): what this version cannot hold is
        // left in place and reported, not half-migrated.
        if (!docs.every((d) => Value.Check(CollectionConfigDocSchema, d))) {
          unreadable.push(h._id);
          continue;
        }
        const [wide, ...namespaces] = docs;
        try {
          for (const d of namespaces) {
            await this.repo.create(d.id, d).catch((err: unknown) => {
              if (!(err instanceof AppError && err.errorName === 'AGG_ERR_CONFLICT')) throw err;
            });
          }
          await this.repo.replace(wide!.id, wide!, { ifVersion: { seqNo: h._seq_no, primaryTerm: h._primary_term } });
          migrated++;
        } catch (err) {
          if (err instanceof AppError && err.errorName === 'AGG_ERR_PRECONDITION_FAILED') continue; // another replica did it
          throw err;
        }
      }
      if (hits.length < 100) return { migrated, unreadable };
      after = hits[hits.length - 1]!.sort;
    }
  }
}
