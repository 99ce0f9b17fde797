/** Request and response schemas of `POST /v1/k8s/logs/search`. */
import { Type } from 'typebox';
import { Levels, Streams } from '../../../shared/record.ts';
import { AggregationKeys } from '../../query/search-aggregations.ts';
import { INTERVAL_LADDER } from '../../query/histogram-interval.ts';
import { LogsPageSchema } from './schemas.ts';

const Names = (description: string) =>
  Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 100, uniqueItems: true, description }));

const Time = (description: string) => Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Integer({ minimum: 0 })], { description }));

export const FieldFilterSchema = Type.Object(
  {
    field: Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_@$-]+(\\.[A-Za-z0-9_@$-]+)*$', description: 'Key of the parsed JSON line; dots address nested keys (`http.status`).' }),
    op: Type.Union([Type.Literal('eq'), Type.Literal('neq'), Type.Literal('exists'), Type.Literal('missing')], { description: 'eq/neq compare the value as a string (JSON numbers and booleans included); exists/missing take no value.' }),
    value: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()])),
  },
  { additionalProperties: false },
);

export const SearchBodySchema = Type.Object(
  {
    clusters: Names('Cluster ids (any of).'),
    namespaces: Names('Namespaces (any of).'),
    pods: Names('Pod names (any of).'),
    containers: Names('Container names (any of).'),
    nodes: Names('Node names (any of).'),
    streams: Type.Optional(Type.Array(Type.Enum(Streams), { minItems: 1, uniqueItems: true })),
    levels: Type.Optional(Type.Array(Type.Enum(Levels), { minItems: 1, uniqueItems: true })),
    query: Type.Optional(Type.String({ minLength: 1, maxLength: 4000, description: 'Full-text query on the analysed message: words (all required), "exact phrases", `|` or OR, `-word` to exclude, `prefix*`, parentheses.' })),
    contains: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), { minItems: 1, maxItems: 20, description: 'Exact substrings the message must contain, all of them (punctuation and spaces count).' })),
    regex: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Lucene regular expression matched anywhere in the message; `^` first / `$` last anchor the whole pattern.' })),
    case_sensitive: Type.Optional(Type.Boolean({ default: true, description: 'Applies to `contains` and `regex`.' })),
    labels: Type.Optional(Type.String({ maxLength: 2000, description: 'Kubernetes label selector, e.g. `app=web,tier in (api,db)`.' })),
    fields: Type.Optional(Type.Array(FieldFilterSchema, { minItems: 1, maxItems: 20, description: 'Filters on parsed JSON fields (all of them).' })),
    start: Time('RFC 3339, epoch s/ms/ns or `now-1h`. Default: end - 1h.'),
    end: Time('RFC 3339, epoch s/ms/ns or `now`. Default: now.'),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'next_cursor of the previous page; send the same filters with it.' })),
    sort: Type.Optional(
      Type.Object(
        {
          field: Type.Optional(Type.Literal('timestamp')),
          order: Type.Optional(Type.Union([Type.Literal('desc'), Type.Literal('asc')], { default: 'desc' })),
        },
        { additionalProperties: false },
      ),
    ),
    highlight: Type.Optional(Type.Boolean({ description: 'Return `highlights`: fragments of each message with the `query` terms in <em> (HTML-escaped).' })),
    aggregations: Type.Optional(Type.Array(Type.Enum(AggregationKeys), { minItems: 1, uniqueItems: true, description: 'Counts over all matches, first page only.' })),
    histogram: Type.Optional(
      Type.Union([
        Type.Boolean(),
        Type.Object(
          { interval: Type.Optional(Type.String({ maxLength: 16, description: `Fixed interval (e.g. 30s, 5m, 1h); default automatic from ${INTERVAL_LADDER.join(', ')} for at most ~120 buckets.` })) },
          { additionalProperties: false },
        ),
      ], { description: 'Counts per time bucket over the window, first page only.' }),
    ),
    max: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'NDJSON export only: stop after this many records.' })),
  },
  { additionalProperties: false },
);

const TermCountsSchema = Type.Object({
  buckets: Type.Array(Type.Object({ key: Type.String(), count: Type.Integer() })),
  other_count: Type.Integer({ description: 'Matches whose value is not among the buckets.' }),
});

export const SearchResponseSchema = Type.Object({
  ...LogsPageSchema.properties,
  aggregations: Type.Optional(Type.Object({
    level: Type.Optional(TermCountsSchema),
    namespace: Type.Optional(TermCountsSchema),
    pod: Type.Optional(TermCountsSchema),
    container: Type.Optional(TermCountsSchema),
  })),
  histogram: Type.Optional(Type.Object({
    interval: Type.String(),
    buckets: Type.Array(Type.Object({ start: Type.String({ description: 'Bucket start, RFC 3339.' }), count: Type.Integer() })),
  })),
  highlights: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()), { description: 'Record id → highlighted fragments.' })),
});
