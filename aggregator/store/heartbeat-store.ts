/** Agent heartbeats, one document per (cluster, node), for cluster status. */
import { Type, type Static } from 'typebox';
import { HeartbeatSchema, type Heartbeat } from '../../shared/schemas/ingest.ts';
import type { OpenSearch } from './opensearch.ts';
import { systemIndexName } from './system-indices.ts';
import { SystemRepository } from './system-repository.ts';

/** A heartbeat as stored: what the agent sent plus when this aggregator received it. */
export const StoredHeartbeatSchema = Type.Object({ ...HeartbeatSchema.properties, received_at: Type.String() });
export type StoredHeartbeat = Static<typeof StoredHeartbeatSchema>;

export class HeartbeatStore {
  readonly #repo: SystemRepository<typeof StoredHeartbeatSchema>;

  constructor(client: OpenSearch, indexPrefix: string) {
    // One writer per document (its node's agent): unconditional writes, no refresh wait.
    this.#repo = new SystemRepository(client, systemIndexName(indexPrefix, 'heartbeats'), StoredHeartbeatSchema, {
      resource: 'heartbeat',
      sortField: 'cluster',
      tiebreakField: 'node',
      refresh: false,
    });
  }

  async record(hb: Heartbeat, receivedAt = new Date()): Promise<void> {
    await this.#repo.replace(`${hb.cluster}/${hb.node}`, { ...hb, received_at: receivedAt.toISOString() });
  }

  /** Every heartbeat (of one cluster), by cluster and node. */
  async list(cluster?: string): Promise<StoredHeartbeat[]> {
    const out: StoredHeartbeat[] = [];
    for await (const s of this.#repo.scan(cluster ? [{ term: { cluster } }] : [])) out.push(s.doc);
    return out;
  }
}
