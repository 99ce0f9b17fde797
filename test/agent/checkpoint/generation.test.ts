/**
 * A file truncated and written again under the same inode and first line (same
 * fingerprint) holds new content at old offsets: under the old identity its ids would be
 * those of the old lines, already stored, and `create` (first write wins, as the test sink
 * does) would drop the new lines as duplicates. The agent reads such content as a new
 * generation with ids of its own, whether the shrink happened while it was down (checkpoint
 * past the end of the file) or while it was tailing.
 */
import t from 'tap';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { append, containerLogName, runAgent, startSink, tempDir, until } from '../helpers.ts';

const BANNER = 'banner: service v1 starting'; // plain lines: the same first line every time

t.test('a file shorter than its checkpoint is read from 0 as a new generation, new lines kept', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t, { keepRecords: true });
  const path = join(logs, containerLogName('gen', 'ns', 'c'));
  const old = [BANNER, 'old line with quite a long message number one', 'old line two', 'old line three'];
  await writeFile(path, old.map((l) => l + '\n').join(''));
  const a = await runAgent({ dir, sink, config: { format: 'auto' } });
  await sink.waitFor(() => sink.records.some((r) => r.message === 'old line three'), 10_000, 'old content');
  t.ok(await a.flush(5000), 'checkpoint written');
  await a.stop();

  // While the agent is down: truncated and written again, shorter, same first line.
  await truncate(path, 0);
  const fresh = [BANNER, 'new line two'];
  await writeFile(path, fresh.map((l) => l + '\n').join(''));
  const b = await runAgent({ dir, sink, config: { format: 'auto' } });
  t.teardown(() => b.stop());
  await sink
    .waitFor(() => sink.records.some((r) => r.message === 'new line two'), 5000, 'the new line')
    .catch((e: unknown) => t.comment(String(e)));
  t.same(sink.contentReport([...old, ...fresh]), { missing: [], doubled: [], unexpected: [] });
});

t.test('a shrink seen while tailing, same first line: the new lines get ids of their own', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t, { keepRecords: true });
  const path = join(logs, containerLogName('gen2', 'ns', 'c'));
  const old = [BANNER, 'first generation line two', 'first generation line three'];
  await writeFile(path, old.map((l) => l + '\n').join(''));
  const a = await runAgent({ dir, sink, config: { format: 'auto' } });
  t.teardown(() => a.stop());
  await sink.waitFor(() => sink.records.some((r) => r.message === old[2]), 10_000, 'first generation');
  await truncate(path, 0);
  // Wait until the agent saw the shrink before the file grows again past its position.
  await until(
    async () =>
      (await a.registry.getSingleMetric('k8s_logs_agent_rotations_total')!.get()).values.some((v) => v.value > 0),
    10_000,
    'truncation seen',
  );
  const fresh = [BANNER, 'second gen two'];
  await append(path, fresh.map((l) => l + '\n').join(''));
  await sink
    .waitFor(() => sink.records.some((r) => r.message === 'second gen two'), 5000, 'the new line')
    .catch((e: unknown) => t.comment(String(e)));
  t.same(sink.contentReport([...old, ...fresh]), { missing: [], doubled: [], unexpected: [] });
});
