/**
 * Loki's response bodies (pkg/loghttp, pkg/util/marshal), pure: the query envelope
 * `{ status, data: { resultType, result, stats } }`, the label / series lists, index
 * statistics and volumes, the tail message, build info. Sample pairs come from
 * routes/logql/result-json.ts (the same text POST /search/logql answers).
 */
import type { QueryResult } from '../../logql/evaluator.ts';
import type { Labels } from '../../logql/pipeline.ts';
import { resultJson, sampleTime } from '../logql/result-json.ts';
import type { CatalogStream } from './stream-catalog.ts';

export const success = <T>(data: T) => ({ status: 'success' as const, data });

/** `data.stats`: the summary Grafana reads (Loki's other sections have no counterpart here). */
export function queryStats(result: QueryResult, timeMs: number) {
  const { entriesScanned, bytesScanned, entriesProcessed } = result.stats;
  const seconds = timeMs / 1000;
  let returned = 0;
  if (result.type === 'streams') for (const s of result.streams) returned += s.entries.length;
  return {
    summary: {
      bytesProcessedPerSecond: seconds > 0 ? Math.round(bytesScanned / seconds) : 0,
      linesProcessedPerSecond: seconds > 0 ? Math.round(entriesScanned / seconds) : 0,
      totalBytesProcessed: bytesScanned,
      totalLinesProcessed: entriesScanned,
      execTime: seconds,
      queueTime: 0,
      subqueries: 0,
      totalEntriesReturned: returned,
      splits: 0,
      shards: 0,
      totalPostFilterLines: entriesProcessed,
      totalStructuredMetadataBytesProcessed: 0,
    },
  };
}

export function queryResponse(result: QueryResult, timeMs: number) {
  return success({ resultType: result.type, result: resultJson(result), stats: queryStats(result, timeMs) });
}

/** Label names of the streams, sorted (Loki sorts them). */
export function labelNames(streams: readonly CatalogStream[]): string[] {
  const names = new Set<string>();
  for (const s of streams) for (const k of Object.keys(s.labels)) names.add(k);
  return [...names].sort();
}

export function labelValues(streams: readonly CatalogStream[], name: string): string[] {
  const values = new Set<string>();
  for (const s of streams) {
    const v = s.labels[name];
    if (v !== undefined && v !== '') values.add(v);
  }
  return [...values].sort();
}

/** Label sets with their keys sorted (Loki's series are label sets). */
export function seriesList(streams: readonly CatalogStream[]): Labels[] {
  return streams.map((s) => sortedLabels(s.labels));
}

function sortedLabels(l: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(l).sort()) out[k] = l[k]!;
  return out;
}

/**
 * `index/stats`: Loki's `{ streams, chunks, entries, bytes }`. There are no chunks here:
 * `chunks` counts streams (each stream's records in the window are one unit of reading).
 */
export function indexStats(streams: readonly CatalogStream[]) {
  let entries = 0;
  let bytes = 0;
  for (const s of streams) {
    entries += s.entries;
    bytes += s.bytes;
  }
  return { streams: streams.length, chunks: streams.length, entries, bytes };
}

/**
 * `index/volume` (instant): bytes per group at `end`, largest first, at most `limit`.
 * `aggregateBy=series`: one group per distinct value set of `targets`; `labels`: one group
 * per label name (`{name: ""}`), its streams' bytes summed.
 */
export function volumeVector(
  streams: readonly CatalogStream[],
  targets: readonly string[],
  aggregateBy: 'series' | 'labels',
  limit: number,
  endNs: bigint,
) {
  const groups = new Map<string, { metric: Record<string, string>; bytes: number }>();
  for (const s of streams) {
    const keys =
      aggregateBy === 'labels'
        ? (targets.length ? targets : Object.keys(s.labels))
            .filter((n) => s.labels[n] !== undefined)
            .map((n) => ({ [n]: '' }))
        : [Object.fromEntries(targets.filter((n) => s.labels[n] !== undefined).map((n) => [n, s.labels[n]!]))];
    for (const metric of keys) {
      const id = JSON.stringify(sortedLabels(metric));
      const g = groups.get(id) ?? { metric: sortedLabels(metric), bytes: 0 };
      g.bytes += s.bytes;
      groups.set(id, g);
    }
  }
  const t = sampleTime(endNs);
  return [...groups.values()]
    .sort((a, b) => b.bytes - a.bytes || (JSON.stringify(a.metric) < JSON.stringify(b.metric) ? -1 : 1))
    .slice(0, limit)
    .map((g) => ({ metric: g.metric, value: [t, String(g.bytes)] }));
}

/** Loki's tail message; `dropped_entries` only when the feed lost records for this client. */
export function tailMessage(
  streams: { stream: Labels; values: [string, string][] }[],
  dropped: { timestamp: string; labels?: Labels }[],
) {
  return { streams, ...(dropped.length ? { dropped_entries: dropped } : {}) };
}

/** `status/buildinfo`: Prometheus' build information; `version` is Loki's API level served. */
export function buildInfo(productVersion: string, runtime: string) {
  return {
    version: '3.0.0',
    revision: 'k8s-logs',
    branch: 'k8s-logs',
    buildUser: 'k8s-logs',
    buildDate: '',
    goVersion: `k8s-logs ${productVersion} (${runtime})`,
  };
}
