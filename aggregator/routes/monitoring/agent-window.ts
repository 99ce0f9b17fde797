/**
 * Discards and rejections over a window, from heartbeat samples. Pure.
 *
 * An agent reports cumulative counts by reason since it started (`started_at`). Every
 * heartbeat also lands in a sample: one document per agent run (cluster, node,
 * started_at) and {@link SAMPLE_BUCKET_MS} bucket, holding the latest counts of that
 * bucket. What a run discarded in [start, end] is its counts at the last sample up to
 * `end` minus its counts at `start`:
 *
 * - a run that started inside the window counted from 0 there;
 * - otherwise the baseline is the run's last sample before `start` (looked for up to
 *   {@link BASELINE_LOOKBACK_MS} back: a heartbeating agent has one in the previous bucket);
 *   without one (the agent was silent, or samples were pruned) its first sample inside the
 *   window, so what it counted between `start` and that sample is not included.
 *
 * The window's start is therefore resolved to a bucket: a baseline sample is at most one
 * bucket (plus a heartbeat interval) older than `start`. A restarted agent is a new run,
 * so restarts neither lose nor double counts.
 */
import { isDiscardReason } from '../../../shared/reasons.ts';

export const SAMPLE_BUCKET_MS = 5 * 60_000;
export const BASELINE_LOOKBACK_MS = 2 * SAMPLE_BUCKET_MS;
/** Runs per page of the composite aggregation. */
export const RUNS_PER_PAGE = 1000;

type ReasonCounts = Record<string, number>;

export interface HeartbeatSample {
  cluster: string;
  node: string;
  started_at: string;
  received_at: string;
  discarded?: ReasonCounts;
  rejected?: ReasonCounts;
}

/** The sample a heartbeat received at `receivedAtMs` updates. */
export function sampleId(s: Pick<HeartbeatSample, 'cluster' | 'node' | 'started_at'>, receivedAtMs: number): string {
  const bucket = Math.floor(receivedAtMs / SAMPLE_BUCKET_MS) * SAMPLE_BUCKET_MS;
  return `${s.cluster}/${s.node}/${s.started_at}/${new Date(bucket).toISOString()}`;
}

export interface WindowMs {
  startMs: number;
  endMs: number;
}

type After = Record<string, string | number> | undefined;

/** One page of runs with the samples each needs: the last up to `end`, the baseline candidates. */
export function compileAgentWindowSearch(w: WindowMs, clusters: readonly string[] | undefined, after: After): object {
  const hit = (order: 'asc' | 'desc') => ({
    top_hits: { size: 1, sort: [{ received_at: { order } }], _source: ['received_at', 'discarded', 'rejected'] },
  });
  const filter: object[] = [
    { range: { received_at: { gte: w.startMs - BASELINE_LOOKBACK_MS, lte: w.endMs, format: 'epoch_millis' } } },
    { range: { started_at: { lte: w.endMs, format: 'epoch_millis' } } },
  ];
  if (clusters) filter.push({ terms: { cluster: [...clusters] } });
  return {
    size: 0,
    query: { bool: { filter } },
    aggs: {
      runs: {
        composite: {
          size: RUNS_PER_PAGE,
          sources: [
            { cluster: { terms: { field: 'cluster' } } },
            { node: { terms: { field: 'node' } } },
            { started_at: { terms: { field: 'started_at' } } },
          ],
          ...(after ? { after } : {}),
        },
        aggs: {
          last: hit('desc'),
          before: {
            filter: { range: { received_at: { lt: w.startMs, format: 'epoch_millis' } } },
            aggs: { s: hit('desc') },
          },
          inside: {
            filter: { range: { received_at: { gte: w.startMs, format: 'epoch_millis' } } },
            aggs: { s: hit('asc') },
          },
        },
      },
    },
  };
}

interface Counts {
  received_at: string;
  discarded?: ReasonCounts;
  rejected?: ReasonCounts;
}
interface TopHits {
  hits: { hits: Array<{ _source: Counts }> };
}
interface RunBucket {
  key: { cluster: string; node: string; started_at: number | string };
  last: TopHits;
  before: { s: TopHits };
  inside: { s: TopHits };
}
export interface AgentWindowBody {
  aggregations?: { runs?: { buckets: RunBucket[]; after_key?: Record<string, string | number> } };
}

export interface WindowTotals {
  discarded: ReasonCounts;
  rejected: ReasonCounts;
}

/** Adds one page's runs into `into`; returns the key of the next page, if any. */
export function addAgentWindowPage(into: WindowTotals, body: AgentWindowBody, w: WindowMs): After {
  const runs = body.aggregations?.runs;
  for (const b of runs?.buckets ?? []) {
    const last = b.last.hits.hits[0]?._source;
    if (last === undefined || Date.parse(last.received_at) < w.startMs) continue;
    const startedMs = typeof b.key.started_at === 'number' ? b.key.started_at : Date.parse(b.key.started_at);
    const base =
      startedMs >= w.startMs ? undefined : (b.before.s.hits.hits[0]?._source ?? b.inside.s.hits.hits[0]?._source);
    addIncrease(into.discarded, last.discarded, base?.discarded);
    addIncrease(into.rejected, last.rejected, base?.rejected);
  }
  return runs && runs.buckets.length === RUNS_PER_PAGE ? runs.after_key : undefined;
}

function addIncrease(into: ReasonCounts, at: ReasonCounts | undefined, from: ReasonCounts | undefined): void {
  for (const [reason, n] of Object.entries(at ?? {})) {
    if (!Number.isInteger(n) || n <= 0) continue;
    const was = from?.[reason];
    const d = n - (Number.isInteger(was) && was! > 0 ? was! : 0);
    if (d <= 0) continue;
    const key = isDiscardReason(reason) ? reason : 'other';
    into[key] = (into[key] ?? 0) + d;
  }
}

export function sortedReasons(r: ReasonCounts): ReasonCounts {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
}
