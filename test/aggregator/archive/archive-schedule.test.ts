// Scheduled archive runs on the real OpenSearch and S3: an enabled policy runs by itself
// through the job runner; of replicas racing for a period exactly one creates its job; a
// period whose predecessor still runs waits. Synchronised on job documents, not on time.
import t from 'tap';
import { ingest, ndjson } from '../../helpers/records.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { dayRecords, startArchivingAggregator } from '../../helpers/archive-fixture.ts';
import { ArchiveScheduler, scheduledRunId } from '../../../aggregator/jobs/archive-schedule.ts';
import type { ArchivePolicy } from '../../../aggregator/archive/archive-policy.ts';

t.test('scheduledRunId names one run per policy and period', async (t) => {
  const min = 60_000;
  t.equal(scheduledRunId('p', 5, 0), 'archive-p-0');
  t.equal(scheduledRunId('p', 5, 5 * min - 1), 'archive-p-0');
  t.equal(scheduledRunId('p', 5, 5 * min), 'archive-p-1');
  t.equal(scheduledRunId('p', 5, 5 * min, -1), 'archive-p-0');
  t.equal(scheduledRunId('p', 1440, 3 * 1440 * min + 7), 'archive-p-3');
});

t.test('an enabled policy runs by itself on its interval, once per period across replicas', async (t) => {
  const { bucketName, agg } = await startArchivingAggregator(t, 'arch-sched', { scheduleTickMs: 100 });
  const recs = [...dayRecords('alpha', 'web', 3, 20), ...dayRecords('alpha', 'api', 2, 10)];
  t.equal((await ingest(agg.url, await agg.ingestToken('alpha'), ndjson(recs))).status, 200);
  await agg.refresh();
  const token = await agg.createToken({ name: 'archiver', scopes: ['archive'] });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${agg.url}/v1/k8s/logs${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, body: (text ? JSON.parse(text) : null) as any };
  };
  const policy = (name: string, enabled: boolean) => ({
    name,
    enabled,
    selection: { clusters: ['alpha'] },
    schedule: { age_days: 1, interval_minutes: 5 },
    destination: { bucket: bucketName, prefix: name },
  });
  // The disabled one first: a tick visits policies oldest first, so once the enabled
  // policy's run exists, the disabled one has been passed over in the same tick.
  const off = await call('POST', '/archive/policies', policy('off', false));
  t.equal(off.status, 201, off.text);
  const on = await call('POST', '/archive/policies', policy('on', true));
  t.equal(on.status, 201, on.text);
  const pid = on.body.id as string;

  agg.app.startJobs();
  const run = await waitFor(
    async () => {
      const j = (await call('GET', `/archive/jobs?policy_id=${pid}`)).body.jobs?.[0];
      return j && ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
    },
    { what: 'the scheduled run of the policy to finish', timeoutMs: 120_000, intervalMs: 200 },
  );
  t.equal(run.status, 'succeeded', JSON.stringify(run.error));
  t.match(run.id, new RegExp(`^archive-${pid}-\\d+$`), 'the run carries its period in its id');
  t.equal(run.result.records, recs.length, 'the scheduled run archived the policy');
  t.same(
    (await call('GET', `/archive/jobs?policy_id=${off.body.id}`)).body.jobs,
    [],
    'a disabled policy does not run by itself',
  );

  // Two replicas ticking the same period (a clock far from the app's own schedule).
  const policies = async () => [on.body as ArchivePolicy, off.body as ArchivePolicy];
  let clock = Date.UTC(2030, 0, 1);
  const replica = () =>
    new ArchiveScheduler({
      submit: (type, params, o) => agg.app.jobs.submit(type, params, o),
      get: (id) => agg.app.jobs.get(id),
      policies,
      tickMs: 60_000,
      now: () => clock,
      log: { warn: () => {} },
    });
  const a = replica();
  const b = replica();
  const first = await Promise.all([a.tick(), b.tick()]);
  const firstId = scheduledRunId(pid, 5, clock);
  t.same(first.flat(), [firstId], 'exactly one of the replicas created the period’s job');
  const j1 = await waitFor(
    async () => {
      const j = await agg.app.jobs.get(firstId);
      return j && j.doc.status === 'succeeded' ? j : undefined;
    },
    { what: 'the raced run to be run by the job runner', timeoutMs: 120_000, intervalMs: 200 },
  );
  t.equal(j1?.doc.attempts, 1, 'claimed once');
  t.same([...(await a.tick()), ...(await b.tick())], [], 'the same period runs once');

  // Next period: its run is created; while it is pending, the period after waits for it.
  clock += 5 * 60_000;
  const secondId = scheduledRunId(pid, 5, clock);
  await agg.app.jobs.stop(); // nothing claims it now: it stays pending
  t.same(await a.tick(), [secondId]);
  clock += 5 * 60_000;
  t.same(await b.tick(), [], 'a period whose predecessor has not finished waits');
  t.equal((await agg.app.jobs.get(secondId))?.doc.status, 'pending');
  await agg.app.jobs.cancel(secondId);
  t.same(await b.tick(), [scheduledRunId(pid, 5, clock)], 'and is submitted once the predecessor ended');
});
