/**
 * The job runner on the shared OpenSearch, with several runners (replicas) on one jobs
 * index: claims are exclusive, a job whose owner died is resumed from its last checkpoint
 * by another runner, the dead owner's signal fires and it writes nothing more, cancellation
 * reaches a running job on another replica, shutdown hands the lease back, and so does an
 * owner stopped by its own lease deadline (renewals the store did not confirm in time).
 */
import t from 'tap';
import { Type } from 'typebox';
import { Client } from '@opensearch-project/opensearch';
import { JobRunner, type JobContext } from '../../../aggregator/jobs/job-runner.ts';
import { JobSchema, JOB_MAPPING_PROPERTIES } from '../../../aggregator/jobs/job-schema.ts';
import { SystemRepository } from '../../../aggregator/store/system-repository.ts';
import { openSearchUrl, uniquePrefix } from '../../helpers/services.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { startTcpGate } from '../../helpers/tcp-gate.ts';

const url = await openSearchUrl(t);
const prefix = uniquePrefix('jobs');
const admin = new Client({ node: url });
t.teardown(async () => {
  await admin.indices
    .delete({ index: `.${prefix}-*`, expand_wildcards: ['all'], ignore_unavailable: true })
    .catch(() => {});
  await admin.close();
});
let index = '';
let indices = 0;
/** Each test gets its own jobs index: what one leaves behind is never claimable by the next. */
t.beforeEach(async () => {
  index = `.${prefix}-jobs-${indices++}`;
  await admin.indices.create({
    index,
    body: {
      settings: { number_of_shards: 1, number_of_replicas: 0, 'index.hidden': true },
      mappings: { dynamic: 'strict', properties: JOB_MAPPING_PROPERTIES },
    },
  });
});

const silent = { info: (_o: object, _m: string) => {}, warn: (_o: object, _m: string) => {} };
const StepsParams = Type.Object({ steps: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });

/** A job type whose every step waits for the test to let it through, checkpointing after each. */
function stepsHandler(name: string) {
  const calls: Array<{ progress: unknown; attempt: number; signal: AbortSignal }> = [];
  const gates: Array<() => void> = [];
  const handler = {
    type: 'steps',
    paramsSchema: StepsParams,
    async run(ctx: JobContext<{ steps: number }>) {
      calls.push({ progress: ctx.progress, attempt: ctx.attempt, signal: ctx.signal });
      let done = (ctx.progress?.['done'] as number | undefined) ?? 0;
      while (done < ctx.params.steps) {
        await new Promise<void>((resolve, reject) => {
          gates.push(resolve);
          ctx.signal.addEventListener(
            'abort',
            () => {
              // A stopped run's gate is not a step: the next step() is the resumed run's.
              const k = gates.indexOf(resolve);
              if (k >= 0) gates.splice(k, 1);
              reject(new Error(`aborted: ${String(ctx.signal.reason)}`));
            },
            { once: true },
          );
        });
        done++;
        await ctx.checkpoint({ done });
      }
      return { done, by: name };
    },
  };
  return {
    handler,
    calls,
    /** Lets the next waiting step through (waits until one is waiting). */
    async step() {
      await waitFor(() => gates.length > 0, { what: `${name} to wait at a step`, timeoutMs: 30_000 });
      gates.shift()!();
    },
    waiting: () => gates.length,
  };
}

function runnerOn(
  client: Client,
  owner: string,
  handler: ReturnType<typeof stepsHandler>['handler'],
  over: { leaseTtlMs?: number; log?: typeof silent } = {},
) {
  const repo = new SystemRepository(client, index, JobSchema, {
    resource: 'job',
    sortField: 'created_at',
    tiebreakField: 'id',
  });
  // Leases are long unless a test waits for one to expire: a loaded store must not make a
  // live owner lose its lease by slow renewals.
  const runner = new JobRunner({
    repo,
    owner,
    log: over.log ?? silent,
    leaseTtlMs: over.leaseTtlMs ?? 120_000,
    renewIntervalMs: 500,
    pollIntervalMs: 200,
  });
  runner.register(handler);
  return runner;
}

const doc = async (runner: JobRunner, id: string) => (await runner.get(id))?.doc;

t.test('a submitted job runs once and succeeds with its result', async (t) => {
  const a = stepsHandler('a');
  const b = stepsHandler('b');
  const ra = runnerOn(admin, 'replica-a', a.handler);
  const rb = runnerOn(admin, 'replica-b', b.handler);
  t.teardown(() => Promise.all([ra.stop(), rb.stop()]));
  await t.rejects(ra.submit('steps', { steps: 0 }), { code: 'invalid_request' }, 'params are validated on submit');
  await t.rejects(ra.submit('nope', {}), { code: 'invalid_request' }, 'unknown types are refused');
  const job = await ra.submit('steps', { steps: 2 }, { id: 'once' });
  t.equal(job.doc.status, 'pending');
  await t.rejects(ra.submit('steps', { steps: 2 }, { id: 'once' }), { code: 'conflict' }, 'ids are unique');
  // Both replicas race for it: exactly one claims it.
  const [ca, cb] = await Promise.all([ra.tick(), rb.tick()]);
  t.equal(ca.length + cb.length, 1, `one claim (${JSON.stringify([ca, cb])})`);
  const winner = ca.length ? a : b;
  t.equal((await doc(ra, 'once'))?.status, 'running');
  await winner.step();
  await winner.step();
  await waitFor(async () => (await doc(ra, 'once'))?.status === 'succeeded', {
    what: 'the job to succeed',
    timeoutMs: 30_000,
  });
  const done = await doc(ra, 'once');
  t.same(done?.result, { done: 2, by: ca.length ? 'a' : 'b' });
  t.same(done?.progress, { done: 2 });
  t.equal(done?.attempts, 1);
  t.ok(done?.started_at && done.finished_at, 'started and finished are recorded');
  t.equal(a.calls.length + b.calls.length, 1, 'the handler ran once');
});

t.test('a job whose owner died is resumed by another replica from its last checkpoint', async (t) => {
  const a = stepsHandler('a');
  const b = stepsHandler('b');
  // Replica A reaches the store through its own client: closing it is A losing the store for good.
  const clientA = new Client({ node: url });
  const ra = runnerOn(clientA, 'replica-a', a.handler, { leaseTtlMs: 8000 });
  const rb = runnerOn(admin, 'replica-b', b.handler, { leaseTtlMs: 8000 });
  t.teardown(() => Promise.all([ra.stop(), rb.stop()]));
  await ra.submit('steps', { steps: 3 }, { id: 'resume' });
  t.same(await ra.tick(), ['resume']);
  await a.step(); // step 1 done and checkpointed
  await waitFor(async () => ((await doc(rb, 'resume'))?.progress as { done?: number } | null)?.done === 1, {
    what: 'checkpoint 1',
    timeoutMs: 30_000,
  });
  t.same(await rb.tick(), [], 'B cannot claim while A holds the lease');
  await clientA.close();
  // A can no longer renew: its signal fires before the lease expires.
  await waitFor(() => a.calls[0]?.signal.aborted === true, { what: "A's signal", timeoutMs: 30_000 });
  t.equal(a.calls[0]?.signal.reason, 'lease_lost');
  rb.start();
  await waitFor(() => b.calls.length === 1, { what: 'B to resume the job', timeoutMs: 30_000 });
  t.same(b.calls[0]?.progress, { done: 1 }, 'B starts from the last checkpoint');
  t.equal(b.calls[0]?.attempt, 2);
  await b.step();
  await b.step();
  await waitFor(async () => (await doc(rb, 'resume'))?.status === 'succeeded', {
    what: 'the resumed job to succeed',
    timeoutMs: 30_000,
  });
  const done = await doc(rb, 'resume');
  t.same(done?.result, { done: 3, by: 'b' }, 'B did steps 2 and 3');
  t.equal(done?.owner, 'replica-b');
});

t.test('an owner whose renewals the store stops confirming stops, then hands the lease back', async (t) => {
  const a = stepsHandler('a');
  const b = stepsHandler('b');
  // A reaches the store through a gate that can hold its requests: connections stay up and
  // nothing is answered (a store too busy to confirm a renewal before the deadline).
  const gate = await startTcpGate({ host: '127.0.0.1', port: Number(new URL(url).port) });
  const clientA = new Client({ node: `http://127.0.0.1:${gate.port}` });
  const warnings: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const log = {
    info: () => {},
    warn: (fields: object, msg: string) => void warnings.push({ fields: fields as Record<string, unknown>, msg }),
  };
  const ra = runnerOn(clientA, 'replica-a', a.handler, { leaseTtlMs: 10_000, log });
  const rb = runnerOn(admin, 'replica-b', b.handler, { leaseTtlMs: 600_000 });
  t.teardown(async () => {
    gate.release();
    await Promise.all([ra.stop(), rb.stop()]);
    await clientA.close();
    await gate.close();
  });
  await ra.submit('steps', { steps: 2 }, { id: 'slow-store' });
  t.same(await ra.tick(), ['slow-store']);
  await a.step();
  await waitFor(async () => ((await doc(rb, 'slow-store'))?.progress as { done?: number } | null)?.done === 1, {
    what: 'checkpoint 1',
    timeoutMs: 30_000,
  });
  gate.hold();
  await waitFor(() => a.calls[0]?.signal.aborted === true, { what: "A's signal", timeoutMs: 30_000 });
  t.equal(a.calls[0]?.signal.reason, 'lease_lost', 'stopped before the lease it last wrote expires');
  gate.release();
  const handedBack = await waitFor(() => warnings.find((w) => w.fields['handed_back_at'] !== undefined), {
    what: 'the hand-back',
    timeoutMs: 60_000,
  });
  const after = await doc(rb, 'slow-store');
  t.equal(after?.status, 'running');
  // Unless a replica has claimed it again already (attempt 2), it is A's with the lease ending at the hand-back.
  if (after?.attempts === 1) {
    t.equal(after.owner, 'replica-a');
    t.equal(after.lease_expires_at, handedBack?.fields['handed_back_at'], 'the lease now ends at the hand-back');
  }
  // Nobody waits out A's lease: a replica claims it at once and resumes from the checkpoint
  // (B on the tick below, or A itself: a runner looks for work as soon as one of its jobs ends).
  await rb.tick();
  const resumed = await waitFor(() => b.calls[0] ?? a.calls[1], {
    what: 'a replica resumes the job',
    timeoutMs: 30_000,
  });
  t.same(resumed?.progress, { done: 1 }, 'from the last checkpoint');
  t.equal(resumed?.attempt, 2);
  const owner = b.calls.length ? b : a;
  await owner.step();
  await waitFor(async () => (await doc(rb, 'slow-store'))?.status === 'succeeded', {
    what: 'the job to succeed on its new owner',
    timeoutMs: 30_000,
  });
});

t.test('a running job cancelled from another replica stops and ends cancelled', async (t) => {
  const a = stepsHandler('a');
  const b = stepsHandler('b');
  const ra = runnerOn(admin, 'replica-a', a.handler);
  const rb = runnerOn(admin, 'replica-b', b.handler);
  t.teardown(() => Promise.all([ra.stop(), rb.stop()]));
  await ra.submit('steps', { steps: 5 }, { id: 'cancel-running' });
  t.same(await ra.tick(), ['cancel-running']);
  await a.step();
  await waitFor(() => a.waiting() === 1, { what: 'A at step 2', timeoutMs: 30_000 });
  const flagged = await rb.cancel('cancel-running');
  t.equal(flagged?.doc.status, 'running', 'still running until its owner notices');
  t.equal(flagged?.doc.cancel_requested, true);
  await waitFor(async () => (await doc(rb, 'cancel-running'))?.status === 'cancelled', {
    what: 'the job to end cancelled',
    timeoutMs: 30_000,
  });
  t.equal(a.calls[0]?.signal.reason, 'cancelled', "the owner's handler was told why");
  t.same((await doc(rb, 'cancel-running'))?.progress, { done: 1 }, 'it stopped after step 1');
  t.same(await rb.cancel('cancel-running').then((s) => s?.doc.status), 'cancelled', 'cancelling again changes nothing');

  await ra.submit('steps', { steps: 1 }, { id: 'cancel-pending' });
  t.equal((await rb.cancel('cancel-pending'))?.doc.status, 'cancelled', 'a pending job is cancelled at once');
  t.same(await rb.tick(), [], 'and never runs');
  t.equal(await rb.cancel('no-such-job'), undefined);
});

t.test('shutdown hands the lease back: another replica resumes at once', async (t) => {
  const a = stepsHandler('a');
  const b = stepsHandler('b');
  const ra = runnerOn(admin, 'replica-a', a.handler, { leaseTtlMs: 600_000 });
  const rb = runnerOn(admin, 'replica-b', b.handler, { leaseTtlMs: 600_000 });
  t.teardown(() => rb.stop());
  await ra.submit('steps', { steps: 2 }, { id: 'handover' });
  t.same(await ra.tick(), ['handover']);
  await a.step();
  await waitFor(() => a.waiting() === 1, { what: 'A at step 2', timeoutMs: 30_000 });
  await ra.stop();
  t.equal(a.calls[0]?.signal.reason, 'shutdown');
  // A lease of 10 minutes was handed back: B claims now, not in 10 minutes.
  t.same(await rb.tick(), ['handover']);
  t.same(b.calls[0]?.progress, { done: 1 });
  await b.step();
  await waitFor(async () => (await doc(rb, 'handover'))?.status === 'succeeded', {
    what: 'the job to succeed on B',
    timeoutMs: 30_000,
  });
});

t.test('a handler that throws fails its job with the error', async (t) => {
  const repo = new SystemRepository(admin, index, JobSchema, {
    resource: 'job',
    sortField: 'created_at',
    tiebreakField: 'id',
  });
  const runner = new JobRunner({ repo, owner: 'replica-c', log: silent, leaseTtlMs: 120_000, pollIntervalMs: 200 });
  runner.register({
    type: 'boom',
    paramsSchema: Type.Object({}),
    run: async () => {
      throw new Error('disk on fire');
    },
  });
  t.teardown(() => runner.stop());
  await runner.submit('boom', {}, { id: 'boom-1' });
  runner.start();
  await waitFor(async () => (await doc(runner, 'boom-1'))?.status === 'failed', {
    what: 'the job to fail',
    timeoutMs: 30_000,
  });
  t.same((await doc(runner, 'boom-1'))?.error, { code: 'handler_failed', message: 'disk on fire' });
  // A get is realtime; a list sees the outcome once its write's refresh is done.
  const listed = await waitFor(
    async () => (await runner.list({ status: 'failed', limit: 10 })).items.map((i) => i.id).join(),
    { what: 'the failed job listed', timeoutMs: 30_000 },
  );
  t.equal(listed, 'boom-1', 'lists filter by status');
  t.equal((await runner.list({ status: 'running', limit: 10 })).items.filter((i) => i.id === 'boom-1').length, 0);
});

t.test(
  'handlers tag their jobs; lists filter on tags in the store; jobs stored before tags are backfilled',
  async (t) => {
    const repo = () =>
      new SystemRepository(admin, index, JobSchema, { resource: 'job', sortField: 'created_at', tiebreakField: 'id' });
    const Params = Type.Object({ policy: Type.String() });
    const run = async () => {
      throw new Error('never claimed in this test');
    };
    // The same type before and after its handler had tags (an upgrade).
    const before = new JobRunner({ repo: repo(), owner: 'old', log: silent });
    before.register({ type: 'tagged', paramsSchema: Params, run });
    const after = new JobRunner({ repo: repo(), owner: 'new', log: silent });
    after.register({ type: 'tagged', paramsSchema: Params, run, tags: (p) => [`policy:${p.policy}`] });
    after.register({ type: 'other', paramsSchema: Params, run });
    for (const [i, policy] of ['p1', 'p2', 'p1'].entries())
      await before.submit('tagged', { policy }, { id: `old-${i}` });
    const fresh = await after.submit('tagged', { policy: 'p1' }, { id: 'new-0' });
    await after.submit('other', { policy: 'p1' }, { id: 'other-0' });
    t.same(fresh.doc.tags, ['policy:p1'], 'submit stores the handler tags');
    const ids = async (tags: string[]) => (await after.list({ tags, limit: 10 })).items.map((j) => j.id).sort();
    t.same(await ids(['policy:p1']), ['new-0'], 'before the backfill only the new job has the tag');

    t.equal(await after.backfillTags(), 3, 'the three jobs of the tagged type are tagged');
    t.equal(await after.backfillTags(), 0, 'idempotent');
    t.same(await ids(['policy:p1']), ['new-0', 'old-0', 'old-2']);
    t.same(await ids(['policy:p2']), ['old-1']);
    t.same(await ids(['policy:p1', 'policy:p2']), [], 'several tags: all of them');
    t.notOk((await after.get('other-0'))?.doc.tags, 'a type without tags is left alone');
    // Paging over a tag filter: pages are full and the cursor stays within the filter.
    const first = await after.list({ type: 'tagged', tags: ['policy:p1'], limit: 2 });
    t.equal(first.items.length, 2);
    t.equal(first.has_more, true);
    const second = await after.list({ type: 'tagged', tags: ['policy:p1'], limit: 2, cursor: first.next_cursor! });
    t.equal(second.items.length, 1);
    t.equal(second.has_more, false);
    await t.rejects(
      after.list({ type: 'tagged', tags: ['policy:p2'], limit: 2, cursor: first.next_cursor! }),
      { code: 'invalid_cursor' },
      'a cursor only continues its own filter',
    );
  },
);
