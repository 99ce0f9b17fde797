/** Request and response schemas of the collection configuration API (`/v1/k8s/logs/config*`). */
import { Type } from 'typebox';
import { PageProperties, PagingQueryProperties } from '../../http/paging.ts';
import { CollectionSettingsProperties, NAMESPACE_PATTERN } from '../../collection/collection-config-model.ts';
import { CLUSTER_ID_PATTERN } from '../../store/log-indices.ts';

const Cluster = Type.String({ pattern: CLUSTER_ID_PATTERN, description: 'Cluster id (as in its records).' });
const Namespace = Type.String({ pattern: NAMESPACE_PATTERN, description: 'Namespace name.' });
const Id = Type.String({
  minLength: 1,
  maxLength: 200,
  description: '`<cluster>` (cluster-wide) or `<cluster>:<namespace>`.',
});
const Version = Type.String({
  pattern: '^\\d{1,19}\\.\\d{1,19}$',
  description: 'Version of the configuration; also its `ETag` (quoted).',
});

export const ConfigSchema = Type.Object({
  id: Id,
  cluster: Cluster,
  namespace: Type.Union([Namespace, Type.Null()], { description: 'null for the cluster-wide configuration.' }),
  enabled: Type.Boolean({ description: 'Collect this scope at all.' }),
  ...CollectionSettingsProperties,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  version: Version,
});

export const ConfigListQuerySchema = Type.Object(
  {
    cluster: Type.Optional(Cluster),
    namespace: Type.Optional(Namespace),
    enabled: Type.Optional(Type.Boolean()),
    ...PagingQueryProperties,
  },
  { additionalProperties: false },
);

export const ConfigListSchema = Type.Object({ configs: Type.Array(ConfigSchema), ...PageProperties });

export const CreateConfigSchema = Type.Object(
  {
    cluster: Cluster,
    namespace: Type.Optional(
      Type.Union([Namespace, Type.Null()], { description: 'Absent or null: the whole cluster.' }),
    ),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    ...CollectionSettingsProperties,
  },
  { additionalProperties: false },
);

export const ReplaceConfigSchema = Type.Object(
  { enabled: Type.Optional(Type.Boolean({ default: true })), ...CollectionSettingsProperties },
  { additionalProperties: false, description: 'The whole configuration: settings left out are inherited again.' },
);

export const IdQuerySchema = Type.Object({ id: Id }, { additionalProperties: false });

const SettingNames = Type.Union(Object.keys(CollectionSettingsProperties).map((k) => Type.Literal(k)));

export const BulkUpdateSchema = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          id: Id,
          enabled: Type.Optional(Type.Boolean()),
          set: Type.Optional(
            Type.Object(CollectionSettingsProperties, {
              additionalProperties: false,
              description: 'Settings to set; the others are kept.',
            }),
          ),
          unset: Type.Optional(
            Type.Array(SettingNames, { uniqueItems: true, description: 'Settings to remove (inherited again).' }),
          ),
          version: Type.Optional(Version),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 100 },
    ),
  },
  { additionalProperties: false },
);

export const BulkResultSchema = Type.Object({
  results: Type.Array(
    Type.Object({
      id: Type.String(),
      ok: Type.Boolean(),
      status: Type.Integer({ description: 'What this item alone would have answered: 200, 400, 403, 404, 412.' }),
      config: Type.Optional(ConfigSchema),
      error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    }),
  ),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
});

export const DisableNamespaceSchema = Type.Object(
  { cluster: Cluster, namespace: Namespace },
  { additionalProperties: false },
);
export const DisableClusterSchema = Type.Object({ cluster: Cluster }, { additionalProperties: false });
export const DisableResultSchema = Type.Object({
  config: ConfigSchema,
  changed: Type.Boolean({ description: 'false when it was already disabled (disabling is idempotent).' }),
});
