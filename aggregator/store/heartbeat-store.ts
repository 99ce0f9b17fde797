/**
 * Agent heartbeats: the latest per (cluster, node), for cluster status and health; and the
 * samples of their cumulative counts per agent run and 5-minute bucket, for windowed
 * discard/rejection figures (routes/monitoring/agent-window.ts).
 */
import { Type, type Static } from 'typebox';
import { HeartbeatSchema, type Heartbeat } from '../../shared/schemas/ingest.ts';
import type { OpenSearch } from './opensearch.ts';
import { systemIndexName } from './system-indices.ts';
import { SystemRepository } from './system-repository.ts';
import { sampleId } from '../routes/monitoring/agent-window.ts';

const HeartbeatSampleSchema = Type.Object({
  cluster: Type.String(),
  node: Type.String(),
  started_at: Type.String(),
  received_at: Type.String(),
  discarded: Type.Optional(Type.Record(Type.String(), Type.Integer())),
  rejected: Type.Optional(Type.Record(Type.String(), Type.Integer())),
});

/** A heartbeat as stored: what the agent sent plus when this aggregator received it. */
export const StoredHeartbeatSchema = Type.Object({ ...HeartbeatSchema.properties, received_at: Type.String() });
export type StoredHeartbeat = Static<typeof StoredHeartbeatSchema>;

export class HeartbeatStore {
  readonly #repo: SystemRepository<typeof StoredHeartbeatSchema>;
  readonly #samples: SystemRepository<typeof HeartbeatSampleSchema>;

  constructor(client: OpenSearch, indexPrefix: string) {
    // One writer per document (its node's agent): unconditional writes, no refresh wait.
    this.#repo = new SystemRepository(client, systemIndexName(indexPrefix, 'heartbeats'), StoredHeartbeatSchema, {
      resource: 'heartbeat',
      sortField: 'cluster',
      tiebreakField: 'node',
      refresh: false,
    });
    this.#samples = new SystemRepository(client, systemIndexName(indexPrefix, 'heartbeat_samples'), HeartbeatSampleSchema, {
      resource: 'heartbeat sample',
      sortField: 'received_at',
      tiebreakField: 'node',
      refresh: false,
    });
  }

  async record(hb: Heartbeat, receivedAt = new Date()): Promise<void> {
    const received_at = receivedAt.toISOString();
    const latest = this.#repo.replace(`${hb.cluster}/${hb.node}`, { ...hb, received_at });
    // Older agents send no counts (and no start): nothing to sample.
    if (hb.started_at === undefined || (hb.discarded === undefined && hb.rejected === undefined)) {
      await latest;
      return;
    }
    const sample = {
      cluster: hb.cluster,
      node: hb.node,
      started_at: hb.started_at,
      received_at,
      ...(hb.discarded ? { discarded: hb.discarded } : {}),
      ...(hb.rejected ? { rejected: hb.rejected } : {}),
    };
    await Promise.all([latest, this.#samples.replace(sampleId(sample, receivedAt.getTime()), sample)]);
  }

  /** Deletes the samples received before `before` (run with the job history prune). */
  pruneSamples(before: Date): Promise<number> {
    return this.#samples.deleteWhere([{ range: { received_at: { lt: before.toISOString() } } }]);
  }

  /** Every heartbeat (of one cluster), by cluster and node. */
  async list(cluster?: string): Promise<StoredHeartbeat[]> {
    const out: StoredHeartbeat[] = [];
    for await (const s of this.#repo.scan(cluster ? [{ term: { cluster } }] : [])) out.push(s.doc);
    return out;
  }
}
