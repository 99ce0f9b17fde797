/**
 * The agent → aggregator ingest contract, `POST /v1/ingest`.
 *
 * Request: `Content-Type: application/x-ndjson`, `Content-Encoding: gzip`, body = one
 * {@link LogRecordSchema} JSON object per line. `Authorization: Bearer <ingest token>`;
 * the token is bound to one cluster and every record's `cluster` must match it.
 *
 * Response semantics the agent relies on for checkpointing:
 * - 200: the whole batch is settled — every record is stored (`accepted`, including
 *   `duplicates` already stored by an earlier send) or rejected for good (`rejected`,
 *   with reasons), also when no record of the batch is valid. Only a record's own content
 *   is rejected for good (`invalid_json`, `invalid_record`, `cluster_mismatch`,
 *   `record_too_large`, `too_old` / `too_new` outside the acceptance window,
 *   `mapping_rejected`). The agent may commit offsets past every record of the batch.
 * - 429 / 5xx / network error: nothing is settled; send the same batch again
 *   (honour `Retry-After`). Records that did get stored come back as duplicates. 429:
 *   `store_busy` (OpenSearch pushed back) or `ingest_overloaded` (the aggregator's
 *   in-flight byte budget is full). 503: `store_unavailable` (OpenSearch unreachable or
 *   failing) or `store_refused` (OpenSearch refused the request as a whole: a day index
 *   cannot be created, a cluster block, a closed or missing index — never the batch's fault).
 * - other 4xx (bad gzip, bad token, oversize body, no record at all): the request as a
 *   whole is refused, nothing was stored; the error envelope says why. Retrying unchanged
 *   will not help.
 */
import { Type, type Static } from 'typebox';
import { DiscardReasons } from '../reasons.ts';

export { INGEST_PATH, INGEST_HEARTBEAT_PATH } from './ingest-paths.ts';

export const IngestRejectionSchema = Type.Object({
  line: Type.Integer({ minimum: 1, description: '1-based line number in the batch.' }),
  id: Type.Optional(Type.String()),
  reason: Type.Enum(DiscardReasons),
  message: Type.String(),
});

export const IngestResponseSchema = Type.Object({
  received: Type.Integer({ minimum: 0 }),
  accepted: Type.Integer({ minimum: 0, description: 'Stored now or earlier.' }),
  duplicates: Type.Integer({ minimum: 0, description: 'Of accepted: already stored.' }),
  rejected: Type.Array(IngestRejectionSchema),
});
export type IngestResponse = Static<typeof IngestResponseSchema>;
export type IngestRejection = Static<typeof IngestRejectionSchema>;

const ReasonCounts = (description: string) =>
  Type.Record(Type.String({ pattern: '^[a-z_]{1,64}$' }), Type.Integer({ minimum: 0 }), { description, maxProperties: 64 });

export const HeartbeatSchema = Type.Object(
  {
    cluster: Type.String({ minLength: 1, maxLength: 253 }),
    node: Type.String({ minLength: 1, maxLength: 253 }),
    agent_version: Type.String({ maxLength: 64 }),
    files_watched: Type.Integer({ minimum: 0 }),
    bytes_behind: Type.Integer({ minimum: 0 }),
    last_ack_at: Type.Optional(Type.String()),
    sent_at: Type.String(),
    // Added after v0.1 (optional, so older agents' heartbeats stay valid): cumulative counts
    // by reason (shared/reasons.ts) since the agent started, for GET /v1/k8s/logs/metrics.
    started_at: Type.Optional(Type.String({ description: 'When this agent process started (its counters count from here).' })),
    discarded: Type.Optional(ReasonCounts('Records discarded or altered on the node since start, by reason.')),
    rejected: Type.Optional(ReasonCounts('Records the aggregator rejected for good since start, by reason.')),
  },
  { additionalProperties: false },
);
export type Heartbeat = Static<typeof HeartbeatSchema>;
