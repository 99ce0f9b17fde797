/**
 * What to collect from one file (pure): the cluster's collection config
 * (shared/schemas/collection-config.ts) + the file's identity + pod/namespace metadata when
 * known → a per-file decision. Computed when the config or the pod's metadata changes, not
 * per line; per line only the min level and the rate limit are checked.
 *
 * Precedence: cluster `enabled: false` excludes everything. A namespace override's `enabled`
 * decides for its namespace (true re-includes a namespace the include/exclude lists would
 * drop). Otherwise: exclude lists win over include lists; an empty include list means all.
 * Annotations opt out: `k8s-logs.io/exclude: "true"` on the pod or its namespace, and
 * `k8s-logs.io/exclude-containers: "a,b"` on the pod. Files whose pod is not known (yet, or
 * not running in Kubernetes) are decided on config and path alone; metadata never delays a
 * line.
 *
 * Lines with level `unknown` are never dropped by `min_level` (nothing says they are below).
 */
import type { CollectionConfig } from '../../shared/schemas/collection-config.ts';
import type { DiscardReason } from '../../shared/reasons.ts';
import type { Level } from '../../shared/record.ts';
import { compileGlobs, type NameMatcher } from './glob-match.ts';

export const EXCLUDE_ANNOTATION = 'k8s-logs.io/exclude';
export const EXCLUDE_CONTAINERS_ANNOTATION = 'k8s-logs.io/exclude-containers';

export const LEVEL_RANK: Readonly<Record<Level, number>> = {
  trace: 0,
  debug: 1,
  info: 2,
  warn: 3,
  error: 4,
  fatal: 5,
  unknown: -1,
};

export interface FileDecision {
  /** null = collect; otherwise every line of the file is discarded with this reason. */
  readonly exclude: DiscardReason | null;
  /** Rank of the minimum level (LEVEL_RANK); lines ranked below are discarded. */
  readonly minLevelRank: number;
  readonly multiline: boolean;
  /** Lines per second per pod; 0 = unlimited. */
  readonly rateLimit: number;
}

export interface FileIdentityNames {
  namespace: string;
  pod: string;
  container: string;
}

export interface PodAnnotations {
  /** Pod annotations (undefined = pod unknown). */
  pod: Readonly<Record<string, string>> | undefined;
  /** Namespace annotations (undefined = unknown). */
  namespace: Readonly<Record<string, string>> | undefined;
}

/** A collection config with its globs compiled once. */
export interface CompiledCollectionConfig {
  readonly source: CollectionConfig;
  readonly includeNs: NameMatcher | null;
  readonly excludeNs: NameMatcher | null;
  readonly includePods: NameMatcher | null;
  readonly excludePods: NameMatcher | null;
  readonly includeContainers: NameMatcher | null;
  readonly excludeContainers: NameMatcher | null;
}

export function compileCollectionConfig(c: CollectionConfig): CompiledCollectionConfig {
  return {
    source: c,
    includeNs: compileGlobs(c.include_namespaces),
    excludeNs: compileGlobs(c.exclude_namespaces),
    includePods: compileGlobs(c.include_pods),
    excludePods: compileGlobs(c.exclude_pods),
    includeContainers: compileGlobs(c.include_containers),
    excludeContainers: compileGlobs(c.exclude_containers),
  };
}

function excludedByList(include: NameMatcher | null, exclude: NameMatcher | null, name: string): boolean {
  if (exclude !== null && exclude(name)) return true;
  return include !== null && !include(name);
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && /^(true|yes|1)$/i.test(v.trim());
}

export function decideFile(cc: CompiledCollectionConfig, f: FileIdentityNames, ann: PodAnnotations): FileDecision {
  const c = cc.source;
  const o = c.namespace_overrides[f.namespace];
  const minLevelRank = LEVEL_RANK[o?.min_level ?? c.min_level];
  const multiline = o?.multiline ?? c.multiline;
  const rateLimit = o?.rate_limit_lines_per_second ?? c.rate_limit_lines_per_second;
  const base = { minLevelRank, multiline, rateLimit };
  let exclude: DiscardReason | null = null;
  if (!c.enabled) exclude = 'excluded_by_config';
  else if (o?.enabled === false) exclude = 'excluded_by_config';
  else if (o?.enabled !== true && excludedByList(cc.includeNs, cc.excludeNs, f.namespace))
    exclude = 'excluded_by_config';
  else if (excludedByList(cc.includePods, cc.excludePods, f.pod)) exclude = 'excluded_by_config';
  else if (excludedByList(cc.includeContainers, cc.excludeContainers, f.container)) exclude = 'excluded_by_config';
  else if (isTrue(ann.namespace?.[EXCLUDE_ANNOTATION]) || isTrue(ann.pod?.[EXCLUDE_ANNOTATION]))
    exclude = 'excluded_by_annotation';
  else {
    const list = ann.pod?.[EXCLUDE_CONTAINERS_ANNOTATION];
    if (list !== undefined && list.split(',').some((s) => s.trim() === f.container)) exclude = 'excluded_by_annotation';
  }
  return { exclude, ...base };
}
