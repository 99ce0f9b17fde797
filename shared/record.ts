/**
 * The log record: one log line after parsing, as stored in OpenSearch and returned by the
 * API (DESIGN.md §2). The TypeBox schema is the contract; the type is derived from it.
 */
import { Type, type Static } from 'typebox';

export const Streams = ['stdout', 'stderr'] as const;
export type Stream = (typeof Streams)[number];

export const Levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'unknown'] as const;
export type Level = (typeof Levels)[number];

/** Keywords are bounded so a bad agent cannot blow up the keyword index. */
const Keyword = (description: string) =>
  Type.String({ minLength: 1, maxLength: 253, description });

export const LogRecordSchema = Type.Object(
  {
    id: Type.String({
      minLength: 8,
      maxLength: 128,
      pattern: '^[A-Za-z0-9_.:-]+$',
      description: 'Deterministic id (DESIGN.md §3): a resend yields the same id.',
    }),
    timestamp: Type.String({
      description: 'RFC 3339 with up to nanosecond precision, from the runtime line prefix.',
    }),
    cluster: Keyword('Cluster id of the agent that read the line.'),
    namespace: Keyword('Kubernetes namespace.'),
    pod: Keyword('Pod name.'),
    container: Keyword('Container name.'),
    node: Type.Optional(Type.String({ maxLength: 253, description: 'Node name.' })),
    pod_uid: Type.Optional(Type.String({ maxLength: 64 })),
    container_id: Type.Optional(Type.String({ maxLength: 128 })),
    stream: Type.Enum(Streams),
    level: Type.Enum(Levels),
    message: Type.String({ description: 'The reassembled line.' }),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    fields: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export type LogRecord = Static<typeof LogRecordSchema>;
