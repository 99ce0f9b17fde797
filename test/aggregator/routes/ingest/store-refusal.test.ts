import t from 'tap';
import {
  classifyIngestStoreFailure,
  itemRetryVerdict,
  verdictError,
} from '../../../../aggregator/routes/ingest/store-refusal.ts';
import type { ItemRetryCause } from '../../../../aggregator/store/bulk-writer.ts';

t.test("a request-level store failure is never the batch's fault", async (t) => {
  const facts = (status: number | undefined, type?: string, transport = false) => ({ status, type, transport });
  const cases: Array<[string, 'create_index' | 'bulk', ReturnType<typeof facts>, string, string?]> = [
    // 00:00 UTC: cluster.max_shards_per_node reached, the new day index is refused.
    ['shard limit on create', 'create_index', facts(400, 'validation_exception'), 'refused', 'index_create_refused'],
    [
      'bad settings on create',
      'create_index',
      facts(400, 'illegal_argument_exception'),
      'refused',
      'index_create_refused',
    ],
    ['create-index block', 'create_index', facts(403, 'cluster_block_exception'), 'refused', 'cluster_block'],
    [
      'read-only-allow-delete (disk watermark)',
      'bulk',
      facts(429, 'cluster_block_exception'),
      'refused',
      'cluster_block',
    ],
    ['closed index', 'create_index', facts(400, 'index_closed_exception'), 'refused', 'index_closed'],
    ['auto-create off, index gone', 'bulk', facts(404, 'index_not_found_exception'), 'refused', 'index_missing'],
    ['request too large', 'bulk', facts(413), 'refused', 'request_too_large'],
    ['other 4xx on bulk', 'bulk', facts(400, 'illegal_argument_exception'), 'refused', 'rejected'],
    ['security refusal', 'bulk', facts(403, 'security_exception'), 'refused', 'rejected'],
    ['push-back', 'bulk', facts(429, 'es_rejected_execution_exception'), 'busy'],
    ['push-back on create', 'create_index', facts(429, 'process_cluster_event_timeout_exception'), 'busy'],
    ['server error', 'bulk', facts(500, 'exception'), 'unavailable'],
    ['no master', 'create_index', facts(503, 'master_not_discovered_exception'), 'unavailable'],
    ['connection refused', 'bulk', facts(undefined, undefined, true), 'unavailable'],
    ['not a store error', 'bulk', facts(undefined), 'internal'],
  ];
  for (const [name, op, f, kind, cause] of cases) {
    const v = classifyIngestStoreFailure(op, f);
    t.equal(v.kind, kind, name);
    if (cause) t.equal((v as { cause?: string }).cause, cause, `${name}: cause`);
  }
});

t.test('per-item retries: push-back is 429, a refusal is 503 with its cause', async (t) => {
  const cases: Array<[ItemRetryCause[], string, string?]> = [
    [['busy'], 'busy'],
    [['unavailable', 'busy'], 'unavailable'],
    [['busy', 'index_closed'], 'refused', 'index_closed'],
    [['blocked'], 'refused', 'cluster_block'],
    [['index_missing'], 'refused', 'index_missing'],
    [['refused'], 'refused', 'rejected'],
  ];
  for (const [causes, kind, cause] of cases) {
    const v = itemRetryVerdict(new Set(causes));
    t.equal(v.kind, kind, causes.join(','));
    if (cause) t.equal((v as { cause?: string }).cause, cause);
  }
});

t.test('verdicts become retryable answers with Retry-After; only a bug is a 500', async (t) => {
  const cases: Array<[Parameters<typeof verdictError>[0], number, string]> = [
    [{ kind: 'busy' }, 429, 'store_busy'],
    [{ kind: 'unavailable' }, 503, 'store_unavailable'],
    [{ kind: 'refused', cause: 'index_create_refused' }, 503, 'store_refused'],
  ];
  for (const [v, status, code] of cases) {
    const e = verdictError(v, undefined);
    t.equal(e.status, status, code);
    t.equal(e.code, code);
    t.ok((e.retryAfterSeconds ?? 0) > 0, `${code}: Retry-After`);
    t.notMatch(e.message, /exception/, 'no store internals in the message');
  }
  t.equal(verdictError({ kind: 'internal' }, undefined).status, 500);
});
