/**
 * The aggregator's own state lives in OpenSearch system indices (DESIGN.md §1), so
 * replicas are interchangeable. Pure definitions; creation is in bootstrap.ts.
 */
export interface SystemIndex {
  /** Suffix after `.<prefix>-`. */
  readonly name: string;
  readonly mappings: Record<string, unknown>;
}

export const SYSTEM_INDICES = {
  tokens: {
    name: 'tokens',
    mappings: {
      dynamic: 'strict',
      properties: {
        id: { type: 'keyword' },
        name: { type: 'keyword' },
        hash: { type: 'keyword' },
        prefix: { type: 'keyword' },
        scopes: { type: 'keyword' },
        clusters: { type: 'keyword' },
        namespaces: { type: 'keyword' },
        created_at: { type: 'date' },
        expires_at: { type: 'date' },
        revoked: { type: 'boolean' },
        bootstrap: { type: 'boolean' },
      },
    },
  },
  heartbeats: {
    name: 'heartbeats',
    mappings: {
      dynamic: 'strict',
      properties: {
        cluster: { type: 'keyword' },
        node: { type: 'keyword' },
        agent_version: { type: 'keyword' },
        files_watched: { type: 'long' },
        bytes_behind: { type: 'long' },
        last_ack_at: { type: 'date' },
        sent_at: { type: 'date' },
        received_at: { type: 'date' },
        started_at: { type: 'date' },
        // Reason → count maps, summed in the aggregator (routes/monitoring/agent-figures.ts).
        discarded: { type: 'object', enabled: false },
        rejected: { type: 'object', enabled: false },
      },
    },
  },
  configs: {
    name: 'configs',
    mappings: {
      dynamic: 'strict',
      properties: {
        cluster: { type: 'keyword' },
        config: { type: 'object', enabled: false },
        etag: { type: 'keyword' },
        updated_at: { type: 'date' },
      },
    },
  },
  jobs: {
    // One document per job (id = job name): the lease that lets one replica at a time run
    // it, and the outcome of its last run. Written with optimistic concurrency only.
    name: 'jobs',
    mappings: {
      dynamic: 'strict',
      properties: {
        job: { type: 'keyword' },
        owner: { type: 'keyword' },
        lease_expires_at: { type: 'date' },
        acquired_at: { type: 'date' },
        last_started_at: { type: 'date' },
        last_finished_at: { type: 'date' },
        last_result: { type: 'object', enabled: false },
      },
    },
  },
} as const satisfies Record<string, SystemIndex>;

export type SystemIndexKey = keyof typeof SYSTEM_INDICES;

export function systemIndexName(prefix: string, key: SystemIndexKey): string {
  return `.${prefix}-${SYSTEM_INDICES[key].name}`;
}
