/**
 * Optional extras of `POST /search`: term counts, the time histogram and highlighting —
 * their OpenSearch request parts and the shaping of OpenSearch's answers. Pure.
 *
 * Counts and the histogram run over the same bool query as the hits, so they carry the
 * token's scope like everything else.
 */
import { formatNanos } from '../../shared/time.ts';

export const AggregationKeys = ['level', 'namespace', 'pod', 'container'] as const;
export type AggregationKey = (typeof AggregationKeys)[number];

/**
 * Terms per aggregation. Levels are a closed set; the others are cut at a size a screen
 * can show, and the remainder is reported as `other_count` so the cut is visible.
 */
export const TERMS_SIZE: Record<AggregationKey, number> = { level: 10, namespace: 100, pod: 100, container: 100 };

export interface TermCounts {
  buckets: Array<{ key: string; count: number }>;
  /** Matching records whose value is not among the buckets. */
  other_count: number;
}

export interface Histogram {
  interval: string;
  buckets: Array<{ start: string; count: number }>;
}

const NS_PER_MS = 1_000_000n;

type Clause = Record<string, unknown>;

export function compileAggregations(
  keys: readonly AggregationKey[],
  histogram: { interval: string; startNs: bigint; endNs: bigint } | undefined,
): Clause | undefined {
  const aggs: Clause = {};
  for (const key of new Set(keys)) {
    aggs[`by_${key}`] = { terms: { field: key, size: TERMS_SIZE[key], order: [{ _count: 'desc' }, { _key: 'asc' }] } };
  }
  if (histogram) {
    // extended_bounds + min_doc_count 0: empty buckets across the whole window, so a
    // chart's x axis is the window and not just where data happens to be.
    aggs['histogram'] = {
      date_histogram: {
        field: 'timestamp',
        fixed_interval: histogram.interval,
        min_doc_count: 0,
        extended_bounds: { min: Number(histogram.startNs / NS_PER_MS), max: Number(histogram.endNs / NS_PER_MS) },
      },
    };
  }
  return Object.keys(aggs).length ? aggs : undefined;
}

interface TermsResult {
  buckets: Array<{ key: string; doc_count: number }>;
  sum_other_doc_count?: number;
}

export function shapeTermCounts(keys: readonly AggregationKey[], aggs: Record<string, unknown> | undefined): Partial<Record<AggregationKey, TermCounts>> {
  const out: Partial<Record<AggregationKey, TermCounts>> = {};
  for (const key of new Set(keys)) {
    const r = aggs?.[`by_${key}`] as TermsResult | undefined;
    out[key] = {
      buckets: (r?.buckets ?? []).map((b) => ({ key: String(b.key), count: b.doc_count })),
      other_count: r?.sum_other_doc_count ?? 0,
    };
  }
  return out;
}

export function shapeHistogram(interval: string, aggs: Record<string, unknown> | undefined): Histogram {
  const r = aggs?.['histogram'] as { buckets: Array<{ key: number; doc_count: number }> } | undefined;
  return {
    interval,
    buckets: (r?.buckets ?? []).map((b) => ({ start: formatNanos(BigInt(b.key) * NS_PER_MS), count: b.doc_count })),
  };
}

/**
 * Highlighting of the full-text query's terms in `message.text` (the wildcard field
 * cannot be highlighted). The message is HTML-escaped so only the tags are markup and a
 * UI can render fragments as they are.
 */
export function compileHighlight(): Clause {
  return {
    encoder: 'html',
    pre_tags: ['<em>'],
    post_tags: ['</em>'],
    fields: { 'message.text': { fragment_size: 200, number_of_fragments: 3, no_match_size: 0 } },
  };
}
