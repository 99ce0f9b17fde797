// GET /health's `s3` component on the real S3 server, reached through a TCP gate the test can
// close: every bucket an enabled archive policy writes to is probed; an unreachable one makes
// S3 down and the system degraded (200), never down (ingest and search need no S3).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { ingest, ndjson } from '../../helpers/records.ts';
import { s3Endpoint } from '../../helpers/services.ts';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { startTcpGate } from '../../helpers/tcp-gate.ts';
import { ensureBucket } from '../../../dev/s3/s3-server.ts';
import { apiCaller, dayRecords } from '../../helpers/archive-fixture.ts';

t.test(
  'GET /health: s3 probes the buckets of enabled policies; one not answering is down, the system degraded',
  async (t) => {
    const s3 = await s3Endpoint(t);
    const bucket = `t-${randomBytes(5).toString('hex')}`;
    await ensureBucket(s3, bucket);
    const target = new URL(s3.endpoint);
    const gate = await startTcpGate({ host: target.hostname, port: Number(target.port) });
    t.teardown(() => gate.close());
    const agg = await startTestAggregator(t, {
      name: 'arch-health',
      archive: {
        s3Endpoint: `http://127.0.0.1:${gate.port}`,
        s3Region: s3.region,
        s3AccessKeyId: s3.accessKeyId,
        s3SecretAccessKey: s3.secretAccessKey,
        s3ForcePathStyle: true,
        // No scheduled run during the test: health alone is under test.
        scheduleTickMs: 3_600_000,
      },
    });
    t.equal(
      (await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(dayRecords('alpha', 'web', 3, 5)))).status,
      200,
    );
    await agg.refresh();
    const admin = await agg.createToken({ name: 'admin', scopes: ['admin'] });
    const alphaOnly = await agg.createToken({ name: 'alpha', scopes: ['logs:read'], clusters: ['alpha'] });
    const { call } = apiCaller(agg.url, admin);
    const s3Of = async (tok = admin) => {
      const res = await call('GET', '/health', undefined, tok);
      return {
        status: res.status,
        overall: res.body.status,
        s3: res.body.components.find((c: { name: string }) => c.name === 's3'),
      };
    };

    const none = await s3Of();
    t.match(none.s3, {
      status: 'ok',
      critical: false,
      reason: 'no enabled archive policy: S3 is not in use',
      details: { buckets: [] },
    });

    const policy = (name: string, enabled: boolean) => ({
      name,
      enabled,
      selection: { clusters: ['alpha'] },
      schedule: { age_days: 1 },
      destination: { bucket, prefix: name },
    });
    t.equal((await call('POST', '/archive/policies', policy('paused', false))).status, 201);
    t.match((await s3Of()).s3, { status: 'ok', reason: /no enabled archive policy/ }, 'a disabled policy needs no S3');

    t.equal((await call('POST', '/archive/policies', policy('nightly', true))).status, 201);
    t.equal((await call('POST', '/archive/policies', policy('weekly', true))).status, 201);
    const up = await s3Of();
    t.match(up.s3, {
      status: 'ok',
      reason: '1 archive bucket(s) answering',
      details: { buckets: [{ bucket, reachable: true, policies: ['nightly', 'weekly'] }] },
    });
    t.equal(up.s3.details.buckets.length, 1, 'one probe per bucket however many policies share it');

    await gate.refuse();
    const down = await s3Of();
    t.equal(down.status, 200, 'S3 is not critical: the API still serves');
    t.equal(down.overall, 'degraded');
    t.match(down.s3, {
      status: 'down',
      reason: `1 of 1 archive bucket(s) not answering: bucket "${bucket}": unreachable (policies nightly, weekly)`,
      details: { buckets: [{ bucket, reachable: false, problem: 'unreachable' }] },
    });

    await gate.open();
    t.match((await s3Of()).s3, { status: 'ok', reason: '1 archive bucket(s) answering' }, 'answering again');
    t.notOk((await s3Of(alphaOnly)).s3, 'a cluster-limited token gets no s3 (policies and buckets span clusters)');
  },
);
