/** Request and response schemas of the cluster endpoints (they are what `/docs` shows). */
import { Type } from 'typebox';
import { Nullable } from '../../../shared/schemas/nullable.ts';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { PageProperties, PagingQueryProperties } from '../../http/paging.ts';
import { CLUSTER_ID_PATTERN } from '../../store/log-indices.ts';


export const LabelsSchema = Type.Record(
  Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$' }),
  Type.String({ maxLength: 63 }),
  {
    maxProperties: 64,
    description: 'Free-form labels (`env: prod`, `region: eu-west-1`).',
  },
);

/** A connection as written: the secrets are write-only. */
export const ApiInputSchema = Type.Object(
  {
    server: Type.String({
      pattern: '^https?://[^\\s]+$',
      maxLength: 2048,
      description: 'API server URL, e.g. `https://10.0.0.1:6443`.',
    }),
    ca_data: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 65536,
        description: 'CA bundle PEM, base64 (kubeconfig `certificate-authority-data`). Default: system CAs.',
      }),
    ),
    insecure_skip_tls_verify: Type.Optional(
      Type.Boolean({ description: 'Default false. Do not verify the server certificate (test clusters only).' }),
    ),
    token: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 16384,
        description: 'Bearer token (e.g. of a ServiceAccount). Write-only, encrypted at rest.',
      }),
    ),
    client_certificate_data: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 65536,
        description: 'Client certificate PEM, base64. Write-only, encrypted at rest.',
      }),
    ),
    client_key_data: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 65536,
        description: 'Client key PEM, base64. Write-only, encrypted at rest.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Kubernetes API connection for the live view of the discovery endpoints and for collection jobs. Give a `token` or a client certificate + key (or neither). On update, omitted credentials keep the stored ones.',
  },
);

export const CreateClusterSchema = Type.Object(
  {
    id: Type.String({
      pattern: CLUSTER_ID_PATTERN,
      description: 'The cluster id its agents put in records (`cluster` field).',
    }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Display name; default the id.' })),
    labels: Type.Optional(LabelsSchema),
    api: Type.Optional(Nullable(ApiInputSchema)),
    issue_ingest_token: Type.Optional(
      Type.Boolean({
        description: "Default false. Also create the cluster's agents' ingest token; it is in this response only.",
      }),
    ),
  },
  { additionalProperties: false },
);

export const ReplaceClusterSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    labels: Type.Optional(LabelsSchema),
    api: Type.Optional(Nullable(ApiInputSchema)),
  },
  {
    additionalProperties: false,
    description:
      'The whole registration (the id is `?id=`). `api: null` or no `api` removes the connection and its credentials.',
  },
);

export const ClusterSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  api: Nullable(
    Type.Object({
      server: Type.String(),
      ca_configured: Type.Boolean(),
      insecure_skip_tls_verify: Type.Boolean(),
      auth: Type.Union([Type.Literal('none'), Type.Literal('token'), Type.Literal('client_certificate')], {
        description: 'Kind of stored credential; the credential itself is never returned.',
      }),
    }),
  ),
  created_at: Type.String(),
  updated_at: Type.String(),
  version: Type.String({ description: 'The `ETag` (without quotes), for `If-Match`.' }),
});

export const ConnectionStateSchema = Type.Object({
  state: Type.Union([
    Type.Literal('connected'),
    Type.Literal('unauthorized'),
    Type.Literal('unreachable'),
    Type.Literal('error'),
  ]),
  reachable: Type.Boolean(),
  kubernetes_version: Nullable(Type.String()),
  latency_ms: Nullable(Type.Number()),
  last_error: Nullable(Type.String()),
  checked_at: Type.String(),
});

export const ClusterStatusSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  registered: Type.Boolean({ description: 'false: known from heartbeats or static config only.' }),
  status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('disconnected')]),
  reasons: Type.Array(Type.String()),
  agents: Type.Object({
    nodes_reporting: Type.Integer({ description: 'Agents with a heartbeat fresher than the stale threshold.' }),
    stale_agents: Type.Integer(),
    last_heartbeat_at: Nullable(Type.String()),
    agent_versions: Type.Array(Type.String()),
    bytes_behind: Type.Integer({ description: 'Sum over fresh agents of bytes not yet shipped.' }),
    nodes: Type.Array(
      Type.Object({
        node: Type.String(),
        agent_version: Type.String(),
        last_heartbeat_at: Type.String(),
        bytes_behind: Type.Integer(),
        files_watched: Type.Integer(),
        stale: Type.Boolean(),
      }),
    ),
  }),
  last_record_at: Nullable(Type.String({ description: 'When the newest record of the cluster was ingested.' })),
  ingest_rate_per_second: Type.Number({ description: 'Records ingested per second over the last 5 minutes.' }),
  api: Nullable(ConnectionStateSchema),
});

export const ClusterListQuerySchema = Type.Object(PagingQueryProperties, { additionalProperties: false });
export const ClusterListSchema = Type.Object({ clusters: Type.Array(ClusterSchema), ...PageProperties });
export const IdQuerySchema = Type.Object(
  { id: Type.String({ pattern: CLUSTER_ID_PATTERN }) },
  { additionalProperties: false },
);
export const OptionalIdQuerySchema = Type.Object(
  { id: Type.Optional(Type.String({ pattern: CLUSTER_ID_PATTERN })) },
  { additionalProperties: false },
);

export const errors = {
  400: ErrorEnvelopeSchema,
  401: ErrorEnvelopeSchema,
  403: ErrorEnvelopeSchema,
  404: ErrorEnvelopeSchema,
  409: ErrorEnvelopeSchema,
  412: ErrorEnvelopeSchema,
  429: ErrorEnvelopeSchema,
  503: ErrorEnvelopeSchema,
};
