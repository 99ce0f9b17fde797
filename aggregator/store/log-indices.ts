/**
 * Names and mappings of the daily log indices (DESIGN.md §2). Pure.
 *
 * `<prefix>-<cluster>-YYYY.MM.DD`, chosen by the record's own timestamp, created from one
 * index template; every day index of a cluster is also in the alias `<prefix>-<cluster>`,
 * and every log index matches `<prefix>-*` minus the system indices (which start with a dot).
 *
 * MAPPING_VERSION is stored in the template's `_meta`; bump it with any mapping change so
 * startup can tell an old template apart and migrate (new days pick up the new template).
 */
import { indexDay } from '../../shared/time.ts';

export const MAPPING_VERSION = 1;

/** Cluster ids become part of index names, so they are restricted to what OpenSearch allows. */
export const CLUSTER_ID_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const CLUSTER_ID = new RegExp(CLUSTER_ID_PATTERN);
export function isValidClusterId(id: string): boolean {
  return CLUSTER_ID.test(id);
}

export function dayIndexName(prefix: string, cluster: string, canonicalTimestamp: string): string {
  return `${prefix}-${cluster}-${indexDay(canonicalTimestamp)}`;
}

export function clusterAlias(prefix: string, cluster: string): string {
  return `${prefix}-${cluster}`;
}

/** Index pattern covering the log indices of the given clusters (all when none given). */
export function logIndexPattern(prefix: string, clusters?: readonly string[]): string {
  if (!clusters || clusters.length === 0) return `${prefix}-*`;
  return clusters.map((c) => `${prefix}-${c}-*`).join(',');
}

/** Parses `<prefix>-<cluster>-YYYY.MM.DD`; undefined for anything else. */
export function parseDayIndexName(
  prefix: string,
  name: string,
): { cluster: string; day: string } | undefined {
  if (!name.startsWith(`${prefix}-`)) return undefined;
  const m = /^(.+)-(\d{4}\.\d{2}\.\d{2})$/.exec(name.slice(prefix.length + 1));
  if (!m || !m[1] || !m[2] || !isValidClusterId(m[1])) return undefined;
  return { cluster: m[1], day: m[2] };
}

export function logIndexTemplate(prefix: string, shards: number, replicas: number) {
  return {
    index_patterns: [`${prefix}-*`],
    priority: 100,
    _meta: { mapping_version: MAPPING_VERSION, owner: 'k8s-logs' },
    template: {
      settings: {
        number_of_shards: shards,
        number_of_replicas: replicas,
        refresh_interval: '1s',
        // Newest-first is the common read; sorting the segments the same way makes
        // "latest N lines" queries terminate early.
        'index.sort.field': ['timestamp', 'id'],
        'index.sort.order': ['desc', 'desc'],
        codec: 'best_compression',
      },
      mappings: {
        dynamic: 'strict' as const,
        _meta: { mapping_version: MAPPING_VERSION },
        properties: {
          id: { type: 'keyword' },
          timestamp: { type: 'date_nanos' },
          cluster: { type: 'keyword' },
          namespace: { type: 'keyword' },
          pod: { type: 'keyword' },
          container: { type: 'keyword' },
          node: { type: 'keyword' },
          pod_uid: { type: 'keyword' },
          container_id: { type: 'keyword' },
          stream: { type: 'keyword' },
          level: { type: 'keyword' },
          // wildcard: exact substring / regexp as LogQL needs; text sub-field: full text.
          message: { type: 'wildcard', fields: { text: { type: 'text' } } },
          labels: { type: 'flat_object' },
          fields: { type: 'flat_object' },
          ingested_at: { type: 'date' },
        },
      },
    },
  };
}
