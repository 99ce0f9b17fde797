import t from 'tap';
import { startTestAggregator } from '../../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../../helpers/records.ts';
import { indicesToDelete, ownedDayIndices, retentionHandler } from '../../../aggregator/jobs/retention-job.ts';
import { JobRunner } from '../../../aggregator/jobs/job-runner.ts';
import { JobSchema } from '../../../aggregator/jobs/job-schema.ts';
import { waitFor } from '../../helpers/wait-for.ts';

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

const agg = await startTestAggregator(t, { name: 'retention' });
const client = agg.app.opensearch;
const silent = { info: () => {}, warn: () => {} };
const now = new Date('2026-03-10T12:00:00Z');
const jobs = agg.app.systemRepository('jobs', JobSchema, { resource: 'job', sortField: 'created_at', tiebreakField: 'id' });

/** A runner of the retention job type alone, on the test aggregator's jobs index, at a fixed `now`. */
function retentionRunner(owner: string, onDeleted?: (index: string) => void) {
  const runner = new JobRunner({ repo: jobs, owner, log: silent, pollIntervalMs: 200 });
  runner.register(retentionHandler({
    client, indexPrefix: agg.prefix, log: silent, now: () => now,
    pruneJobs: (before) => runner.pruneFinished(before),
    ...(onDeleted ? { onDeleted } : {}),
  }));
  t.teardown(() => runner.stop());
  return runner;
}

async function runToEnd(runner: JobRunner, id: string, params: Record<string, unknown> = { retention_days: 7 }) {
  await runner.submit('retention', params, { id });
  await runner.tick();
  const done = await waitFor(async () => {
    const d = (await runner.get(id))?.doc;
    return d && ['succeeded', 'failed', 'cancelled'].includes(d.status) ? d : undefined;
  }, { what: `job ${id} to finish`, timeoutMs: 30_000 });
  return done!;
}

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
  const runner = retentionRunner('replica-a', (i) => deleted.push(i));
  const done = await runToEnd(runner, 'retention-1');
  const p = agg.prefix;
  const expected = [`${p}-alpha-2026.02.20`, `${p}-alpha-2026.03.02`, `${p}-beta-2026.03.01`];
  t.equal(done.status, 'succeeded');
  t.same(done.result, { deleted: expected, failed: [], held: [], retention_days: 7 });
  t.same(deleted, expected);
  t.same(done.progress, { deleted: expected }, 'each deletion was checkpointed');
  t.same(await indexNames(), [`${p}-alpha-2026.03.03`, `${p}-alpha-2026.03.10`, `${p}-beta-2026.03.09`, `${p}-gamma-2026.01.01`]);
  t.equal(done.owner, 'replica-a');
  t.same((await runToEnd(runner, 'retention-2')).result, { deleted: [], failed: [], held: [], retention_days: 7 }, 'a second run finds nothing to do');
});

t.test('a scheduled period runs once however many replicas schedule it', async (t) => {
  await seedDays([['delta', '2026-01-05']]);
  const runners = ['x', 'y', 'z'].map((o) => retentionRunner(`replica-${o}`));
  // Every replica submits this period's run under the same id: one create wins.
  const submits = await Promise.allSettled(runners.map((r) => r.submit('retention', { retention_days: 7 }, { id: 'retention-period-1' })));
  t.equal(submits.filter((s) => s.status === 'fulfilled').length, 1, 'one submit wins');
  // Each replica tries to claim it now. (A tick's return value is not the measure: a
  // replica's own scheduled tick may be in flight with a listing made before the submit, and
  // tick() then answers that one; the job document says who ran it and how often.)
  await Promise.all(runners.map((r) => r.tick()));
  const done = await waitFor(async () => {
    const d = (await runners[0]!.get('retention-period-1'))?.doc;
    return d?.status === 'succeeded' ? d : undefined;
  }, { what: 'the run to succeed', timeoutMs: 30_000 });
  t.equal(done?.attempts, 1, 'one replica claimed it, once');
  // (The runners of the earlier tests of this file poll the same jobs index until the file
  // ends, so the winner may be one of them: what matters is one claim.)
  t.match(done?.owner, /^replica-/, `run by one replica (${done?.owner})`);
  t.same(done?.result?.['deleted'], [`${agg.prefix}-delta-2026.01.05`]);
  t.notOk((await indexNames()).includes(`${agg.prefix}-delta-2026.01.05`));
});

t.test('the job history: finished jobs older than job_history_days go, pending and running ones stay', async (t) => {
  const day = 86_400_000;
  const at = (daysBeforeNow: number) => new Date(now.getTime() - daysBeforeNow * day).toISOString();
  // A type no runner here handles, so these documents stay as written until pruned.
  const job = (id: string, status: string, createdDaysAgo: number, finishedDaysAgo: number | null) => ({
    id, type: 'sweep', params: {}, status, progress: null, result: null,
    error: status === 'failed' ? { code: 'handler_failed', message: 'x' } : null,
    created_at: at(createdDaysAgo), started_at: at(createdDaysAgo),
    finished_at: finishedDaysAgo === null ? null : at(finishedDaysAgo),
    owner: null, lease_expires_at: null, attempts: 1, cancel_requested: false,
  });
  const seeded = [
    job('old-succeeded', 'succeeded', 41, 40),
    job('old-failed', 'failed', 31, 30.5),
    job('old-cancelled', 'cancelled', 60, 31),
    job('recent-cancelled', 'cancelled', 30, 29.9),
    job('recent-succeeded', 'succeeded', 2, 1),
    job('old-running', 'running', 90, null),
    job('old-pending', 'pending', 90, null),
  ];
  for (const d of seeded) await jobs.create(d.id, d as never, { refresh: 'wait_for' });
  const runner = retentionRunner('replica-h');
  const done = await runToEnd(runner, 'retention-history-1', { retention_days: 7, job_history_days: 30 });
  t.equal(done.status, 'succeeded');
  t.match(done.result, { jobs_pruned: 3, job_history_days: 30 });
  const left: string[] = [];
  for await (const s of jobs.scan([{ term: { type: 'sweep' } }])) left.push(s.id);
  t.same(left.sort(), ['old-pending', 'old-running', 'recent-cancelled', 'recent-succeeded']);
  const again = await runToEnd(runner, 'retention-history-2', { retention_days: 7, job_history_days: 30 });
  t.match(again.result, { jobs_pruned: 0 }, 'nothing more to prune');
  t.ok(await runner.get('retention-history-1'), 'the retention runs themselves finished just now: kept');
});

t.test('a failed prune of the job history is reported as null and does not fail the run', async (t) => {
  const warned: string[] = [];
  const handler = retentionHandler({
    client, indexPrefix: agg.prefix, now: () => now,
    log: { info: () => {}, warn: (_o, msg) => void warned.push(msg) },
    pruneJobs: async () => { throw new Error('store refused'); },
  });
  const result = await handler.run({
    id: 'direct-1', params: { retention_days: 7, job_history_days: 30 }, progress: null, attempt: 1,
    signal: new AbortController().signal, checkpoint: async () => {},
  });
  t.match(result, { jobs_pruned: null, job_history_days: 30, failed: [] });
  t.same(warned, ['retention: pruning finished jobs failed; next run retries']);
  const without = await handler.run({
    id: 'direct-2', params: { retention_days: 7 }, progress: null, attempt: 1,
    signal: new AbortController().signal, checkpoint: async () => {},
  });
  t.notOk(without && 'jobs_pruned' in without, 'no job_history_days: the history is left alone');
});
