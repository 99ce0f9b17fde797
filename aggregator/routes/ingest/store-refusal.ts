/**
 * Whose fault is a failed ingest write (DESIGN.md §5: the use case maps store errors, the
 * store adapter never picks a status). Pure and table-tested.
 *
 * At request level nothing is the batch's fault: the records were validated and the
 * request was built by us. A store that cannot take the batch now — day index creation
 * refused (e.g. `cluster.max_shards_per_node` reached, typically at 00:00 UTC when every
 * cluster's new day index is created), a cluster or index block, a closed or missing
 * index — is a refusal: `503` + `Retry-After`, counted by cause, and the agent resends.
 * Answering `400` instead would make the agent bisect the batch and discard every record.
 * A record's own shape is judged per item (store/bulk-writer.ts `classifyBulkItem`).
 */
import { AppError } from '../../errors.ts';
import type { StoreErrorFacts } from '../../store/opensearch.ts';
import type { ItemRetryCause } from '../../store/bulk-writer.ts';

/** Bounded vocabulary: metric label values of `ingest_store_refusals_total{cause}`. */
export type StoreRefusalCause =
  'index_create_refused' | 'cluster_block' | 'index_closed' | 'index_missing' | 'request_too_large' | 'rejected';

export type IngestStoreVerdict =
  { kind: 'busy' } | { kind: 'unavailable' } | { kind: 'refused'; cause: StoreRefusalCause } | { kind: 'internal' };

/** Seconds: push-back clears fast; a refusal needs an operator or the next retention run. */
export const RETRY_AFTER_SECONDS = { busy: 2, unavailable: 5, refused: 10 } as const;

export function classifyIngestStoreFailure(
  operation: 'create_index' | 'bulk',
  facts: StoreErrorFacts,
): IngestStoreVerdict {
  const { status, type } = facts;
  if (facts.transport) return { kind: 'unavailable' };
  if (status === undefined) return { kind: 'internal' };
  if (type === 'cluster_block_exception') return { kind: 'refused', cause: 'cluster_block' };
  if (type === 'index_closed_exception') return { kind: 'refused', cause: 'index_closed' };
  if (type === 'index_not_found_exception') return { kind: 'refused', cause: 'index_missing' };
  if (status === 429) return { kind: 'busy' };
  if (status === 413) return { kind: 'refused', cause: 'request_too_large' };
  if (status >= 500) return { kind: 'unavailable' };
  if (status >= 400)
    return { kind: 'refused', cause: operation === 'create_index' ? 'index_create_refused' : 'rejected' };
  return { kind: 'internal' };
}

/** Per-item retries of one batch, to the answer: push-back is 429, anything else a refusal (503). */
export function itemRetryVerdict(causes: ReadonlySet<ItemRetryCause>): IngestStoreVerdict {
  if (causes.has('index_closed')) return { kind: 'refused', cause: 'index_closed' };
  if (causes.has('blocked')) return { kind: 'refused', cause: 'cluster_block' };
  if (causes.has('index_missing')) return { kind: 'refused', cause: 'index_missing' };
  if (causes.has('refused')) return { kind: 'refused', cause: 'rejected' };
  if (causes.has('unavailable')) return { kind: 'unavailable' };
  return { kind: 'busy' };
}

export function verdictError(verdict: IngestStoreVerdict, cause: unknown): AppError {
  switch (verdict.kind) {
    case 'busy':
      return new AppError('AGG_ERR_STORE_BUSY', 'indexing: the store is busy; send the batch again', {
        retryAfterSeconds: RETRY_AFTER_SECONDS.busy,
        cause,
      });
    case 'unavailable':
      return new AppError('AGG_ERR_STORE_UNAVAILABLE', 'indexing: the store is unavailable; send the batch again', {
        retryAfterSeconds: RETRY_AFTER_SECONDS.unavailable,
        cause,
      });
    case 'refused':
      return new AppError(
        'AGG_ERR_STORE_REFUSED',
        `indexing: the store refused the batch (${verdict.cause}); nothing is wrong with it, send it again`,
        {
          retryAfterSeconds: RETRY_AFTER_SECONDS.refused,
          cause,
        },
      );
    case 'internal':
      return new AppError('AGG_ERR_INTERNAL', 'indexing failed', { cause });
  }
}
