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
