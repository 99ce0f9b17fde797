/**
 * Lines with no runtime timestamp (a plain file, a line that is neither CRI nor docker) are
 * dated by the read time recorded with the checkpoint (agent/checkpoint/replay-journal.ts),
 * so a re-read after a crash produces the same record — same id, same timestamp, same day
 * index — even when the replay runs days later.
 */
import t from 'tap';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { append, containerLogName, cri, runAgent, startSink, tempDir } from '../helpers.ts';

t.test('a replay of untimestamped lines gives them the timestamps of the first read', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'logs'));
  const sink = await startSink(t, { keepRecords: true });
  const path = join(dir, 'logs', containerLogName('plain', 'ns', 'c'));
  // First run: late on day one, an hour before midnight so that a slow first read on a busy
  // machine still happens on that day. The sink stores every batch and never answers.
  const dayOne = Date.parse('2026-11-25T23:00:00.000Z') - Date.now();
  sink.hold();
  const a = await runAgent({ dir, sink, deps: { now: () => Date.now() + dayOne } });
  const lines = ['plain line one', 'plain line two', 'not cri either: {"x":1}'];
  await append(path, cri('a runtime line first') + lines.map((l) => l + '\n').join(''));
  await sink.waitFor(() => lines.every((l) => sink.records.some((r) => r.message === l)), 10_000, 'plain lines stored');
  const first = new Map(sink.records.map((r) => [r.id, r.timestamp]));
  await a.stop(100); // no acknowledgement: nothing committed, all of it is read again
  sink.release();

  // Second run: two days later.
  const later = Date.parse('2026-11-28T10:00:00.000Z') - Date.now();
  const b = await runAgent({ dir, sink, deps: { now: () => Date.now() + later } });
  t.teardown(() => b.stop());
  await sink.waitFor(
    () => lines.every((l) => sink.writes.filter((r) => r.message === l).length >= 2),
    10_000,
    'plain lines written again',
  );
  const replayed = sink.writes.filter((r) => lines.includes(r.message)).slice(-lines.length);
  t.same(
    replayed.map((r) => [r.message, r.timestamp]),
    replayed.map((r) => [r.message, first.get(r.id)]),
    'same ids with the same timestamps as the first read',
  );
  t.ok(
    replayed.every((r) => r.timestamp.startsWith('2026-11-25')),
    'dated by the first read: the same day index',
  );
  t.same(sink.contentReport(['a runtime line first', ...lines]), { missing: [], doubled: [], unexpected: [] });
});
