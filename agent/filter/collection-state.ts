/**
 * The shared, versioned inputs of every file's filter decision: the compiled collection
 * config and the metadata source. Any change bumps `version`; pipelines compare it once per
 * chunk and recompute their decision only when it moved.
 *
 * Concurrency: written by the config poller and the pod watch, read by pipelines;
 * single-threaded JS.
 */
import type { CollectionConfig } from '../../shared/schemas/collection-config.ts';
import { DEFAULT_COLLECTION_CONFIG } from '../../shared/schemas/collection-config-default.ts';
import type { MetadataSource } from '../enrich/pod-metadata.ts';
import { PodRateLimits } from './rate-limiter.ts';
import { compileCollectionConfig, type CompiledCollectionConfig } from './collection-filter.ts';

export class CollectionState {
  version = 1;
  config: CompiledCollectionConfig = compileCollectionConfig(DEFAULT_COLLECTION_CONFIG);
  metadata: MetadataSource | null = null;
  readonly rateLimits = new PodRateLimits();

  setConfig(c: CollectionConfig): void {
    this.config = compileCollectionConfig(c);
    this.version++;
  }

  setMetadata(m: MetadataSource | null): void {
    this.metadata = m;
    this.version++;
  }

  /** Pod or namespace metadata changed. */
  metadataChanged(): void {
    this.version++;
  }
}
