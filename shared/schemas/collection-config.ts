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

export const NamespaceOverrideSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    min_level: Type.Optional(LevelSchema),
    multiline: Type.Optional(Type.Boolean()),
    rate_limit_lines_per_second: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

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
    namespace_overrides: Type.Record(Type.String(), NamespaceOverrideSchema),
  },
  { additionalProperties: false },
);
export type CollectionConfig = Static<typeof CollectionConfigSchema>;

export { DEFAULT_COLLECTION_CONFIG } from './collection-config-default.ts';
