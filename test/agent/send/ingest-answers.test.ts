/**
 * The agent against each answer the aggregator gives (aggregator/routes/ingest/ingest-routes.ts,
 * played by the test sink): a store refusal (503 + Retry-After, after part of the bulk was
 * stored) and an in-flight limit (429 + Retry-After) are retried, not before Retry-After;
 * records rejected in a 200 (outside the timestamp window) settle the batch and are not sent
 * again, also when no record of the batch is valid (the aggregator answers that 200 too).
 * Stored content is checked line by line (first write wins).
 */
import t from 'tap';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { append, containerLogName, cri, runAgent, startSink, tempDir } from '../helpers.ts';

async function setup(t: { teardown(fn: () => unknown): void }) {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'logs'));
  const sink = await startSink(t, { keepRecords: true });
  const path = join(dir, 'logs', containerLogName('ans', 'ns', 'c'));
  return { dir, sink, path };
}

for (const [status, what, storeFirst] of [
  [503, 'store unavailable after storing part of the batch', true],
  [429, 'in-flight byte limit', false],
] as const) {
  t.test(`${status} + Retry-After (${what}): resent after Retry-After, every line once`, async (t) => {
    const { dir, sink, path } = await setup(t);
    sink.fail({ status, retryAfter: '1', times: 1, storeFirst });
    const agent = await runAgent({ dir, sink });
    t.teardown(() => agent.stop());
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i} of ${status}`);
    await append(path, lines.map((l) => cri(l)).join(''));
    const done = (): boolean => sink.contentReport(lines).missing.length === 0;
    await sink.waitFor(done, 10_000, 'all lines');
    t.ok(await agent.flush(5000), 'acknowledged and committed');
    t.same(sink.contentReport(lines), { missing: [], doubled: [], unexpected: [] });
    const refusal = sink.answers.find((a) => a.status === status)!;
    const next = sink.answers.find((a) => a.status === 200 && a.firstId === refusal.firstId)!;
    t.ok(next.atMs - refusal.atMs >= 950, `resent ${next.atMs - refusal.atMs} ms after the ${status} (Retry-After: 1)`);
    if (storeFirst) t.ok(sink.writes.length > sink.records.length, 'the resend found duplicates');
  });
}

t.test('records rejected in a 200 (too_old / too_new) settle the batch and are not resent', async (t) => {
  const { dir, sink, path } = await setup(t);
  sink.rejectWhen = (r) =>
    r.message.includes('ancient')
      ? { reason: 'too_old', message: 'outside the timestamp window' }
      : r.message.includes('future')
        ? { reason: 'too_new', message: 'outside the timestamp window' }
        : null;
  const agent = await runAgent({ dir, sink });
  t.teardown(() => agent.stop());
  const kept = ['ok one', 'ok two', 'ok three'];
  await append(path, cri('ok one') + cri('ancient line') + cri('ok two') + cri('future line') + cri('ok three'));
  await sink.waitFor(() => sink.contentReport(kept).missing.length === 0, 10_000, 'kept lines');
  t.ok(await agent.flush(5000), 'the batch settled: checkpoint committed past the rejected records');
  t.same(sink.contentReport(kept), { missing: [], doubled: [], unexpected: [] });
  t.same(
    sink.rejections.map((r) => r.reason),
    ['too_old', 'too_new'],
    'each rejected record sent once, never again',
  );
  t.equal(sink.statuses.get(200), sink.requests, 'every request answered 200');
});

t.test('a batch whose every record is rejected is settled by its 200, not resent, the agent goes on', async (t) => {
  const { dir, sink, path } = await setup(t);
  sink.rejectWhen = (r) => (r.message.startsWith('ancient') ? { reason: 'too_old', message: 'too old' } : null);
  const agent = await runAgent({ dir, sink });
  t.teardown(() => agent.stop());
  await append(path, cri('ancient 1') + cri('ancient 2'));
  await sink.waitFor(() => sink.rejections.length >= 2, 10_000, 'both records rejected');
  t.ok(await agent.flush(5000), 'settled: checkpoint committed past them');
  await append(path, cri('fresh line'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'fresh line'), 10_000, 'later lines flow');
  t.same(
    sink.rejections.map((r) => r.reason),
    ['too_old', 'too_old'],
    'nothing rejected was sent again',
  );
  t.equal(sink.statuses.get(200), sink.requests, 'every request answered 200 (no bisection)');
  t.same(sink.contentReport(['fresh line']), { missing: [], doubled: [], unexpected: [] });
});
