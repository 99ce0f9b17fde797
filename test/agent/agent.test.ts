import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  append,
  CID,
  containerLogName,
  cri,
  idsAt,
  keyOf,
  lineOffsets,
  metricValue,
  runAgent,
  startSink,
  tempDir,
  until,
} from './helpers.ts';

t.test('delivers every line once with deterministic ids and path metadata', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  const a = join(logs, containerLogName('web-7d4b9c-x2v9k', 'shop', 'nginx'));
  const b = join(logs, containerLogName('db-0', 'data', 'postgres', 'b'.repeat(64)));
  let textA = '';
  for (let i = 0; i < 200; i++) textA += cri(`{"level":"info","msg":"request ${i}"}`);
  let textB = '';
  for (let i = 0; i < 100; i++) textB += cri(`ERROR something broke ${i}`, { stream: 'stderr' });
  await writeFile(a, textA);
  await writeFile(b, textB);
  const agent = await runAgent({ dir, sink });
  t.teardown(() => agent.stop());
  await sink.waitFor(() => sink.uniqueIds >= 300, 10_000, '300 records');
  const expected = new Set([
    ...idsAt(await keyOf(a), lineOffsets(textA)),
    ...idsAt(await keyOf(b), lineOffsets(textB)),
  ]);
  t.same(new Set(sink.idCounts.keys()), expected, 'ids are fileKey + offset of each line');
  t.same(sink.invalid, [], 'every record matches LogRecordSchema');
  const recA = sink.records.find((r) => r.message === '{"level":"info","msg":"request 7"}');
  t.match(recA, {
    cluster: 'test-cluster',
    node: 'test-node',
    namespace: 'shop',
    pod: 'web-7d4b9c-x2v9k',
    container: 'nginx',
    container_id: CID,
    stream: 'stdout',
    level: 'info',
  });
  t.match(recA?.timestamp, /^2026-11-25T12:00:00\.\d{9}Z$/, 'runtime timestamp kept with nanoseconds');
  const recB = sink.records.find((r) => r.message === 'ERROR something broke 3');
  t.match(recB, { namespace: 'data', pod: 'db-0', container: 'postgres', stream: 'stderr', level: 'error' });
  t.same(sink.duplicateIds(), [], 'nothing sent twice');
});

t.test('joins CRI partials per stream, including across reads and interleaved streams', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  const f = join(logs, containerLogName('p', 'ns', 'c'));
  const part1 = cri('hello ', { tag: 'P' });
  const errLine = cri('stderr full line', { stream: 'stderr' });
  const part2 = cri('wor', { tag: 'P' });
  await writeFile(f, part1 + errLine + part2);
  const agent = await runAgent({ dir, sink });
  t.teardown(() => agent.stop());
  await sink.waitFor(() => sink.uniqueIds >= 1, 5000, 'stderr record');
  await append(f, cri('ld!'));
  await sink.waitFor(() => sink.uniqueIds >= 2, 5000, 'joined record');
  const key = await keyOf(f);
  const joined = sink.records.find((r) => r.stream === 'stdout');
  t.equal(joined?.message, 'hello world!');
  t.equal(joined?.id, idsAt(key, [0])[0], 'id is the offset of the first piece');
  const e = sink.records.find((r) => r.stream === 'stderr');
  t.equal(e?.id, idsAt(key, [Buffer.byteLength(part1)])[0]);
});

t.test('resumes after restart without re-sending acknowledged lines', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  const f = join(logs, containerLogName('p', 'ns', 'c'));
  let text = '';
  for (let i = 0; i < 100; i++) text += cri(`first ${i}`);
  // An unfinished partial at the end: must not be committed past.
  const pending = cri('half a ', { tag: 'P' });
  await writeFile(f, text + pending);
  const agent1 = await runAgent({ dir, sink });
  await sink.waitFor(() => sink.uniqueIds >= 100, 10_000, 'first 100');
  await agent1.stop();
  let more = cri('line');
  for (let i = 0; i < 50; i++) more += cri(`second ${i}`);
  await append(f, more);
  const agent2 = await runAgent({ dir, sink });
  t.teardown(() => agent2.stop());
  await sink.waitFor(() => sink.uniqueIds >= 151, 10_000, '151 records');
  await agent2.flush();
  t.same(sink.duplicateIds(), [], 'no acknowledged line was sent again');
  t.equal(sink.uniqueIds, 151);
  const key = await keyOf(f);
  const joined = sink.records.find((r) => r.message === 'half a line');
  t.equal(joined?.id, idsAt(key, [Buffer.byteLength(text)])[0], 'the partial was re-read and joined after restart');
});

t.test(
  'loses nothing while the sink fails for a while (5xx, 429 + Retry-After, resets, refused connections)',
  async (t) => {
    const dir = await tempDir(t);
    const logs = join(dir, 'logs');
    await mkdir(logs);
    const sink = await startSink(t);
    const f = join(logs, containerLogName('p', 'ns', 'c'));
    sink.fail({ status: 503, times: 3 });
    const agent = await runAgent({ dir, sink, config: { maxBatchRecords: 50 } });
    t.teardown(() => agent.stop());
    let text = '';
    for (let i = 0; i < 500; i++) text += cri(`line ${i}`);
    await writeFile(f, text);
    await sink.waitFor(() => (sink.statuses.get(503) ?? 0) >= 3, 5000, '503s');
    sink.fail({ status: 429, retryAfter: '0', times: 2 });
    await sink.waitFor(() => (sink.statuses.get(429) ?? 0) >= 2, 5000, '429s');
    sink.fail({ status: 'reset', times: 2 });
    await sink.waitFor(() => (sink.statuses.get('reset') ?? 0) >= 2, 5000, 'resets');
    await sink.down();
    const networkBefore = await metricValue(agent, 'k8s_logs_agent_send_retries_total', { reason: 'network' });
    let more = '';
    for (let i = 0; i < 100; i++) more += cri(`more ${i}`);
    await append(f, more);
    await until(
      async () =>
        (await metricValue(agent, 'k8s_logs_agent_send_retries_total', { reason: 'network' })) >= networkBefore + 2,
      5000,
      'refused connections retried',
    );
    await sink.up();
    await sink.waitFor(() => sink.uniqueIds >= 600, 15_000, 'all 600');
    const key = await keyOf(f);
    t.same(new Set(sink.idCounts.keys()), new Set(idsAt(key, lineOffsets(text + more))));
  },
);
