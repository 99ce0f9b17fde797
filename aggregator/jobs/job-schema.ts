/**
 * A job document in the `jobs` system index (DESIGN.md §5), and its API shape. Pure.
 *
 * Lifecycle: `pending` → `running` (a replica holds the lease: `owner` + `lease_expires_at`)
 * → `succeeded` | `failed` | `cancelled`. A `running` job whose lease has expired is
 * claimable again: the next owner resumes from `progress`, the last checkpoint.
 */
import { Type, type Static } from 'typebox';

export const JobStatuses = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JobStatuses)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

const Json = Type.Record(Type.String(), Type.Unknown());
const Timestamp = Type.String({ format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const JobErrorSchema = Type.Object({
  code: Type.String({
    description: 'Stable code: `handler_failed`, `invalid_params`, `too_many_attempts`, `unknown_type`.',
  }),
  message: Type.String(),
});

export const JobSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  type: Type.String({ minLength: 1, maxLength: 100 }),
  params: Json,
  status: Type.Enum(JobStatuses),
  /** The last checkpoint, for the owner that resumes the job. */
  progress: Type.Union([Json, Type.Null()]),
  /** What the handler returned, once succeeded. */
  result: Type.Union([Json, Type.Null()]),
  error: Type.Union([JobErrorSchema, Type.Null()]),
  created_at: Timestamp,
  started_at: NullableTimestamp,
  finished_at: NullableTimestamp,
  /** Replica holding (or last holding) the lease. */
  owner: Type.Union([Type.String(), Type.Null()]),
  lease_expires_at: NullableTimestamp,
  /** Times a replica claimed it; a job claimed `maxAttempts` times without finishing fails. */
  attempts: Type.Integer({ minimum: 0 }),
  /** Cancellation asked for while running; the owner stops at its next lease renewal. */
  cancel_requested: Type.Boolean(),
  /**
   * What the job is about, as indexed `kind:value` strings (`policy:<id>`, `cluster:<id>`), from
   * its handler's `tags(params)`: lists filter on them in the store, so a filtered page is
   * full (params are opaque to the index). Absent on jobs stored before tags existed.
   */
  tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 300 }), { maxItems: 50 })),
});
export type JobDoc = Static<typeof JobSchema>;

/** Mapping of the `jobs` system index (system-indices.ts); `params`/`progress`/`result` are opaque. */
export const JOB_MAPPING_PROPERTIES = {
  id: { type: 'keyword' },
  type: { type: 'keyword' },
  params: { type: 'object', enabled: false },
  status: { type: 'keyword' },
  progress: { type: 'object', enabled: false },
  result: { type: 'object', enabled: false },
  error: { type: 'object', enabled: false },
  created_at: { type: 'date' },
  started_at: { type: 'date' },
  finished_at: { type: 'date' },
  owner: { type: 'keyword' },
  lease_expires_at: { type: 'date' },
  attempts: { type: 'integer' },
  cancel_requested: { type: 'boolean' },
  tags: { type: 'keyword' },
} as const;
