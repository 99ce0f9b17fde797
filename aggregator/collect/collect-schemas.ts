/**
 * Request bodies of the collect endpoints (what `/docs` shows), the parameters of the
 * three collect job types as stored in the job document, and the job view of the API.
 * Pure. Requests are normalised into CollectParams by collect-request.ts.
 */
import { Type, type Static } from 'typebox';
import { NAMESPACE_PATTERN } from '../collection/collection-config-model.ts';
import { JobErrorSchema, JobStatuses } from '../jobs/job-schema.ts';
import { CLUSTER_ID_PATTERN } from '../store/log-indices.ts';

export const COLLECT_JOB = 'collect';
export const CONTINUOUS_COLLECT_JOB = 'collect-continuous';
export const BULK_COLLECT_JOB = 'collect-bulk';
export const CollectJobTypes = [COLLECT_JOB, CONTINUOUS_COLLECT_JOB, BULK_COLLECT_JOB] as const;
export type CollectJobType = (typeof CollectJobTypes)[number];
/** The `type` filter of GET /collect/jobs: the job types without their common prefix. */
export const CollectKinds = {
  'one-time': COLLECT_JOB,
  continuous: CONTINUOUS_COLLECT_JOB,
  bulk: BULK_COLLECT_JOB,
} as const;

const PodName = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$', description: 'Pod name.' });
const ContainerName = Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' });
const Cluster = Type.String({
  pattern: CLUSTER_ID_PATTERN,
  description: 'A registered (or configured) cluster with an API connection.',
});
const Namespace = Type.String({ pattern: NAMESPACE_PATTERN });

const SelectionProperties = {
  cluster: Cluster,
  label_selector: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 1024,
      description: 'Kubernetes label selector (`app=web,tier!=db`, `env in (a,b)`).',
    }),
  ),
  containers: Type.Optional(
    Type.Array(ContainerName, {
      minItems: 1,
      maxItems: 50,
      uniqueItems: true,
      description: 'Containers to read; default all (init containers only with `include_init_containers`).',
    }),
  ),
  include_init_containers: Type.Optional(Type.Boolean({ description: 'Read init containers too. Default false.' })),
};

const WindowProperties = {
  since_seconds: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 31_622_400,
      description: 'Lines of the last N seconds (resolved once, at submission).',
    }),
  ),
  since_time: Type.Optional(
    Type.String({
      maxLength: 40,
      description: 'Lines at or after this RFC 3339 instant (the API server honours whole seconds).',
    }),
  ),
  tail_lines: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 1_000_000,
      description: 'Only the last N lines of each container (applied before the since filter, as the kubelet does).',
    }),
  ),
};

const LimitBytes = Type.Optional(
  Type.Integer({
    minimum: 1,
    maximum: 1 << 30,
    description: 'Bytes read per container at most (the last line may be cut).',
  }),
);

export const OneTimeBodySchema = Type.Object(
  {
    ...SelectionProperties,
    namespace: Namespace,
    pods: Type.Optional(
      Type.Array(PodName, {
        minItems: 1,
        maxItems: 500,
        uniqueItems: true,
        description: 'Pod names (or `label_selector`).',
      }),
    ),
    ...WindowProperties,
    limit_bytes: LimitBytes,
    previous: Type.Optional(
      Type.Boolean({ description: 'Read the previous (terminated) instance of each container. Default false.' }),
    ),
  },
  { additionalProperties: false },
);
export type OneTimeBody = Static<typeof OneTimeBodySchema>;

export const ContinuousBodySchema = Type.Object(
  {
    ...SelectionProperties,
    namespace: Namespace,
    pods: Type.Optional(
      Type.Array(PodName, {
        minItems: 1,
        maxItems: 500,
        uniqueItems: true,
        description: 'Pod names (or `label_selector`; omit both to follow every pod of the namespace).',
      }),
    ),
    ...WindowProperties,
    end_time: Type.Optional(
      Type.String({
        maxLength: 40,
        description:
          'Stop following at this instant (RFC 3339 or `now+<n><unit>` is not accepted: an absolute time). Default: until cancelled.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ContinuousBody = Static<typeof ContinuousBodySchema>;

export const BulkBodySchema = Type.Object(
  {
    ...SelectionProperties,
    namespace: Type.Optional(Namespace),
    ...WindowProperties,
    limit_bytes: LimitBytes,
    concurrency: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        description: 'Containers read at once (capped by the server maximum). Default from config.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type BulkBody = Static<typeof BulkBodySchema>;

/** What a collect job runs, resolved at submission (times absolute, scope applied). */
export const CollectParamsSchema = Type.Object(
  {
    cluster: Type.String({ minLength: 1 }),
    /** Namespaces read; null = all (bulk over a cluster with an unrestricted token). */
    namespaces: Type.Union([Type.Array(Type.String()), Type.Null()]),
    pods: Type.Union([Type.Array(Type.String()), Type.Null()]),
    label_selector: Type.Union([Type.String(), Type.Null()]),
    containers: Type.Union([Type.Array(Type.String()), Type.Null()]),
    include_init_containers: Type.Boolean(),
    /** Canonical RFC 3339; `since_seconds` is turned into this at submission. */
    since_time: Type.Union([Type.String(), Type.Null()]),
    tail_lines: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    limit_bytes: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    previous: Type.Boolean(),
    /** Continuous only: stop at this canonical instant. */
    end_time: Type.Union([Type.String(), Type.Null()]),
    /** Containers read at once (one-time and bulk). */
    concurrency: Type.Integer({ minimum: 1 }),
    /** Streams this job counts against the per-cluster and overall limits. */
    streams_reserved: Type.Integer({ minimum: 0 }),
    /** When it was submitted (canonical): pods created later are read from their first line. */
    submitted_at: Type.String(),
  },
  { additionalProperties: false },
);
export type CollectParams = Static<typeof CollectParamsSchema>;

const Json = Type.Record(Type.String(), Type.Unknown());

export const CollectJobViewSchema = Type.Object({
  id: Type.String(),
  type: Type.String({ description: '`collect` (one-time), `collect-continuous` or `collect-bulk`.' }),
  status: Type.Enum(JobStatuses),
  params: Json,
  progress: Type.Union([Json, Type.Null()], {
    description:
      'pods_total/pods_done/pods_failed/pods_excluded, lines, bytes, and `pods`: per pod its status, error and per container the last stored timestamp.',
  }),
  result: Type.Union([Json, Type.Null()]),
  error: Type.Union([JobErrorSchema, Type.Null()]),
  created_at: Type.String(),
  started_at: Type.Union([Type.String(), Type.Null()]),
  finished_at: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Integer(),
  cancel_requested: Type.Boolean(),
});

export const JobAcceptedSchema = Type.Object({
  job_id: Type.String(),
  type: Type.String(),
  status: Type.String(),
  /** What the job will read, as resolved at submission (pods may change before it runs). */
  pods: Type.Integer({ description: 'Pods selected at submission.' }),
});
