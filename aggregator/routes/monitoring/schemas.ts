/** Parameter and response schemas of the monitoring endpoints (`/metrics`, `/clusters/{clusterId}/metrics`, `/stats`, `/health`). */
import { Type } from 'typebox';
import { HealthStates } from './health-checks.ts';

const time = (what: string, dflt: string) =>
  Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      description: `${what}: RFC 3339, epoch s/ms/ns or relative (\`now-1h\`). Default: ${dflt}.`,
    }),
  );

const windowParams = {
  start: time('Start of the window (record timestamps)', 'end - 1h'),
  end: time('End of the window', 'now'),
  interval: Type.Optional(
    Type.String({
      maxLength: 16,
      description: 'Histogram bucket size (`30s`, `5m`, `1h`, `1d`). Default: picked for about 120 buckets.',
    }),
  ),
  top: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'Length of the top namespaces / pods lists.' }),
  ),
};

export const MetricsQuerySchema = Type.Object(
  {
    ...windowParams,
    cluster: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2000,
        description: 'Cluster id (comma-separated for several). Default: every cluster the token may read.',
      }),
    ),
  },
  { additionalProperties: false },
);
export const ClusterMetricsQuerySchema = Type.Object(windowParams, { additionalProperties: false });
export const ClusterMetricsParamsSchema = Type.Object({
  clusterId: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
});

const Volume = {
  lines: Type.Integer({ minimum: 0, description: 'Records stored.' }),
  bytes: Type.Integer({ minimum: 0, description: 'UTF-8 bytes of their messages.' }),
};
const Nullable = (s: ReturnType<typeof Type.Number>) => Type.Union([s, Type.Null()]);
const ms = (d: string) => Nullable(Type.Number({ description: d }));

export const AgentFiguresSchema = Type.Union(
  [
    Type.Object({
      agents: Type.Integer({ description: 'Agents with a heartbeat on record.' }),
      agents_reporting: Type.Integer({
        description: 'Of these, agents whose heartbeat carries discard/rejection counts.',
      }),
      discarded: Type.Record(Type.String(), Type.Integer(), {
        description:
          'Records discarded or altered on the nodes in the window, by reason (shared vocabulary); the window start is resolved to 5 minutes.',
      }),
      rejected: Type.Record(Type.String(), Type.Integer(), {
        description: 'Records the aggregator refused for good in the window, by reason.',
      }),
      bytes_behind: Type.Integer({
        description: 'Bytes written to log files and not yet acknowledged, summed over agents.',
      }),
    }),
    Type.Null(),
  ],
  {
    description:
      "Agents and bytes behind from their latest heartbeats; discards and rejections from the samples of their cumulative counts over the window. Null for a namespace-restricted token (an agent's counts cover all namespaces of its node).",
  },
);

const metricsBody = {
  window: Type.Object({ start: Type.String(), end: Type.String() }),
  totals: Type.Object(Volume),
  over_time: Type.Object({
    interval: Type.String(),
    buckets: Type.Array(Type.Object({ start: Type.String(), ...Volume })),
  }),
  clusters: Type.Array(Type.Object({ cluster: Type.String(), ...Volume })),
  top_namespaces: Type.Array(Type.Object({ cluster: Type.String(), namespace: Type.String(), ...Volume })),
  top_pods: Type.Array(
    Type.Object({ cluster: Type.String(), namespace: Type.String(), pod: Type.String(), ...Volume }),
  ),
  ingest_lag: Type.Object(
    {
      records: Type.Integer({ description: 'Records with an ingest time.' }),
      min_ms: ms('Smallest ingested_at - timestamp.'),
      avg_ms: ms('Mean lag.'),
      max_ms: ms('Largest lag.'),
      p50_ms: ms('Median (estimate).'),
      p95_ms: ms('95th percentile (estimate).'),
      p99_ms: ms('99th percentile (estimate).'),
    },
    { description: 'Ingest time minus record timestamp, ms, over the records of the window.' },
  ),
  agents: AgentFiguresSchema,
  took_ms: Type.Integer(),
};

export const MetricsResponseSchema = Type.Object(metricsBody);
export const ClusterMetricsResponseSchema = Type.Object({
  cluster: Type.String(),
  ...metricsBody,
  namespaces: Type.Array(Type.Object({ namespace: Type.String(), ...Volume }), {
    description: 'Every namespace of the cluster with records in the window (up to 1000), by lines.',
  }),
});

export const StatsQuerySchema = Type.Object(
  {
    cluster: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2000,
        description: 'Cluster id (comma-separated for several). Default: every cluster the token may read.',
      }),
    ),
  },
  { additionalProperties: false },
);

const Doc = Type.Integer({ minimum: 0 });
export const StatsResponseSchema = Type.Object({
  documents: Doc,
  oldest: Type.Union([Type.String(), Type.Null()], {
    description: 'Oldest record timestamp (ns precision); null when none.',
  }),
  newest: Type.Union([Type.String(), Type.Null()]),
  by_day: Type.Array(
    Type.Object({ day: Type.String({ description: 'YYYY-MM-DD (UTC) of record timestamps.' }), documents: Doc }),
  ),
  by_level: Type.Array(Type.Object({ level: Type.String(), documents: Doc })),
  by_cluster: Type.Array(Type.Object({ cluster: Type.String(), documents: Doc })),
  store_bytes: Type.Union([Type.Integer(), Type.Null()], {
    description:
      'On-disk size of the day indices in scope (primaries and replicas); null for namespace-restricted tokens.',
  }),
  index_count: Type.Union([Type.Integer(), Type.Null()]),
  indices: Type.Union([
    Type.Array(
      Type.Object({
        index: Type.String(),
        cluster: Type.String(),
        day: Type.String(),
        health: Type.String(),
        status: Type.String(),
        documents: Doc,
        store_bytes: Type.Integer(),
      }),
    ),
    Type.Null(),
  ]),
  took_ms: Type.Integer(),
});

const State = Type.Enum(HealthStates);
export const HealthResponseSchema = Type.Object({
  status: State,
  checked_at: Type.String(),
  components: Type.Array(
    Type.Object({
      name: Type.String({ description: 'opensearch, s3 (when configured), clusters, agents, jobs.' }),
      critical: Type.Boolean({ description: 'When true, this component down makes the system down (503).' }),
      status: State,
      reason: Type.String(),
      latency_ms: Type.Integer({ description: 'How long the check took.' }),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  ),
});
