// What a policy selects beyond cluster and namespace (levels, pod labels) and how long its
// objects stay in S3 (`after.s3_retention_days`), on the real OpenSearch and the real local
// S3 server. Archived objects are read back with the AWS SDK and gunzip.
import t from 'tap';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { archiveRetentionGuard } from '../../../aggregator/archive/retention-guard.ts';
import { isPastArchiveRetention } from '../../../aggregator/archive/archive-selection.ts';
import type { ArchivePolicy } from '../../../aggregator/archive/archive-policy.ts';
import type { LogRecord } from '../../../shared/record.ts';
import {
  archiveHandlerFor,
  dayOf,
  dayRecords,
  jobContext,
  policyFor,
  startArchiveFixture,
  type ArchiveFixture,
} from '../../helpers/archive-fixture.ts';

const DAY_MS = 86_400_000;
const asLines = (records: LogRecord[]) => records.map((r) => JSON.stringify(r)).sort();

const handler = (f: ArchiveFixture, policy: ArchivePolicy, now?: () => number) =>
  archiveHandlerFor(f, policy, now ? { now } : {});

async function keysUnder(f: ArchiveFixture, prefix: string): Promise<string[]> {
  const res = await f.sdk.send(new ListObjectsV2Command({ Bucket: f.bucketName, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

async function catalogRecords(f: ArchiveFixture, day: string): Promise<number> {
  await f.refresh();
  const res = await f.client.search({
    index: f.catalog.index,
    body: { size: 0, query: { term: { day } }, aggs: { n: { sum: { field: 'records' } } } } as never,
  });
  return (res.body.aggregations as { n: { value: number } }).n.value;
}

t.test('isPastArchiveRetention: whole UTC days after the day ends; null keeps for ever', async (t) => {
  const day = '2026-03-10';
  const endOfDay = Date.parse('2026-03-11T00:00:00Z');
  t.notOk(isPastArchiveRetention(day, endOfDay + 30 * DAY_MS, null));
  t.notOk(isPastArchiveRetention(day, endOfDay + 3 * DAY_MS - 1, 3), 'a millisecond before 3 days after its end');
  t.ok(isPastArchiveRetention(day, endOfDay + 3 * DAY_MS, 3), '3 × 24 h after its end');
});

t.test('a level and label selection archives exactly the matching records', async (t) => {
  const f = await startArchiveFixture(t, { name: 'arch-select' });
  // dayRecords: every 7th record is `error`, even ones are `tier=web`.
  const mixed = [
    ...dayRecords('alpha', 'payments', 3, 70),
    ...dayRecords('alpha', 'web', 3, 35),
    ...dayRecords('alpha', 'payments', 2, 28),
  ];
  // A day on which every record matches: this one may be deleted after verification.
  const allMatching = dayRecords('beta', 'payments', 3, 12, {
    level: 'error',
    labels: { app: 'payments', tier: 'web' },
  });
  await f.write([...mixed, ...allMatching]);
  const policy = policyFor(f, {
    selection: { levels: ['error'], labels: { tier: 'web' } },
    after: { delete_from_store: true },
  });
  const selected = (r: LogRecord) => r.level === 'error' && r.labels?.['tier'] === 'web';
  const expected = [...mixed, ...allMatching].filter(selected);
  t.ok(expected.length > allMatching.length && expected.length < mixed.length, 'the selection is a strict subset');

  const result = await handler(f, policy).run(jobContext('job-sel', { policy_id: policy.id }).ctx);
  t.equal(result['records'], expected.length, 'the job counts only selected records');
  t.same((await f.archivedLines()).sort(), asLines(expected), 'S3 holds exactly the selected records');

  const days = result['days'] as Record<string, { deleted: boolean; reason?: string; records?: number }>;
  t.same(days[`beta/${dayOf(3)}`], { deleted: true, records: allMatching.length }, 'the all-matching day goes');
  t.same(
    [days[`alpha/${dayOf(3)}`]?.reason, days[`alpha/${dayOf(2)}`]?.reason],
    ['index_holds_unselected_records', 'index_holds_unselected_records'],
    'days with unselected records (other levels, other tiers) stay',
  );
  const c = await f.client.count({ index: `${f.prefix}-alpha-*` });
  t.equal((c.body as { count: number }).count, mixed.length, 'every record of the kept days is still in the store');

  // A record that does not match, arriving for the archived day, is not archived.
  await f.write(dayRecords('alpha', 'payments', 3, 1, { level: 'info' }));
  const again = await handler(f, policy).run(jobContext('job-sel-2', { policy_id: policy.id }).ctx);
  t.equal(again['records'], expected.length - allMatching.length, 'the rerun finds only the kept days');
  t.same((await f.archivedLines()).sort(), asLines(expected), 'nothing unselected, nothing doubled');
});

t.test('s3_retention_days: the job expires partitions in whole days, and never rewrites them', async (t) => {
  const f = await startArchiveFixture(t, { name: 'arch-expire' });
  const day3 = [...dayRecords('alpha', 'payments', 3, 30), ...dayRecords('alpha', 'web', 3, 10)];
  const day2 = dayRecords('alpha', 'payments', 2, 20);
  await f.write([...day3, ...day2]);
  const policy = policyFor(f, { ageDays: 1, after: { s3_retention_days: 3 } });
  const realNow = Date.now();

  const first = await handler(f, policy, () => realNow).run(jobContext('job-e1', { policy_id: policy.id }).ctx);
  t.equal(first['expired_partitions'], 0, 'nothing is 3 days past its end yet');
  t.same((await f.archivedLines()).sort(), asLines([...day3, ...day2]));

  // One day later: day 3 ended 3 × 24 h ago (more), day 2 not yet.
  const later = realNow + DAY_MS;
  const second = await handler(f, policy, () => later).run(jobContext('job-e2', { policy_id: policy.id }).ctx);
  t.equal(second['expired_partitions'], 2, "both of day 3's partitions expire");
  t.same(await keysUnder(f, `archive/cluster=alpha/dt=${dayOf(3)}/`), [], 'objects and manifests of day 3 are gone');
  t.same(
    (await f.archivedLines()).sort(),
    asLines(day2),
    'day 2 is still archived; day 3 was not written again by the same run',
  );
  t.equal(await catalogRecords(f, dayOf(3)), 0, 'the catalog forgets the expired day');
  t.equal(await catalogRecords(f, dayOf(2)), day2.length);
  t.equal((await f.dayIndices()).length, 2, 'a keep policy leaves the store alone');

  const third = await handler(f, policy, () => later).run(jobContext('job-e3', { policy_id: policy.id }).ctx);
  t.equal(third['expired_partitions'], 0, 'an expiry is done once');
  t.equal(third['records'], day2.length, 'the expired day is not planned again');
  t.same(await keysUnder(f, `archive/cluster=alpha/dt=${dayOf(3)}/`), []);

  // Retention of the store must not hold a day for a policy that has already expired it
  // (the catalog no longer counts it, so holding would keep the day for ever); before its
  // S3 retention has passed, an unarchived record still holds it.
  const guardAt = (nowMs: number) =>
    archiveRetentionGuard({ client: f.client, catalog: f.catalog, policies: async () => [policy], now: () => nowMs });
  const index = { name: `${f.prefix}-alpha-${dayOf(3).replaceAll('-', '.')}`, cluster: 'alpha', day: dayOf(3) };
  t.equal(await guardAt(later)(index), undefined, 'past its S3 retention: not held');
  t.match(await guardAt(realNow)(index), /^awaiting_archive: policy pol-1 has not archived 40 records/);
});
