/**
 * Collection configurations as the API manages them (DESIGN.md §4 filter, issue 8 §2), and
 * their merge into the one effective config an agent obeys. Pure.
 *
 * A configuration applies to a whole cluster (`namespace: null`) or to one namespace of it;
 * the namespace one wins for its namespace. Its id follows from its scope — `<cluster>` or
 * `<cluster>:<namespace>` — so a second configuration of one scope is refused (409) by the
 * store itself, race-free. Settings left out inherit: a namespace configuration from its
 * cluster's, a cluster's from the defaults (DEFAULT_COLLECTION_CONFIG).
 */
import { Type, type Static } from 'typebox';
import { DEFAULT_COLLECTION_CONFIG } from '../../shared/schemas/collection-config-default.ts';
import {
  LabelSelectorSchema,
  ParseJsonFieldsSchema,
  StreamsSchema,
  type CollectionConfig,
  type NamespaceOverride,
} from '../../shared/schemas/collection-config.ts';
import { Levels } from '../../shared/record.ts';
import { CLUSTER_ID_PATTERN } from '../store/log-indices.ts';

const Globs = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 500, description });

/** DNS label, as Kubernetes namespace names are. */
export const NAMESPACE_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';

/** What a configuration sets; every field optional (absent = inherited). */
export const CollectionSettingsProperties = {
  include_namespaces: Type.Optional(Globs('Cluster-wide only: namespaces collected (glob `*`); empty = all.')),
  exclude_namespaces: Type.Optional(Globs('Cluster-wide only: namespaces never collected; wins over include.')),
  include_pods: Type.Optional(Globs('Pod name globs collected; empty = all.')),
  exclude_pods: Type.Optional(Globs('Pod name globs never collected.')),
  include_containers: Type.Optional(Globs('Container name globs collected; empty = all.')),
  exclude_containers: Type.Optional(Globs('Container name globs never collected.')),
  min_level: Type.Optional(
    Type.Enum(Levels, { description: 'Lines below this level are dropped (lines of unknown level never are).' }),
  ),
  rate_limit_lines_per_second: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Per-pod limit, lines/s; 0 = unlimited.' }),
  ),
  multiline: Type.Optional(
    Type.Boolean({ description: 'Merge stack traces and other continuation lines into one record.' }),
  ),
  streams: Type.Optional(StreamsSchema),
  parse_json_fields: Type.Optional(ParseJsonFieldsSchema),
  label_selector: Type.Optional(LabelSelectorSchema),
};
export const CollectionSettingsSchema = Type.Object(CollectionSettingsProperties, { additionalProperties: false });
export type CollectionSettings = Static<typeof CollectionSettingsSchema>;

/** Settings only a cluster-wide configuration may carry. */
export const CLUSTER_ONLY_SETTINGS = ['include_namespaces', 'exclude_namespaces'] as const;

/** The stored document (system index `configs`). */
export const CollectionConfigDocSchema = Type.Object({
  id: Type.String(),
  cluster: Type.String({ pattern: CLUSTER_ID_PATTERN }),
  namespace: Type.Union([Type.String({ pattern: NAMESPACE_PATTERN }), Type.Null()]),
  enabled: Type.Boolean(),
  settings: CollectionSettingsSchema,
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type CollectionConfigDoc = Static<typeof CollectionConfigDocSchema>;

export function configId(cluster: string, namespace: string | null): string {
  return namespace === null ? cluster : `${cluster}:${namespace}`;
}

/**
 * The effective config of a cluster: its cluster-wide configuration over the defaults, and
 * one namespace override per namespace configuration. Documents of other clusters are ignored.
 */
export function effectiveConfig(cluster: string, docs: readonly CollectionConfigDoc[]): CollectionConfig {
  const own = docs.filter((d) => d.cluster === cluster);
  const wide = own.find((d) => d.namespace === null);
  const out: CollectionConfig = { ...DEFAULT_COLLECTION_CONFIG, namespace_overrides: {} };
  if (wide) {
    out.enabled = wide.enabled;
    Object.assign(out, definedOnly(wide.settings));
  }
  const overrides: Record<string, NamespaceOverride> = {};
  for (const d of own.filter((x) => x.namespace !== null).sort((a, b) => (a.namespace! < b.namespace! ? -1 : 1))) {
    const { include_namespaces: _i, exclude_namespaces: _e, ...nsSettings } = d.settings;
    overrides[d.namespace!] = { enabled: d.enabled, ...definedOnly(nsSettings) };
  }
  out.namespace_overrides = overrides;
  return out;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
