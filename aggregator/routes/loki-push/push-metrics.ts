/**
 * Metrics of `POST /loki/api/v1/push`, on the app's injected registry (never the global
 * one). Named after Loki's distributor (`lines_received`, `bytes_received`,
 * `discarded_samples`, `discarded_bytes`); reasons are shared/reasons.ts values. Bytes are
 * the UTF-8 bytes of the log lines, as Loki counts them. Get-or-create, so two apps built
 * on one registry (tests) share the counters instead of failing to register them.
 */
import { Counter, type Registry } from 'prom-client';

export interface PushMetrics {
  /** Lines stored (created, or already stored by an earlier send of the same entry). */
  readonly acceptedLines: Counter<'cluster'>;
  readonly acceptedBytes: Counter<'cluster'>;
  /** Lines dropped for good, by shared discard reason. */
  readonly discardedLines: Counter<'reason'>;
  readonly discardedBytes: Counter<'reason'>;
}

const P = 'k8s_logs_aggregator_loki_push_';

export function pushMetrics(registry: Registry): PushMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    (registry.getSingleMetric(`${P}${name}`) as Counter<L> | undefined) ??
    new Counter({ name: `${P}${name}`, help, labelNames, registers: [registry] });
  return {
    acceptedLines: counter('accepted_lines_total', 'Loki push lines stored (created or already stored), by cluster.', [
      'cluster',
    ]),
    acceptedBytes: counter('accepted_bytes_total', 'UTF-8 bytes of the Loki push lines stored, by cluster.', [
      'cluster',
    ]),
    discardedLines: counter(
      'discarded_lines_total',
      'Loki push lines dropped for good (the push was answered 400), by reason; a body that cannot be decoded counts no lines.',
      ['reason'],
    ),
    discardedBytes: counter(
      'discarded_bytes_total',
      'Bytes of Loki push lines dropped for good, by reason; a body that cannot be decoded counts its decompressed size as invalid_json / invalid_record.',
      ['reason'],
    ),
  };
}
