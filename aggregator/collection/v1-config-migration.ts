/**
 * Collection configurations stored by version 1 of the aggregator: one document per cluster
 * (`{cluster, config, etag, updated_at}`, id = the cluster) holding the whole merged config
 * with its namespace overrides. This version stores one document per scope
 * (collection-config-model.ts). Pure: the conversion, so that the agents of a cluster obey
 * the same effective config before and after the upgrade; the store runs it at start
 * (CollectionConfigStore.migrateV1).
 */
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { Levels } from '../../shared/record.ts';
import { configId, type CollectionConfigDoc, type CollectionSettings } from './collection-config-model.ts';

const Globs = Type.Array(Type.String());

/** The version-1 document, frozen here: version 1's schema no longer exists elsewhere. */
export const V1ConfigDocSchema = Type.Object({
  cluster: Type.String(),
  etag: Type.String(),
  updated_at: Type.String(),
  config: Type.Object({
    enabled: Type.Boolean(),
    include_namespaces: Globs,
    exclude_namespaces: Globs,
    include_pods: Globs,
    exclude_pods: Globs,
    include_containers: Globs,
    exclude_containers: Globs,
    min_level: Type.Enum(Levels),
    rate_limit_lines_per_second: Type.Integer({ minimum: 0 }),
    multiline: Type.Boolean(),
    namespace_overrides: Type.Record(
      Type.String(),
      Type.Object({
        enabled: Type.Optional(Type.Boolean()),
        min_level: Type.Optional(Type.Enum(Levels)),
        multiline: Type.Optional(Type.Boolean()),
        rate_limit_lines_per_second: Type.Optional(Type.Integer({ minimum: 0 })),
      }),
    ),
  }),
});
export type V1ConfigDoc = Static<typeof V1ConfigDocSchema>;

export function isV1ConfigDoc(source: unknown): source is V1ConfigDoc {
  return Value.Check(V1ConfigDocSchema, source);
}

/**
 * The documents of this version that say what `old` said: a cluster-wide one with every
 * setting explicit (version 1 stored no inheritance), and one per namespace override. An
 * override that did not set `enabled` followed the cluster; this version's namespace
 * documents always say it, so it is the cluster's value.
 */
export function migrateV1ConfigDoc(old: V1ConfigDoc): CollectionConfigDoc[] {
  const c = old.config;
  const settings: CollectionSettings = {
    include_namespaces: c.include_namespaces,
    exclude_namespaces: c.exclude_namespaces,
    include_pods: c.include_pods,
    exclude_pods: c.exclude_pods,
    include_containers: c.include_containers,
    exclude_containers: c.exclude_containers,
    min_level: c.min_level,
    rate_limit_lines_per_second: c.rate_limit_lines_per_second,
    multiline: c.multiline,
  };
  const at = old.updated_at;
  const out: CollectionConfigDoc[] = [
    {
      id: configId(old.cluster, null),
      cluster: old.cluster,
      namespace: null,
      enabled: c.enabled,
      settings,
      created_at: at,
      updated_at: at,
    },
  ];
  for (const [namespace, o] of Object.entries(c.namespace_overrides).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const { enabled, ...rest } = o;
    out.push({
      id: configId(old.cluster, namespace),
      cluster: old.cluster,
      namespace,
      enabled: enabled ?? c.enabled,
      settings: Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
      created_at: at,
      updated_at: at,
    });
  }
  return out;
}
