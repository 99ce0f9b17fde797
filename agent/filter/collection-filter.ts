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
 *
 * A namespace override's settings replace the cluster-wide ones for that namespace (pod and
 * container lists, streams, JSON fields, label selector included). A label selector only
 * excludes pods whose labels are known and do not match: a pod not known (yet) is collected,
 * and so is every pod when the selector cannot be parsed (the aggregator validates it; an
 * agent never drops logs over a selector it does not understand).
 */
import type { CollectionConfig, NamespaceOverride } from '../../shared/schemas/collection-config.ts';
import { matchesLabelSelector, parseLabelSelector, type LabelRequirement } from '../../shared/label-selector.ts';
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
  /** Streams collected (lines of the other are discarded as `excluded_by_config`). */
  readonly stdout: boolean;
  readonly stderr: boolean;
  /** Copy the top-level keys of JSON lines into the record's `fields`. */
  readonly parseJsonFields: boolean;
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
  /** Pod labels (undefined = pod unknown), for label selectors. */
  podLabels?: Readonly<Record<string, string>> | undefined;
}

/** The list and selector settings of one level, compiled. */
interface CompiledScope {
  readonly includePods: NameMatcher | null;
  readonly excludePods: NameMatcher | null;
  readonly includeContainers: NameMatcher | null;
  readonly excludeContainers: NameMatcher | null;
  /** null = every pod. */
  readonly selector: readonly LabelRequirement[] | null;
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
  readonly selector: readonly LabelRequirement[] | null;
  /** Per namespace override: its scope with the cluster-wide settings it does not replace. */
  readonly namespaces: ReadonlyMap<string, CompiledScope>;
}

function compileSelector(s: string | undefined): readonly LabelRequirement[] | null {
  if (s === undefined) return null;
  try {
    return parseLabelSelector(s);
  } catch {
    return null;
  }
}

export function compileCollectionConfig(c: CollectionConfig): CompiledCollectionConfig {
  const base: CompiledScope = {
    includePods: compileGlobs(c.include_pods),
    excludePods: compileGlobs(c.exclude_pods),
    includeContainers: compileGlobs(c.include_containers),
    excludeContainers: compileGlobs(c.exclude_containers),
    selector: compileSelector(c.label_selector),
  };
  const namespaces = new Map<string, CompiledScope>();
  for (const [ns, o] of Object.entries(c.namespace_overrides) as Array<[string, NamespaceOverride]>) {
    namespaces.set(ns, {
      includePods: o.include_pods ? compileGlobs(o.include_pods) : base.includePods,
      excludePods: o.exclude_pods ? compileGlobs(o.exclude_pods) : base.excludePods,
      includeContainers: o.include_containers ? compileGlobs(o.include_containers) : base.includeContainers,
      excludeContainers: o.exclude_containers ? compileGlobs(o.exclude_containers) : base.excludeContainers,
      selector: o.label_selector !== undefined ? compileSelector(o.label_selector) : base.selector,
    });
  }
  return {
    source: c,
    includeNs: compileGlobs(c.include_namespaces),
    excludeNs: compileGlobs(c.exclude_namespaces),
    ...base,
    namespaces,
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
  const streams = o?.streams ?? c.streams;
  const parseJsonFields = o?.parse_json_fields ?? c.parse_json_fields ?? false;
  const base = {
    minLevelRank,
    multiline,
    rateLimit,
    stdout: streams === undefined || streams.includes('stdout'),
    stderr: streams === undefined || streams.includes('stderr'),
    parseJsonFields,
  };
  const scope: CompiledScope = cc.namespaces.get(f.namespace) ?? cc;
  let exclude: DiscardReason | null = null;
  if (!c.enabled) exclude = 'excluded_by_config';
  else if (o?.enabled === false) exclude = 'excluded_by_config';
  else if (o?.enabled !== true && excludedByList(cc.includeNs, cc.excludeNs, f.namespace))
    exclude = 'excluded_by_config';
  else if (excludedByList(scope.includePods, scope.excludePods, f.pod)) exclude = 'excluded_by_config';
  else if (excludedByList(scope.includeContainers, scope.excludeContainers, f.container)) exclude = 'excluded_by_config';
  else if (scope.selector !== null && ann.podLabels !== undefined && !matchesLabelSelector(scope.selector, ann.podLabels))
    exclude = 'excluded_by_config';
  else if (isTrue(ann.namespace?.[EXCLUDE_ANNOTATION]) || isTrue(ann.pod?.[EXCLUDE_ANNOTATION]))
    exclude = 'excluded_by_annotation';
  else {
    const list = ann.pod?.[EXCLUDE_CONTAINERS_ANNOTATION];
    if (list !== undefined && list.split(',').some((s) => s.trim() === f.container)) exclude = 'excluded_by_annotation';
  }
  return { exclude, ...base };
}
