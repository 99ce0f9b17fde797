/** Agent heartbeats, one document per (cluster, node), for cluster status. */
import type { Heartbeat } from '../../shared/schemas/ingest.ts';
import type { OpenSearch } from './opensearch.ts';
import { systemIndexName } from './system-indices.ts';

export class HeartbeatStore {
  readonly #client: OpenSearch;
  readonly #index: string;

  constructor(client: OpenSearch, indexPrefix: string) {
    this.#client = client;
    this.#index = systemIndexName(indexPrefix, 'heartbeats');
  }

  async record(hb: Heartbeat, receivedAt = new Date()): Promise<void> {
    await this.#client.index({
      index: this.#index,
      id: `${hb.cluster}/${hb.node}`,
      body: { ...hb, received_at: receivedAt.toISOString() },
    });
  }

  async list(cluster?: string): Promise<Array<Heartbeat & { received_at: string }>> {
    const res = await this.#client.search({
      index: this.#index,
      body: { size: 1000, query: cluster ? { term: { cluster } } : { match_all: {} }, sort: [{ node: 'asc' }] },
    });
    return (res.body.hits.hits as Array<{ _source: Heartbeat & { received_at: string } }>).map((h) => h._source);
  }
}
