/**
 * A day index whose creation the store refuses is not asked for again on every batch
 * (aggregator/store/bulk-writer.ts `refusedRetryMs`): counted at the store, through the
 * recording proxy, on the real OpenSearch. The refusal is made local to this test: an
 * alias with the day index's name exists, so OpenSearch refuses to create an index of
 * that name (`invalid_index_name_exception`), as it refuses one past the shard limit.
 */
import t from 'tap';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../helpers/records.ts';

const REFUSED_RETRY_MS = 5000; // the BulkWriter default

t.test('batches for a refused day index: 503 each, one create request per retry window', async (t) => {
  const agg = await startTestAggregator(t, { name: 'daybackoff', storeProxy: true });
  const proxy = agg.storeProxy!;
  const cluster = 'backoff';
  const token = await agg.ingestToken(cluster);
  const sample = record({ cluster });
  const day = sample.timestamp.slice(0, 10).replaceAll('-', '.');
  const dayIndex = `${agg.prefix}-${cluster}-${day}`;
  // Squat the day index's name with an alias (on an index of this test's prefix).
  const squat = `${agg.prefix}-squat`;
  const made = await fetch(`${agg.opensearchUrl}/${squat}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ aliases: { [dayIndex]: {} } }),
  });
  t.equal(made.status, 200, 'alias squatting the day index name created');
  t.teardown(() => fetch(`${agg.opensearchUrl}/${squat}`, { method: 'DELETE' }).catch(() => undefined));

  const creates = (): number =>
    proxy.exchanges.filter((x) => x.method === 'PUT' && x.path.split('?')[0] === `/${dayIndex}`).length;
  const BATCHES = 6;
  const started = Date.now();
  for (let i = 0; i < BATCHES; i++) {
    const res = await ingest(agg.url, token, ndjson([record({ cluster, timestamp: sample.timestamp })]));
    t.equal(res.status, 503, `batch ${i}: 503 (the store's refusal, never the batch's fault)`);
    t.ok(res.headers.get('retry-after'), `batch ${i}: Retry-After`);
  }
  const elapsed = Date.now() - started;
  // Without the negative cache every batch asks the store (BATCHES creates). With it, one
  // per window; a slow machine may span more windows, which the bound allows for.
  const allowed = 1 + Math.floor(elapsed / REFUSED_RETRY_MS);
  t.ok(creates() >= 1, 'the store was asked');
  t.ok(
    creates() <= allowed,
    `${creates()} create requests for ${BATCHES} batches in ${elapsed} ms (at most ${allowed})`,
  );
  t.ok(allowed < BATCHES, 'the batches came faster than the window (else this proves nothing)');
});
