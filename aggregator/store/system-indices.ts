/**
 * The aggregator's own state lives in OpenSearch system indices (DESIGN.md §1), so
 * replicas are interchangeable. Pure definitions; creation is in bootstrap.ts.
 *
 * Mappings only ever grow (new properties): bootstrap adds them to an existing index, so a
 * newer aggregator works on the indices of an older one.
 */
import { JOB_MAPPING_PROPERTIES } from '../jobs/job-schema.ts';
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
  heartbeat_samples: {
    // The cumulative counts of each agent run, one document per run and 5-minute bucket
    // (the latest heartbeat in it): what windowed discard/rejection figures are computed
    // from (routes/monitoring/agent-window.ts). Pruned with the job history.
    name: 'heartbeat-samples',
    mappings: {
      dynamic: 'strict',
      properties: {
        cluster: { type: 'keyword' },
        node: { type: 'keyword' },
        started_at: { type: 'date' },
        received_at: { type: 'date' },
        discarded: { type: 'object', enabled: false },
        rejected: { type: 'object', enabled: false },
      },
    },
  },
  configs: {
    // Collection configurations (collection/collection-config-model.ts). `config` and `etag`
    // are the fields of the one-document-per-cluster form of earlier versions.
    name: 'configs',
    mappings: {
      dynamic: 'strict',
      properties: {
        id: { type: 'keyword' },
        cluster: { type: 'keyword' },
        namespace: { type: 'keyword' },
        enabled: { type: 'boolean' },
        settings: { type: 'object', enabled: false },
        created_at: { type: 'date' },
        updated_at: { type: 'date' },
        config: { type: 'object', enabled: false },
        etag: { type: 'keyword' },
      },
    },
  },
  clusters: {
    // Registered clusters (cluster/cluster-registration.ts). Credentials are one encrypted
    // blob, never indexed; labels are not searchable.
    name: 'clusters',
    mappings: {
      dynamic: 'strict',
      properties: {
        id: { type: 'keyword' },
        name: { type: 'keyword' },
        labels: { type: 'object', enabled: false },
        api: { type: 'object', enabled: false },
        credentials: { type: 'object', enabled: false },
        created_at: { type: 'date' },
        updated_at: { type: 'date' },
      },
    },
  },
  jobs: {
    // One document per job run by the job runner (jobs/job-schema.ts). The fields after
    // `cancel_requested` are those of the lease documents of earlier versions, kept so an
    // existing index still accepts its mapping (mappings only ever grow).
    name: 'jobs',
    mappings: {
      dynamic: 'strict',
      properties: {
        ...JOB_MAPPING_PROPERTIES,
        job: { type: 'keyword' },
        acquired_at: { type: 'date' },
        last_started_at: { type: 'date' },
        last_finished_at: { type: 'date' },
        last_result: { type: 'object', enabled: false },
      },
    },
  },
  archive_policies: {
    // One document per archive policy (archive/archive-policy.ts); only what lists filter
    // and sort on is indexed.
    name: 'archive-policies',
    mappings: {
      dynamic: 'strict',
      properties: {
        id: { type: 'keyword' },
        name: { type: 'keyword' },
        enabled: { type: 'boolean' },
        selection: { type: 'object', enabled: false },
        schedule: { type: 'object', enabled: false },
        destination: { type: 'object', enabled: false },
        format: { type: 'object', enabled: false },
        after: { type: 'object', enabled: false },
        created_at: { type: 'date' },
        updated_at: { type: 'date' },
      },
    },
  },
} as const satisfies Record<string, SystemIndex>;

export type SystemIndexKey = keyof typeof SYSTEM_INDICES;

export function systemIndexName(prefix: string, key: SystemIndexKey): string {
  return `.${prefix}-${SYSTEM_INDICES[key].name}`;
}
