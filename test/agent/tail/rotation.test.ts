import t from 'tap';
import { copyFile, mkdir, open, rename, rm, stat, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  append,
  containerLogName,
  cri,
  idsAt,
  keyFor,
  keyOf,
  lineOffsets,
  metricValue,
  runAgent,
  startSink,
  tempDir,
  until,
} from '../helpers.ts';
import { waitForValue } from '../../helpers/wait-for.ts';

interface Generation {
  dev: bigint;
  ino: bigint;
  text: string;
}

t.test('rename rotation under a fast writer: every line arrives exactly once', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  const agent = await runAgent({ dir, sink, config: { rotateWaitMs: 200, maxBatchRecords: 200 } });
  t.teardown(() => agent.stop());
  const path = join(logs, containerLogName('w', 'ns', 'c'));
  const gens: Generation[] = [];
  let fh = await open(path, 'a');
  let st = await fh.stat({ bigint: true });
  let gen: Generation = { dev: st.dev, ino: st.ino, text: '' };
  gens.push(gen);
  let n = 0;
  for (let rot = 1; rot <= 6; rot++) {
    for (let i = 0; i < 400; i++) {
      const l = cri(`gen ${rot} line ${n++}`, { stream: i % 3 === 0 ? 'stderr' : 'stdout' });
      await fh.write(l);
      gen.text += l;
    }
    // Rotate by rename; the writer still has the old file open for a few more lines.
    await rename(path, `${path}.${rot}`);
    for (let i = 0; i < 20; i++) {
      const l = cri(`late ${rot} ${n++}`);
      await fh.write(l);
      gen.text += l;
    }
    await fh.close();
    fh = await open(path, 'a');
    st = await fh.stat({ bigint: true });
    gen = { dev: st.dev, ino: st.ino, text: '' };
    gens.push(gen);
  }
  for (let i = 0; i < 100; i++) {
    const l = cri(`final ${n++}`);
    await fh.write(l);
    gen.text += l;
  }
  await fh.close();
  await sink.waitFor(() => sink.uniqueIds >= n, 20_000, `${n} records`);
  const expected = new Set<string>();
  for (const g of gens)
    for (const id of idsAt(keyFor(g.dev, g.ino, g.text.slice(0, g.text.indexOf('\n') + 1)), lineOffsets(g.text)))
      expected.add(id);
  t.equal(expected.size, n);
  t.same(new Set(sink.idCounts.keys()), expected, 'exactly the written lines, by id');
  t.same(sink.duplicateIds(), []);
  t.same(
    sink.contentReport(gens.flatMap((g) => criMessages(g.text))),
    { missing: [], doubled: [], unexpected: [] },
    "every line's content stored exactly once",
  );
  // A generation created and renamed away between two looks of the agent is found by inode
  // as a new file, not seen as a rename, so under this writer only some renames are
  // counted; the exact count is the next test's.
  t.ok((await metricValue(agent, 'k8s_logs_agent_rotations_total', { kind: 'rename' })) >= 1, 'rotations counted');
});

t.test('every rename rotation of a file the agent is reading is counted once', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  const agent = await runAgent({ dir, sink, config: { rotateWaitMs: 200 } });
  t.teardown(() => agent.stop());
  const path = join(logs, containerLogName('counted', 'ns', 'c'));
  const rotations = () => metricValue(agent, 'k8s_logs_agent_rotations_total', { kind: 'rename' });
  let n = 0;
  for (let rot = 1; rot <= 3; rot++) {
    let text = '';
    for (let i = 0; i < 50; i++) text += cri(`gen ${rot} line ${n++}`);
    await writeFile(path, text);
    // The agent has this generation open once its lines have arrived.
    await sink.waitFor(() => sink.uniqueIds >= n, 10_000, `${n} records`);
    await rename(path, `${path}.${rot}`);
    // As kubelet does, the path stays empty until the rename is seen (the runtime reopens
    // the log only after kubelet's rename): the renamed file still has a name, so this is
    // a rotation, not a deletion, however long the path stays empty.
    await waitForValue(rotations, (v) => v >= rot, { what: `rename rotation ${rot} counted` });
  }
  await writeFile(path, cri(`gen 4 line ${n++}`));
  await sink.waitFor(() => sink.uniqueIds >= n, 10_000, `${n} records`);
  // Every renamed generation has been drained and closed (only the new file is watched).
  await until(async () => (await metricValue(agent, 'k8s_logs_agent_files_watched')) === 1, 10_000, 'drains done');
  t.equal(await rotations(), 3, 'each rename counted exactly once');
  t.equal(await metricValue(agent, 'k8s_logs_agent_file_errors_total', { reason: 'file_deleted' }), 0, 'no deletion');
  t.same(sink.duplicateIds(), []);
});

t.test('a rename that the new file replaces at once is counted once', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  const agent = await runAgent({ dir, sink, config: { rotateWaitMs: 200 } });
  t.teardown(() => agent.stop());
  const path = join(logs, containerLogName('replaced', 'ns', 'c'));
  let n = 0;
  for (let rot = 1; rot <= 3; rot++) {
    let text = '';
    for (let i = 0; i < 50; i++) text += cri(`gen ${rot} line ${n++}`);
    await writeFile(path, text);
    await sink.waitFor(() => sink.uniqueIds >= n, 10_000, `${n} records`);
    await rename(path, `${path}.${rot}`);
  }
  await writeFile(path, cri(`gen 4 line ${n++}`));
  await sink.waitFor(() => sink.uniqueIds >= n, 10_000, `${n} records`);
  await until(async () => (await metricValue(agent, 'k8s_logs_agent_files_watched')) === 1, 10_000, 'drains done');
  t.equal(
    await metricValue(agent, 'k8s_logs_agent_rotations_total', { kind: 'rename' }),
    3,
    'each rename counted exactly once, whether the agent saw the empty path or the new file first',
  );
  t.equal(await metricValue(agent, 'k8s_logs_agent_file_errors_total', { reason: 'file_deleted' }), 0, 'no deletion');
  t.same(sink.duplicateIds(), []);
});

t.test('copy-truncate rotation under a fast writer: every line arrives exactly once', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  const agent = await runAgent({ dir, sink, config: { maxBatchRecords: 200 } });
  t.teardown(() => agent.stop());
  const path = join(logs, containerLogName('ct', 'ns', 'c'));
  const fh = await open(path, 'a');
  const st = await fh.stat({ bigint: true });
  const gens: string[] = [''];
  let n = 0;
  for (let rot = 1; rot <= 5; rot++) {
    for (let i = 0; i < 500; i++) {
      const l = cri(`ct ${rot} line ${n++}`);
      await fh.write(l);
      gens[gens.length - 1] += l;
    }
    // logrotate copytruncate: copy, then truncate in place (the writer keeps O_APPEND).
    await copyFile(path, `${path}.${rot}`);
    await truncate(path, 0);
    gens.push('');
  }
  for (let i = 0; i < 50; i++) {
    const l = cri(`ct final ${n++}`);
    await fh.write(l);
    gens[gens.length - 1] += l;
  }
  await fh.close();
  await sink.waitFor(() => sink.uniqueIds >= n, 20_000, `${n} records`);
  const expected = new Set<string>();
  for (const text of gens) {
    if (text === '') continue;
    for (const id of idsAt(keyFor(st.dev, st.ino, text.slice(0, text.indexOf('\n') + 1)), lineOffsets(text)))
      expected.add(id);
  }
  t.same(new Set(sink.idCounts.keys()), expected, 'every generation delivered under its own identity');
  t.same(sink.duplicateIds(), []);
  t.same(
    sink.contentReport(gens.flatMap(criMessages)),
    { missing: [], doubled: [], unexpected: [] },
    "every line's content stored exactly once",
  );
  t.ok(
    (await metricValue(agent, 'k8s_logs_agent_rotations_total', { kind: 'truncate' })) >= 1,
    'truncation detected and counted',
  );
});

t.test('a file deleted while open is read to its end, logged and counted', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  const path = join(logs, containerLogName('del', 'ns', 'c'));
  let text = '';
  for (let i = 0; i < 50; i++) text += cri(`before ${i}`);
  await writeFile(path, text);
  const agent = await runAgent({ dir, sink });
  t.teardown(() => agent.stop());
  await sink.waitFor(() => sink.uniqueIds >= 50, 5000, 'first 50');
  const key = await keyOf(path);
  const fh = await open(path, 'a');
  let more = '';
  for (let i = 0; i < 50; i++) more += cri(`after ${i}`);
  await unlink(path);
  await fh.write(more);
  await fh.close();
  await sink.waitFor(() => sink.uniqueIds >= 100, 5000, 'all 100');
  t.same(new Set(sink.idCounts.keys()), new Set(idsAt(key, lineOffsets(text + more))));
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_file_errors_total', { reason: 'file_deleted' })) >= 1,
    5000,
    'file_deleted counted',
  );
});

t.test('unreadable entries and a vanishing directory are survived', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  await symlink('loop.log', join(logs, 'loop.log')); // ELOOP
  const a = join(logs, containerLogName('a', 'ns', 'c'));
  await writeFile(a, cri('first file'));
  const agent = await runAgent({ dir, sink });
  t.teardown(() => agent.stop());
  await sink.waitFor(() => sink.uniqueIds >= 1, 5000, 'first record');
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_file_errors_total', { reason: 'file_unreadable' })) >= 1,
    5000,
    'unreadable counted',
  );
  await rm(logs, { recursive: true });
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_file_errors_total', { reason: 'file_unreadable' })) >= 2,
    5000,
    'missing directory counted',
  );
  await mkdir(logs);
  const b = join(logs, containerLogName('b', 'ns', 'c'));
  await writeFile(b, cri('second file'));
  await sink.waitFor(
    () => sink.records.some((r) => r.message === 'second file'),
    5000,
    'record from the recreated directory',
  );
  t.equal(agent.health().ok, true);
});

t.test('odd content: empty files, 1 MiB lines, invalid UTF-8, binary garbage, partials across rotation', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  await writeFile(join(logs, containerLogName('empty', 'ns', 'c')), '');
  const big = 'x'.repeat(1024 * 1024);
  const bigFile = join(logs, containerLogName('big', 'ns', 'c'));
  // A runtime splits a 1 MiB line into 16 KiB P pieces.
  let bigText = '';
  for (let i = 0; i < big.length; i += 16384)
    bigText += cri(big.slice(i, i + 16384), { tag: i + 16384 >= big.length ? 'F' : 'P' });
  bigText += cri('after big');
  await writeFile(bigFile, bigText);
  const garbage = join(logs, containerLogName('garbage', 'ns', 'c'));
  const bytes = Buffer.alloc(5000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256;
  await writeFile(
    garbage,
    Buffer.concat([Buffer.from(cri('ok line')), bytes, Buffer.from('\n'), Buffer.from(cri('tail ok'))]),
  );
  const utf = join(logs, containerLogName('utf', 'ns', 'c'));
  await writeFile(
    utf,
    Buffer.concat([
      Buffer.from('2026-11-25T12:00:00.000000001Z stdout F bad '),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from(' end\n'),
    ]),
  );
  const rot = join(logs, containerLogName('rot', 'ns', 'c'));
  await writeFile(rot, cri('start of ', { tag: 'P' }));
  const agent = await runAgent({ dir, sink, config: { maxLineBytes: 256 * 1024, rotateWaitMs: 100 } });
  t.teardown(() => agent.stop());
  await sink.waitFor(() => sink.records.some((r) => r.message === 'after big'), 10_000, 'big file done');
  const bigParts = sink.records.filter((r) => r.pod === 'big' && r.message !== 'after big');
  t.equal(bigParts.map((r) => r.message).join(''), big, '1 MiB line arrives whole, split into records');
  t.equal(bigParts.length, 4);
  t.ok((await metricValue(agent, 'k8s_logs_agent_line_anomalies_total', { reason: 'line_split' })) >= 4);
  await sink.waitFor(() => sink.records.some((r) => r.message === 'tail ok'), 5000, 'garbage file');
  t.ok(sink.records.some((r) => r.pod === 'garbage' && r.message === 'ok line'));
  t.ok(
    (await metricValue(agent, 'k8s_logs_agent_line_anomalies_total', { reason: 'parse_failed' })) >= 1,
    'garbage kept raw and counted',
  );
  await sink.waitFor(() => sink.records.some((r) => r.pod === 'utf'), 5000, 'utf8 file');
  t.equal(sink.records.find((r) => r.pod === 'utf')?.message, 'bad \ufffd(\ufffd end');
  // Partial at the end of a file that is then rotated away: flushed when the old file is done.
  await rename(rot, `${rot}.1`);
  await writeFile(rot, cri('end'));
  await sink.waitFor(() => sink.records.filter((r) => r.pod === 'rot').length >= 2, 5000, 'both pieces');
  t.same(
    sink.records
      .filter((r) => r.pod === 'rot')
      .map((r) => r.message)
      .sort(),
    ['end', 'start of '],
  );
  t.ok((await metricValue(agent, 'k8s_logs_agent_line_anomalies_total', { reason: 'partial_flushed' })) >= 1);
  t.same(sink.invalid, []);
  const emptyStat = await stat(join(logs, containerLogName('empty', 'ns', 'c')));
  t.equal(emptyStat.size, 0);
  t.notOk(sink.records.some((r) => r.pod === 'empty'));
  void append;
});

/** The messages of full CRI lines (`<ts> <stream> F <message>`), in order. */
function criMessages(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' ').slice(3).join(' '));
}
