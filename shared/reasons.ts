/**
 * The one vocabulary of discard and rejection reasons, shared by the agent's and the
 * aggregator's logs, metric labels (`reason="…"`) and API responses. Raw error text never
 * becomes a label: map it to one of these first. Adding a reason is an API change.
 */
export const DiscardReasons = [
  // agent: reading and parsing
  'parse_failed', // line kept as raw message, counted (not a discard by itself)
  'line_truncated', // over maxLineBytes, tail cut off
  'line_split', // over maxLineBytes, split into several records
  'partial_flushed', // CRI/docker partial never completed, flushed by timeout or cap
  'multiline_capped', // multiline merge hit its cap and was flushed early
  'file_unreadable',
  'file_deleted',
  // agent: collection config
  'excluded_by_annotation',
  'excluded_by_config',
  'below_min_level',
  'rate_limited',
  // aggregator: ingest validation and storage
  'invalid_json',
  'invalid_record',
  'record_too_large',
  'cluster_mismatch',
  'too_old', // timestamp before the acceptance window (aggregator config ingest.maxRecordAgeMs)
  'too_new', // timestamp after the acceptance window (ingest.maxRecordAheadMs)
  'mapping_rejected',
  // No longer produced: a closed day index is the store's refusal, answered 503 so the
  // agent resends. Kept so older agents' and dashboards' label values stay valid.
  'index_closed',
] as const;

export type DiscardReason = (typeof DiscardReasons)[number];

export function isDiscardReason(value: string): value is DiscardReason {
  return (DiscardReasons as readonly string[]).includes(value);
}
