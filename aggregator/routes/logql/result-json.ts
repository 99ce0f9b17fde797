/**
 * A LogQL result as Loki's JSON (`data.result`), shared by `POST /search/logql` and the
 * Loki API. Pure.
 *
 * - streams: `{ stream, values: [["<ns>", "<line>"], …] }`;
 * - matrix / vector / scalar: Prometheus' sample pairs `[<seconds>, "<value>"]`, where the
 *   time is Prometheus' `model.Time` (integer milliseconds, truncated) printed as seconds —
 *   formatted from the integer so that `1796177212186` ms is `1796177212.186`, never the
 *   float noise of ns / 1e9 (`1796177212.1859999`) — and the value is Go's
 *   `FormatFloat(v, 'f', -1, 64)` (`NaN`, `+Inf`, `-Inf`, never an exponent).
 */
import { goFloatFixed } from '../../logql/go-format.ts';
import type { QueryResult } from '../../logql/evaluator.ts';

/** Nanoseconds → Loki's sample time: whole ms as seconds (a JSON number with at most 3 decimals). */
export function sampleTime(tNs: bigint): number {
  const ms = tNs >= 0n ? tNs / 1_000_000n : (tNs - 999_999n) / 1_000_000n;
  // An integer below 2^53 divided by 1000 is the double nearest to the decimal, which
  // JavaScript prints with the fewest digits: exactly the 3-decimal text.
  return Number(ms) / 1000;
}

export const sampleValue = (v: number): string => goFloatFixed(v);

export function resultJson(r: QueryResult): unknown {
  switch (r.type) {
    case 'streams':
      return r.streams.map((s) => ({ stream: s.labels, values: s.entries.map((e) => [e.tsNs.toString(), e.line]) }));
    case 'matrix':
      return r.series.map((s) => ({
        metric: s.labels,
        values: s.points.map((p) => [sampleTime(p.tNs), sampleValue(p.value)]),
      }));
    case 'vector':
      return r.samples.map((s) => ({ metric: s.labelsMap, value: [sampleTime(r.tNs), sampleValue(s.value)] }));
    case 'scalar':
      return [sampleTime(r.tNs), sampleValue(r.value)];
  }
}
