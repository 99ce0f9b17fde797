/**
 * What collect jobs need from the aggregator, as one small interface (the job handlers
 * hold no Fastify or store types): a cluster's API client, the bulk writer, the cluster's
 * collection configuration, this replica's stream budget and the timing knobs.
 */
import type { CollectionConfig } from '../../shared/schemas/collection-config.ts';
import type { JobLogger } from '../jobs/job-runner.ts';
import type { CollectKube } from './kube-collect-client.ts';
import type { RecordWriter } from './record-sink.ts';
import type { StreamSlots } from './stream-slots.ts';

export interface CollectTiming {
  /** Persist per-container positions at most this often, ms. */
  checkpointIntervalMs: number;
  /** First wait before reconnecting a follow stream, ms (doubles on consecutive failures). */
  reconnectMinMs: number;
  /** Longest wait between reconnects, ms. */
  reconnectMaxMs: number;
  /** Attempts per container of a one-time or bulk read before it fails. */
  readAttempts: number;
  /** Continuous jobs re-read the collection config this often, ms. */
  configRefreshMs: number;
}

export interface CollectDeps {
  /** The cluster's API client; throws an AppError when the cluster cannot be reached through its API. */
  kube(cluster: string): Promise<CollectKube>;
  writer: RecordWriter;
  collectionConfig(cluster: string): Promise<CollectionConfig>;
  slots: StreamSlots;
  timing: CollectTiming;
  log: JobLogger;
}
