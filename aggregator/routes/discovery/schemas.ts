/** Parameter and response schemas of the discovery endpoints (`/namespaces`, `/pods`, `/containers`). */
import { Type, type TSchema } from 'typebox';

const Name = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 253, description }));

const common = {
  cluster: Name('Cluster id (comma-separated for several). Default: every cluster the token may read.'),
  start: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Start of the window the index counts cover: RFC 3339, epoch s/ms/ns or `now-24h`. Default: end - 24h.' })),
  end: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'End of the window: RFC 3339, epoch s/ms/ns or `now`. Default: now.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 4000, description: '`next_cursor` of the previous page.' })),
};

export const NamespacesQuerySchema = Type.Object(common, { additionalProperties: false });
export const PodsQuerySchema = Type.Object(
  { ...common, namespace: Name('Namespace (comma-separated for several). Default: all in scope.') },
  { additionalProperties: false },
);
export const ContainersQuerySchema = Type.Object(
  {
    ...common,
    namespace: Name('Namespace (comma-separated for several). Default: all in scope.'),
    pod: Name('Pod name (comma-separated for several). Default: all.'),
  },
  { additionalProperties: false },
);

const Seen = {
  live: Type.Boolean({ description: 'Exists in the cluster right now (false when absent or the cluster is not connected).' }),
  log_count: Type.Integer({ description: 'Records stored in the window.' }),
  first_seen: Type.Union([Type.String(), Type.Null()], { description: 'Oldest record in the window (millisecond precision); null when none.' }),
  last_seen: Type.Union([Type.String(), Type.Null()], { description: 'Newest record in the window (millisecond precision); null when none.' }),
};

export const NamespaceItemSchema = Type.Object({ cluster: Type.String(), name: Type.String(), ...Seen });
export const PodItemSchema = Type.Object({
  cluster: Type.String(),
  namespace: Type.String(),
  name: Type.String(),
  ...Seen,
  phase: Type.Optional(Type.String({ description: 'Pod phase; present when live.' })),
  node: Type.Optional(Type.String({ description: 'Node the pod is scheduled on; present when live and scheduled.' })),
});
export const ContainerItemSchema = Type.Object({ cluster: Type.String(), namespace: Type.String(), pod: Type.String(), name: Type.String(), ...Seen });

function page<K extends string, T extends TSchema>(key: K, item: T) {
  return Type.Object({
    ...({ [key]: Type.Array(item) } as Record<K, ReturnType<typeof Type.Array<T>>>),
    has_more: Type.Boolean(),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
    live_clusters: Type.Array(
      Type.Object({ cluster: Type.String(), connected: Type.Boolean() }),
      { description: 'Clusters in scope with a live view configured, and whether it answered.' },
    ),
    took_ms: Type.Integer(),
  });
}

export const NamespacesPageSchema = page('namespaces', NamespaceItemSchema);
export const PodsPageSchema = page('pods', PodItemSchema);
export const ContainersPageSchema = page('containers', ContainerItemSchema);
