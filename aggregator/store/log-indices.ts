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

/** 1: the first layout. 2: index settings from config, fingerprinted in `_meta.settings` (issue 10). */
export const MAPPING_VERSION = 2;

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

/**
 * What the operator may tune about the daily log indices (config `opensearch.*`, chart
 * `aggregator.opensearch.*`). Every field is part of the template; a change is applied to
 * the template at the next start (see {@link templateFingerprint}) and reaches new day
 * indices only: existing days keep the settings they were created with.
 */
export interface LogIndexSettings {
  /** Primary shards per day index. */
  readonly shards: number;
  /** Replicas per day index. */
  readonly replicas: number;
  /**
   * How often new lines become searchable, ms (`index.refresh_interval`). Live tail does
   * not wait for it (it is fed from what the aggregator ingests); `GET /` and search do.
   */
  readonly refreshIntervalMs: number;
  /**
   * `request`: every `_bulk` is fsynced to the translog before OpenSearch answers, so an
   * acknowledged line survives an OpenSearch crash (the agent's ack contract, DESIGN.md
   * §3). `async`: fsync every `translogSyncIntervalMs`; a crash loses up to that much of
   * acknowledged data, which the agent never resends.
   */
  readonly translogDurability: 'request' | 'async';
  /** Translog fsync period under `async` durability, ms. */
  readonly translogSyncIntervalMs: number;
  /** Stored-fields codec: `best_compression` (zstd-class size) or `default` (LZ4, cheaper CPU). */
  readonly codec: 'default' | 'best_compression';
  /**
   * Sort segments by (timestamp, id) descending: "newest N lines" can stop early, at the
   * price of sorting every flushed segment.
   */
  readonly sortByTime: boolean;
  /**
   * The full-text sub-field `message.text` (`q=` queries and highlighting): `text` (with
   * positions), `match_only_text` (no positions or frequencies: phrases are verified from
   * `_source`, scores are constant — the API sorts by time, never by score).
   */
  readonly messageText: 'text' | 'match_only_text';
}

/** The layout of MAPPING_VERSION 1 (before issue 10): the baseline the benchmarks compare with. */
export const LEGACY_INDEX_SETTINGS: LogIndexSettings = Object.freeze({
  shards: 1,
  replicas: 0,
  refreshIntervalMs: 1000,
  translogDurability: 'request',
  translogSyncIntervalMs: 5000,
  codec: 'best_compression',
  sortByTime: true,
  messageText: 'text',
});

/**
 * Stable text of the settings, stored in the template's `_meta` beside the mapping
 * version: a replica rewrites a template of its own version whose settings differ (an
 * operator changed a value) and never one of a newer version (rolling upgrade).
 */
export function templateFingerprint(s: LogIndexSettings): string {
  return [s.shards, s.replicas, s.refreshIntervalMs, s.translogDurability, s.translogSyncIntervalMs, s.codec, s.sortByTime ? 'sort' : 'nosort', s.messageText].join('/');
}

export function logIndexTemplate(prefix: string, s: LogIndexSettings) {
  return {
    index_patterns: [`${prefix}-*`],
    priority: 100,
    _meta: { mapping_version: MAPPING_VERSION, settings: templateFingerprint(s), owner: 'k8s-logs' },
    template: {
      settings: {
        number_of_shards: s.shards,
        number_of_replicas: s.replicas,
        refresh_interval: `${s.refreshIntervalMs}ms`,
        'translog.durability': s.translogDurability,
        ...(s.translogDurability === 'async' ? { 'translog.sync_interval': `${s.translogSyncIntervalMs}ms` } : {}),
        // Newest-first is the common read; sorting the segments the same way makes
        // "latest N lines" queries terminate early.
        ...(s.sortByTime ? { 'index.sort.field': ['timestamp', 'id'], 'index.sort.order': ['desc', 'desc'] } : {}),
        codec: s.codec,
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
          message: { type: 'wildcard', fields: { text: { type: s.messageText } } },
          labels: { type: 'flat_object' },
          fields: { type: 'flat_object' },
          ingested_at: { type: 'date' },
        },
      },
    },
  };
}
