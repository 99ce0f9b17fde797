/** Response and parameter schemas of the log retrieval endpoints. */
import { Type } from 'typebox';
import { LogRecordSchema } from '../../../shared/record.ts';

export const LogsPageSchema = Type.Object({
  logs: Type.Array(LogRecordSchema),
  total: Type.Integer({ description: 'Matching records; exact when total_relation is "eq", a lower bound when "gte".' }),
  total_relation: Type.Union([Type.Literal('eq'), Type.Literal('gte')]),
  has_more: Type.Boolean(),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' }),
  took_ms: Type.Integer(),
});

const Name = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 253, description }));

export const ListLogsQuerySchema = Type.Object(
  {
    cluster: Name('Cluster id.'),
    namespace: Name('Namespace (comma-separated for several).'),
    pod: Name('Pod name (comma-separated for several).'),
    container: Name('Container name (comma-separated for several).'),
    stream: Type.Optional(Type.Union([Type.Literal('stdout'), Type.Literal('stderr')])),
    level: Type.Optional(Type.String({ maxLength: 200, description: 'Level, comma-separated for several.' })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Text the message contains (case-insensitive, exact substring).' })),
    labels: Type.Optional(Type.String({ maxLength: 2000, description: 'Kubernetes label selector, e.g. `app=web,tier in (api,db)`.' })),
    start: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'RFC 3339, epoch s/ms/ns or `now-1h`. Default: end - 1h.' })),
    end: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'RFC 3339, epoch s/ms/ns or `now`. Default: now.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 2000 })),
    direction: Type.Optional(Type.Union([Type.Literal('backward'), Type.Literal('forward')], { default: 'backward', description: 'backward = newest first.' })),
    max: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'NDJSON export only: stop after this many records.' })),
  },
  { additionalProperties: false },
);
