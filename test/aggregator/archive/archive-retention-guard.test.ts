// Retention never deletes a day that an enabled archive policy still has to archive (real
// OpenSearch and S3): the day is held until the policy's run has archived it, late records
// hold it again, days no policy covers go by age, and a failing guard deletes nothing.
import t from 'tap';
import { retentionHandler } from '../../../aggregator/jobs/retention-job.ts';
import { archiveJobHandler } from '../../../aggregator/jobs/archive-job.ts';
import { archiveRetentionGuard, unarchivedNamespaces } from '../../../aggregator/archive/retention-guard.ts';
import { dayRecords, jobContext, policyFor, startArchiveFixture } from '../../helpers/archive-fixture.ts';

t.test('unarchivedNamespaces: a namespace holds when the store has more than the archive', async (t) => {
  const m = (o: Record<string, number>) => new Map(Object.entries(o));
  t.same(unarchivedNamespaces(m({ a: 3, b: 2 }), m({ a: 3, b: 2 })), []);
  t.same(unarchivedNamespaces(m({ a: 3, b: 2 }), m({ a: 3 })), [{ namespace: 'b', missing: 2 }]);
  t.same(unarchivedNamespaces(m({ a: 4 }), m({ a: 3, c: 9 })), [{ namespace: 'a', missing: 1 }]);
  t.same(unarchivedNamespaces(m({ a: 3 }), m({ a: 5 })), [], 'an archive holding more (sealed parts) does not hold');
});

t.test('retention holds a day until the policy that must archive it has', async (t) => {
  const f = await startArchiveFixture(t, { name: 'ret-guard' });
  const silent = { info: () => {}, warn: () => {} };
  const policy = policyFor(f, { selection: { clusters: ['alpha'], namespaces: ['web'] } });
  const disabled = { ...policyFor(f, { id: 'pol-off', selection: { clusters: ['gamma'] } }), enabled: false };
  await f.write([
    ...dayRecords('alpha', 'web', 10, 12),
    ...dayRecords('alpha', 'api', 10, 5),
    ...dayRecords('alpha', 'web', 9, 4),
    ...dayRecords('beta', 'web', 10, 3),
    ...dayRecords('gamma', 'web', 10, 3),
  ]);
  const guard = archiveRetentionGuard({
    client: f.client,
    catalog: f.catalog,
    policies: async () => [policy, disabled],
  });
  const retention = (guards = [guard]) =>
    retentionHandler({ client: f.client, indexPrefix: f.prefix, log: silent, guards });
  const runRetention = async (guards = [guard]) => {
    const { ctx } = jobContext('retention-1', { retention_days: 7 });
    return (await retention(guards).run(ctx as never)) as {
      deleted: string[];
      held: Array<{ index: string; reason: string }>;
    };
  };
  const day = (daysAgo: number) => dayRecords('alpha', 'x', daysAgo, 1)[0]!.timestamp.slice(0, 10).replaceAll('-', '.');
  const alpha10 = `${f.prefix}-alpha-${day(10)}`;
  const alpha9 = `${f.prefix}-alpha-${day(9)}`;

  // A guard that fails deletes nothing.
  const failing = await runRetention([
    async () => {
      throw new Error('catalog unreachable');
    },
  ]);
  t.same(failing.deleted, []);
  t.equal(failing.held.length, 4);
  t.ok(failing.held.every((h) => h.reason.startsWith('guard_failed')));

  // Not archived yet: alpha's days are held; beta (no policy) and gamma (disabled policy) go by age.
  const first = await runRetention();
  t.same(first.deleted.sort(), [`${f.prefix}-beta-${day(10)}`, `${f.prefix}-gamma-${day(10)}`].sort());
  t.same(first.held.map((h) => h.index).sort(), [alpha10, alpha9].sort());
  t.match(first.held[0]!.reason, /^awaiting_archive: policy pol-1 has not archived/);
  t.ok((await f.dayIndices()).includes(alpha10), 'the unarchived day is still in the store');

  // The policy archives (web only: api is not the policy's to archive, so it does not hold).
  const archive = archiveJobHandler({
    client: f.client,
    indexPrefix: f.prefix,
    bucket: () => f.bucket,
    policy: async () => policy,
    catalog: f.catalog,
  });
  const { ctx } = jobContext('archive-1', { policy_id: policy.id });
  await archive.run(ctx);
  await f.refresh();

  // A late record for the 9th day: that day is held again until the next run.
  await f.write(dayRecords('alpha', 'web', 9, 1));
  const second = await runRetention();
  t.same(second.deleted, [alpha10], 'the archived day goes');
  t.same(
    second.held.map((h) => h.index),
    [alpha9],
    'the day with a late record stays',
  );
  t.match(second.held[0]!.reason, /has not archived 1 records/);

  await archive.run(jobContext('archive-2', { policy_id: policy.id }).ctx);
  await f.refresh();
  const third = await runRetention();
  t.same(third.deleted, [alpha9], 'once archived again, it goes');
  t.same(third.held, []);
  t.same(await f.dayIndices(), []);
});
