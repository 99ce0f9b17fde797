/**
 * Collection configuration: what agents of one cluster collect. Stored by the aggregator
 * (public `/v1/k8s/logs/config` API), read by agents through the internal endpoint
 * `GET /v1/ingest/config` (ingest token; the cluster is the token's) with `If-None-Match`.
 * Agents apply a change within seconds; an unreachable aggregator keeps the last config.
 */
import { Type, type Static } from 'typebox';
import { Levels } from '../record.ts';

export { INGEST_CONFIG_PATH } from './ingest-paths.ts';

const LevelSchema = Type.Enum(Levels);
const Globs = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 500, description });

export const Streams = ['stdout', 'stderr'] as const;
export const StreamsSchema = Type.Array(Type.Enum(Streams), {
  minItems: 1,
  uniqueItems: true,
  description: 'Streams collected; absent = both.',
});
export const ParseJsonFieldsSchema = Type.Boolean({
  description: 'Copy the top-level keys of JSON log lines into `fields`; absent = off.',
});
export const LabelSelectorSchema = Type.String({
  minLength: 1,
  maxLength: 1024,
  description: 'Kubernetes label selector (`app=web,tier in (a,b),!canary`): only pods whose labels match are collected; pods whose labels are not known yet are collected. Absent = every pod.',
});

/** Settings of one namespace; absent ones come from the cluster-wide level. */
export const NamespaceOverrideSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    min_level: Type.Optional(LevelSchema),
    multiline: Type.Optional(Type.Boolean()),
    rate_limit_lines_per_second: Type.Optional(Type.Integer({ minimum: 0 })),
    include_pods: Type.Optional(Globs('Pod name globs collected in this namespace (replaces the cluster-wide list).')),
    exclude_pods: Type.Optional(Globs('Pod name globs never collected in this namespace (replaces the cluster-wide list).')),
    include_containers: Type.Optional(Globs('Container name globs collected in this namespace (replaces the cluster-wide list).')),
    exclude_containers: Type.Optional(Globs('Container name globs never collected in this namespace (replaces the cluster-wide list).')),
    streams: Type.Optional(StreamsSchema),
    parse_json_fields: Type.Optional(ParseJsonFieldsSchema),
    label_selector: Type.Optional(LabelSelectorSchema),
  },
  { additionalProperties: false },
);
export type NamespaceOverride = Static<typeof NamespaceOverrideSchema>;

export const CollectionConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Collect anything at all.' }),
    include_namespaces: Globs('Namespaces to collect (glob `*`); empty means all.'),
    exclude_namespaces: Globs('Namespaces never collected; wins over include.'),
    include_pods: Globs('Pod name globs to collect; empty means all.'),
    exclude_pods: Globs('Pod name globs never collected.'),
    include_containers: Globs('Container name globs to collect; empty means all.'),
    exclude_containers: Globs('Container name globs never collected.'),
    min_level: LevelSchema,
    rate_limit_lines_per_second: Type.Integer({
      minimum: 0,
      description: 'Per-pod limit in lines/s; 0 = unlimited. Excess counted as rate_limited.',
    }),
    multiline: Type.Boolean({ description: 'Merge stack traces into one record.' }),
    streams: Type.Optional(StreamsSchema),
    parse_json_fields: Type.Optional(ParseJsonFieldsSchema),
    label_selector: Type.Optional(LabelSelectorSchema),
    namespace_overrides: Type.Record(Type.String(), NamespaceOverrideSchema),
  },
  { additionalProperties: false },
);
export type CollectionConfig = Static<typeof CollectionConfigSchema>;

