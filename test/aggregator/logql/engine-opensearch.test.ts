/**
 * The engine case table (engine-cases.ts) on real OpenSearch: the table's records go
 * through the ingest path's validation (decodeBatch) and the aggregator's BulkWriter into
 * day indices made from the product's template, and every case runs through `runQuery`
 * over the OpenSearchLogStore twice — with the store's metric push-down (aggregateWindows,
 * used wherever metric-push-down.ts allows it) and with `select` only (in process) — and
 * must give exactly the answers the in-memory store gives (engine.test.ts).
 * Indexed once, refreshed explicitly; no sleeps.
 */
import t from 'tap';
import { OpenSearchLogStore } from '../../../aggregator/logql/opensearch-store.ts';
import type { LogStore } from '../../../aggregator/logql/store.ts';
import { configWith, indexSettingsOf } from '../../../aggregator/config.ts';
import { createOpenSearchClient } from '../../../aggregator/store/opensearch.ts';
import { bootstrapStore } from '../../../aggregator/store/bootstrap.ts';
import { BulkWriter } from '../../../aggregator/store/bulk-writer.ts';
import { decodeBatch } from '../../../aggregator/routes/ingest/decode-batch.ts';
import { UNLIMITED_SCOPE } from '../../../aggregator/http/scope.ts';
import { formatNanos } from '../../../shared/time.ts';
import { ndjson } from '../../helpers/records.ts';
import { openSearchUrl, uniquePrefix } from '../../helpers/services.ts';
import { ENGINE_CASES, at, caseRunner, engineRecords } from './engine-cases.ts';

/** Cases that cannot run on this store, and why (none so far). */
const SKIP_ON_OPENSEARCH: Record<string, string> = {};

const url = await openSearchUrl(t);
const prefix = uniquePrefix('engine-os');
const client = createOpenSearchClient({
  ...configWith({}).opensearch,
  url,
  username: undefined,
  password: undefined,
  requestTimeoutMs: 30_000,
  indexPrefix: prefix,
  shards: 1,
  replicas: 0,
});
t.teardown(async () => {
  await fetch(`${url}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
  await client.close();
});
await bootstrapStore(client, {
  indexPrefix: prefix,
  index: { ...indexSettingsOf(configWith({}).opensearch), shards: 1, replicas: 0 },
});

// The table's timestamps are seconds after the epoch: the acceptance window covers them.
const records = engineRecords();
const batch = decodeBatch(ndjson(records), 'c1', {
  maxRecordBytes: 1 << 20,
  oldest: formatNanos(0n),
  newest: formatNanos(at(3600)),
});
if (batch.rejections.length > 0 || batch.records.length !== records.length)
  throw new Error(`seed rejected: ${JSON.stringify(batch.rejections)}`);
const outcomes = await new BulkWriter(client, prefix).write(batch.records, batch.raw);
const notCreated = outcomes.filter((o) => o.kind !== 'created');
if (notCreated.length > 0) throw new Error(`seed not stored: ${JSON.stringify(notCreated[0])}`);
await client.indices.refresh({ index: `${prefix}-*` });

const os = new OpenSearchLogStore({ client, indexPrefix: prefix, scope: UNLIMITED_SCOPE });
let pushedAnswers = 0;
const pushing: LogStore = {
  select: (req) => os.select(req),
  aggregateWindows: async (req) => {
    const r = await os.aggregateWindows(req);
    if (r) pushedAnswers++;
    return r;
  },
};
/** The same store without its aggregation: every metric query is evaluated in process. */
const inProcess: LogStore = { select: (req) => os.select(req) };

for (const c of ENGINE_CASES) {
  const skip = SKIP_ON_OPENSEARCH[c.name];
  t.test(c.name, skip ? { skip } : {}, async (t) => {
    await t.test('with the metric push-down', (t) => c.run(t, caseRunner(pushing)));
    await t.test('in process over select', (t) => c.run(t, caseRunner(inProcess)));
  });
}

t.test('the metric push-down answered some of the cases (not vacuous)', async (t) => {
  t.ok(pushedAnswers > 0, `${pushedAnswers} range aggregations aggregated by OpenSearch`);
});
