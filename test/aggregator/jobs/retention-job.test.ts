import t from 'tap';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import { indicesToDelete, ownedDayIndices, RetentionJob } from '../../../aggregator/jobs/retention-job.ts';
import { JobLeases, LeaseLostError, leaseAvailable } from '../../../aggregator/jobs/job-lease.ts';

t.test('indicesToDelete: a day goes once its end is retentionDays in the past', async (t) => {
  const p = 'k8s-logs';
  const names = [
    'k8s-logs-alpha-2026.03.01', 'k8s-logs-alpha-2026.03.02', 'k8s-logs-alpha-2026.03.03',
    'k8s-logs-alpha-2026.03.09', 'k8s-logs-alpha-2026.03.10', 'k8s-logs-beta-2025.12.31',
    'k8s-logs-alpha', 'k8s-logs-alpha-2026.3.1', 'other-alpha-2026.01.01', '.k8s-logs-jobs', 'k8s-logs-Bad_Cluster-2026.01.01',
  ];
  const cases: Array<[string, number, string[]]> = [
    // 7 days at noon on 10 March: days ending by 3 March 12:00 go; 3 March (ends 4 March 00:00) stays.
    ['2026-03-10T12:00:00Z', 7, ['k8s-logs-alpha-2026.03.01', 'k8s-logs-alpha-2026.03.02', 'k8s-logs-beta-2025.12.31']],
    // Exactly on the boundary: 3 March ended 7 × 24 h ago.
    ['2026-03-11T00:00:00Z', 7, ['k8s-logs-alpha-2026.03.01', 'k8s-logs-alpha-2026.03.02', 'k8s-logs-alpha-2026.03.03', 'k8s-logs-beta-2025.12.31']],
    ['2026-03-10T23:59:59.999Z', 7, ['k8s-logs-alpha-2026.03.01', 'k8s-logs-alpha-2026.03.02', 'k8s-logs-beta-2025.12.31']],
    // 1 day: yesterday is kept until today ends.
    ['2026-03-10T12:00:00Z', 1, ['k8s-logs-alpha-2026.03.01', 'k8s-logs-alpha-2026.03.02', 'k8s-logs-alpha-2026.03.03', 'k8s-logs-beta-2025.12.31']],
    ['2026-03-11T00:00:00Z', 1, ['k8s-logs-alpha-2026.03.01', 'k8s-logs-alpha-2026.03.02', 'k8s-logs-alpha-2026.03.03', 'k8s-logs-alpha-2026.03.09', 'k8s-logs-beta-2025.12.31']],
    ['2026-03-10T12:00:00Z', 3650, []],
  ];
  for (const [now, days, want] of cases) {
    t.same(indicesToDelete(names, new Date(now), days, p), want, `${now}, ${days} days`);
  }
  t.same(indicesToDelete(['k8s-logs-x-2026.01.01'], new Date('2026-03-10T00:00:00Z'), 7, 'k8s'), ['k8s-logs-x-2026.01.01'],
    'a shorter prefix parses the rest as the cluster: why the runner also requires the cluster alias');
});

t.test('ownedDayIndices keeps only day indices carrying their cluster alias', async (t) => {
  t.same(
    ownedDayIndices({
      'p-alpha-2026.01.01': { aliases: { 'p-alpha': {} } },
      'p-alpha-2026.01.02': { aliases: {} },
      'p-foo-bar-2026.01.01': { aliases: { 'p-foo-bar': {} } },
      'p-foo-bar-2026.01.02': { aliases: { 'p-foo': {} } },
      'p-alpha': { aliases: {} },
    }, 'p'),
    ['p-alpha-2026.01.01', 'p-foo-bar-2026.01.01'],
  );
});

t.test('leaseAvailable', async (t) => {
  const now = new Date('2026-03-10T12:00:00Z');
  t.equal(leaseAvailable(undefined, 'a', now), true, 'no document');
  t.equal(leaseAvailable({ job: 'j' }, 'a', now), true, 'never leased');
  t.equal(leaseAvailable({ job: 'j', owner: 'b', lease_expires_at: '2026-03-10T12:00:01Z' }, 'a', now), false, 'held by another');
  t.equal(leaseAvailable({ job: 'j', owner: 'b', lease_expires_at: '2026-03-10T12:00:00Z' }, 'a', now), true, 'expired at now');
  t.equal(leaseAvailable({ job: 'j', owner: 'a', lease_expires_at: '2026-03-10T13:00:00Z' }, 'a', now), true, 'own lease');
});

const agg = await startTestAggregator(t, { name: 'retention' });
const client = agg.app.services.opensearch;
const leases = new JobLeases(client, agg.prefix);
const silent = { info: () => {}, warn: () => {} };
const now = new Date('2026-03-10T12:00:00Z');

async function seedDays(days: Array<[string, string]>) {
  for (const cluster of new Set(days.map(([c]) => c))) {
    const token = await agg.ingestToken(cluster);
    const recs = days.filter(([c]) => c === cluster).map(([, day]) => record({ cluster, timestamp: `${day}T08:00:00.000000001Z` }));
    const res = await ingest(agg.url, token, ndjson(recs));
    if (res.status !== 200) throw new Error(`seed failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

async function indexNames(): Promise<string[]> {
  const res = await fetch(`${agg.opensearchUrl}/_cat/indices/${agg.prefix}-*?h=index&format=json`);
  return ((await res.json()) as Array<{ index: string }>).map((r) => r.index).sort();
}

t.test('deletes expired day indices of every cluster and keeps recent ones', async (t) => {
  await seedDays([['alpha', '2026-02-20'], ['alpha', '2026-03-02'], ['alpha', '2026-03-03'], ['alpha', '2026-03-10'], ['beta', '2026-03-01'], ['beta', '2026-03-09']]);
  // An index that looks like a day index but was not made by this aggregator (no alias).
  await fetch(`${agg.opensearchUrl}/${agg.prefix}-gamma-2026.01.01`, { method: 'PUT' });
  const deleted: string[] = [];
  const job = new RetentionJob({ client, leases, indexPrefix: agg.prefix, retentionDays: 7, owner: 'replica-a', log: silent, onDeleted: (i) => deleted.push(i) });
  const run = await job.runOnce(now);
  const p = agg.prefix;
  t.same(run, { status: 'ran', deleted: [`${p}-alpha-2026.02.20`, `${p}-alpha-2026.03.02`, `${p}-beta-2026.03.01`], failed: [] });
  t.same(deleted, [`${p}-alpha-2026.02.20`, `${p}-alpha-2026.03.02`, `${p}-beta-2026.03.01`]);
  t.same(await indexNames(), [`${p}-alpha-2026.03.03`, `${p}-alpha-2026.03.10`, `${p}-beta-2026.03.09`, `${p}-gamma-2026.01.01`]);
  const doc = await leases.read('retention');
  t.equal(doc?.doc.owner, 'replica-a');
  const released = Date.parse(doc?.doc.lease_expires_at ?? '');
  t.ok(released >= now.getTime() && released < now.getTime() + 60_000, 'released at the end of the run');
  t.same(doc?.doc.last_result?.['deleted'], run.status === 'ran' ? run.deleted : []);
  t.same(await job.runOnce(now), { status: 'ran', deleted: [], failed: [] }, 'a second run finds nothing to do');
});

t.test('a held lease keeps a second replica from running', async (t) => {
  await seedDays([['delta', '2026-01-05']]);
  const start = new Date(now.getTime() + 3_600_000); // after the previous test's runs
  const held = await leases.acquire('retention', 'replica-b', 60_000, start);
  t.equal(held.acquired, true);
  const job = new RetentionJob({ client, leases, indexPrefix: agg.prefix, retentionDays: 7, owner: 'replica-a', log: silent });
  t.same(await job.runOnce(new Date(start.getTime() + 30_000)), { status: 'skipped', reason: 'lease_held', holder: 'replica-b' });
  t.ok((await indexNames()).includes(`${agg.prefix}-delta-2026.01.05`), 'nothing deleted while another replica holds the lease');
  // The lease expires (replica-b died): replica-a takes over and runs.
  const later = new Date(start.getTime() + 61_000);
  const run = await job.runOnce(later);
  t.same(run, { status: 'ran', deleted: [`${agg.prefix}-delta-2026.01.05`], failed: [] });
  // replica-b comes back and tries to use its stale lease.
  if (held.acquired) await t.rejects(leases.renew(held.lease, 60_000, later), LeaseLostError);
});

t.test('of replicas racing for a lease, exactly one wins', async (t) => {
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => leases.acquire('race', `replica-${i}`, 60_000, now)));
  const winners = results.filter((r) => r.acquired);
  t.equal(winners.length, 1);
  const winner = winners[0]?.acquired ? winners[0].lease.owner : undefined;
  t.ok(results.every((r) => r.acquired || r.holder === winner), 'losers name the winner');
  // Two retention runners started together: one runs, the other skips (held or just ran).
  const mk = (owner: string) => new RetentionJob({ client, leases, indexPrefix: agg.prefix, retentionDays: 7, owner, log: silent, minGapMs: 3_600_000 });
  const later = new Date(now.getTime() + 3_600_000 * 24);
  const runs = await Promise.all([mk('x').runOnce(later), mk('y').runOnce(later)]);
  t.equal(runs.filter((r) => r.status === 'ran').length, 1, JSON.stringify(runs));
});
