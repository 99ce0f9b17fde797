/**
 * The streams of a time window, from the log indices: what `labels`, `label/{name}/values`,
 * `series`, `index/stats` and `index/volume*` answer from.
 *
 * A stream's identity is the record's built-in fields (cluster, namespace, pod, container,
 * node, stream); its pod labels are those of its newest record in the window (pod labels
 * rarely change during a pod's life; when they do, the newest set is reported). One
 * composite aggregation pages over the identities — the access scope, the window and the
 * `=`/`!=` matchers on built-in labels filter inside the store query (compileSelect, the
 * same clauses the LogQL store uses) — then every matcher is tested exactly on the Loki
 * labels (stream-labels.ts), so pod-label and regex matchers are exact too.
 *
 * Bounded: at most `maxStreams` streams are listed; more is a query limit error, 400 on the Loki API (narrow the selector
 * or the window), never an unbounded answer held in memory.
 */
import type { OpenSearch } from '../../store/opensearch.ts';
import { toAppError } from '../../store/opensearch.ts';
import { AppError } from '../../errors.ts';
import type { AccessScope } from '../../http/scope.ts';
import { logIndexPattern } from '../../store/log-indices.ts';
import { storeTimeoutParams, transportOptions, withDeadline, type StoreDeadline } from '../../query/query-budget.ts';
import type { Matcher } from '../../logql/ast.ts';
import { compileMatcher, type Labels } from '../../logql/pipeline.ts';
import { compileSelect } from '../../logql/opensearch-store.ts';
import { lokiStreamOf } from '../../logql/stream-labels.ts';

export const MAX_CATALOG_STREAMS = 20_000;
const PAGE_BUCKETS = 1000;
const KEYS = ['cluster', 'namespace', 'pod', 'container', 'node', 'stream'] as const;

export interface CatalogStream {
  labels: Labels;
  /** Records of the stream in the window. */
  entries: number;
  /** Message lengths (UTF-16 code units, as the engine counts bytes), when asked for. */
  bytes: number;
}

export interface CatalogQuery {
  scope: AccessScope;
  /** Selectors OR'd (`series` takes several `match[]`); empty = every stream in scope. */
  selectors: Matcher[][];
  startNs: bigint;
  endNs: bigint;
  /** Also sum the message lengths (costs a script over `_source`). */
  withBytes?: boolean;
  maxStreams?: number;
}

type Clause = Record<string, unknown>;

/** The composite-aggregation request of one page. Pure. */
export function compileCatalogSearch(
  q: CatalogQuery,
  matchers: Matcher[],
  after: Record<string, unknown> | undefined,
): Clause {
  const bool = compileSelect(
    { matchers, startNs: q.startNs, endNs: q.endNs, hint: { lineContains: [], lineExcludes: [] } },
    q.scope,
  );
  return {
    size: 0,
    track_total_hits: false,
    query: { bool },
    aggs: {
      streams: {
        composite: {
          size: PAGE_BUCKETS,
          sources: KEYS.map((k) => ({
            [k]: { terms: { field: k, ...(k === 'node' ? { missing_bucket: true } : {}) } },
          })),
          ...(after ? { after } : {}),
        },
        aggs: {
          newest: {
            top_hits: { size: 1, sort: [{ timestamp: { order: 'desc' } }], _source: { includes: ['labels'] } },
          },
          ...(q.withBytes
            ? {
                bytes: {
                  sum: { script: { source: 'params._source.message == null ? 0 : params._source.message.length()' } },
                },
              }
            : {}),
        },
      },
    },
  };
}

interface Bucket {
  key: Record<string, string | null>;
  doc_count: number;
  newest: { hits: { hits: Array<{ _source?: { labels?: Record<string, string> } }> } };
  bytes?: { value: number };
}

export async function listStreams(
  client: OpenSearch,
  indexPrefix: string,
  q: CatalogQuery,
  deadline: StoreDeadline | undefined,
): Promise<CatalogStream[]> {
  const max = q.maxStreams ?? MAX_CATALOG_STREAMS;
  const selectors = q.selectors.length > 0 ? q.selectors : [[]];
  const byKey = new Map<string, CatalogStream>();
  for (const matchers of selectors) {
    const tests = matchers.map((m) => ({ name: m.name, test: compileMatcher(m) }));
    let after: Record<string, unknown> | undefined;
    for (;;) {
      let res;
      try {
        res = await withDeadline(
          deadline,
          'loki',
          client.search(
            {
              index: logIndexPattern(indexPrefix, q.scope.clusters ?? undefined),
              body: compileCatalogSearch(q, matchers, after),
              ignore_unavailable: true,
              allow_no_indices: true,
              ...storeTimeoutParams(deadline),
            },
            transportOptions(deadline),
          ),
        );
      } catch (err) {
        throw toAppError(err, 'loki');
      }
      const agg = (res.body.aggregations as { streams?: { buckets: Bucket[]; after_key?: Record<string, unknown> } })
        ?.streams;
      const buckets = agg?.buckets ?? [];
      for (const b of buckets) {
        const k = b.key;
        const { labels } = lokiStreamOf({
          cluster: k.cluster ?? '',
          namespace: k.namespace ?? '',
          pod: k.pod ?? '',
          container: k.container ?? '',
          node: k.node ?? undefined,
          stream: k.stream ?? '',
          labels: b.newest.hits.hits[0]?._source?.labels,
        });
        if (!tests.every((t) => t.test(labels[t.name] ?? ''))) continue;
        const id = JSON.stringify(KEYS.map((f) => k[f] ?? null));
        if (byKey.has(id)) continue;
        if (byKey.size >= max) {
          throw new AppError(
            'AGG_ERR_QUERY_LIMIT',
            `the selector matches more than ${max} streams in this time range; narrow the selector or the time range`,
            { details: [{ limit: 'streams', max }] },
          );
        }
        byKey.set(id, { labels, entries: b.doc_count, bytes: b.bytes?.value ?? 0 });
      }
      if (buckets.length < PAGE_BUCKETS || !agg?.after_key) break;
      after = agg.after_key;
    }
  }
  return [...byKey.values()];
}
