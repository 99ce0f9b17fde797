import t from 'tap';
import { ConfigError, loadConfig } from '../../aggregator/config.ts';

const DAY = 86_400_000;

t.test('the ingest time window defaults to 7 days back, never more than retention keeps', async (t) => {
  t.equal(loadConfig([], {}).ingest.maxRecordAgeMs, 7 * DAY);
  t.equal(loadConfig([], {}).ingest.maxRecordAheadMs, 600_000);
  t.equal(
    loadConfig([], { K8S_LOGS_RETENTION_DAYS: '3' }).ingest.maxRecordAgeMs,
    3 * DAY,
    'shorter retention, shorter window',
  );
  t.equal(loadConfig([], { K8S_LOGS_RETENTION_DAYS: '30' }).ingest.maxRecordAgeMs, 7 * DAY);
  t.equal(
    loadConfig([], { K8S_LOGS_RETENTION_DAYS: '30', K8S_LOGS_INGEST_MAX_RECORD_AGE_MS: String(30 * DAY) }).ingest
      .maxRecordAgeMs,
    30 * DAY,
  );
  t.throws(
    () => loadConfig([], { K8S_LOGS_RETENTION_DAYS: '3', K8S_LOGS_INGEST_MAX_RECORD_AGE_MS: String(4 * DAY) }),
    ConfigError,
    'a window past retention is refused',
  );
});

t.test('in-flight and bulk byte limits have defaults and are checked', async (t) => {
  const c = loadConfig([], {});
  t.equal(c.ingest.maxInFlightBytes, 128 << 20);
  t.equal(c.ingest.maxBulkBytes, 10 << 20);
  t.throws(
    () => loadConfig([], { K8S_LOGS_INGEST_MAX_INFLIGHT_BYTES: String(1 << 20) }),
    /at least K8S_LOGS_INGEST_MAX_INFLATED_BYTES/,
  );
});

t.test('log index settings and bulk bounds come from the environment, all problems reported together', async (t) => {
  const d = loadConfig([], {});
  t.same(
    {
      refresh: d.opensearch.refreshIntervalMs,
      durability: d.opensearch.translogDurability,
      codec: d.opensearch.codec,
      sort: d.opensearch.sortByTime,
      text: d.opensearch.messageText,
      bulks: d.ingest.maxConcurrentBulks,
      queued: d.ingest.maxQueuedBulks,
    },
    { refresh: 1000, durability: 'request', codec: 'best_compression', sort: true, text: 'text', bulks: 4, queued: 16 },
    'defaults keep the acknowledged-means-durable contract',
  );
  const c = loadConfig([], {
    K8S_LOGS_REFRESH_INTERVAL_MS: '5000',
    K8S_LOGS_TRANSLOG_DURABILITY: 'async',
    K8S_LOGS_INDEX_CODEC: 'default',
    K8S_LOGS_INDEX_SORT: 'false',
    K8S_LOGS_MESSAGE_TEXT: 'match_only_text',
    K8S_LOGS_BULK_CONCURRENCY: '8',
    K8S_LOGS_BULK_MAX_QUEUED: '0',
  });
  t.equal(c.opensearch.refreshIntervalMs, 5000);
  t.equal(c.opensearch.translogDurability, 'async');
  t.equal(c.opensearch.codec, 'default');
  t.equal(c.opensearch.sortByTime, false);
  t.equal(c.opensearch.messageText, 'match_only_text');
  t.equal(c.ingest.maxConcurrentBulks, 8);
  t.equal(c.ingest.maxQueuedBulks, 0);
  try {
    loadConfig([], { K8S_LOGS_TRANSLOG_DURABILITY: 'never', K8S_LOGS_INDEX_SORT: 'yes', K8S_LOGS_BULK_CONCURRENCY: '0' });
    t.fail('should throw');
  } catch (err) {
    t.type(err, ConfigError);
    t.equal((err as ConfigError).problems.length, 3, (err as ConfigError).message);
  }
});
