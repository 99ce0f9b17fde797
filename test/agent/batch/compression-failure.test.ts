/**
 * A batch whose compression fails (zlib cannot fail on valid input, memory can run out) is
 * retried in its place: the ordered ack queue behind it does not wedge, tailing is not paused
 * forever, nothing is lost, and /healthz reports unhealthy while compression keeps failing.
 */
import t from 'tap';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gzip } from 'node:zlib';
import type { Compressor } from '../../../agent/batch/batcher.ts';
import { append, containerLogName, cri, runAgent, startSink, tempDir, until } from '../helpers.ts';

t.test('failed compressions are retried in order; health turns unhealthy, then recovers', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'logs'));
  const sink = await startSink(t, { keepRecords: true });
  let failing = true;
  let failures = 0;
  const compress: Compressor = (raw, level, done) => {
    if (failing) {
      failures++;
      setImmediate(() => done(new Error('injected: out of memory'), Buffer.alloc(0)));
      return;
    }
    gzip(raw, { level }, done);
  };
  const agent = await runAgent({ dir, sink, deps: { compress } });
  t.teardown(() => agent.stop());
  const path = join(dir, 'logs', containerLogName('gz', 'ns', 'c'));
  const before = Array.from({ length: 30 }, (_, i) => `before ${i}`);
  await append(path, before.map((l) => cri(l)).join(''));
  await until(() => failures >= 3, 10_000, 'three failed compressions');
  await until(() => !agent.health().ok, 5000, 'unhealthy while compression fails');
  t.ok((agent.health()['compression_failures'] as number) >= 3, 'failures reported on /healthz');
  t.equal(sink.records.length, 0, 'nothing sent while failing');

  failing = false;
  await sink.waitFor(() => sink.contentReport(before).missing.length === 0, 10_000, 'the retried batch delivered');
  await until(() => agent.health().ok, 5000, 'healthy again');
  const after = Array.from({ length: 30 }, (_, i) => `after ${i}`);
  await append(path, after.map((l) => cri(l)).join(''));
  await sink.waitFor(() => sink.contentReport(after).missing.length === 0, 10_000, 'later lines flow');
  t.ok(await agent.flush(10_000), 'the ack queue drains: every batch settled and committed');
  t.same(sink.contentReport([...before, ...after]), { missing: [], doubled: [], unexpected: [] });
});
