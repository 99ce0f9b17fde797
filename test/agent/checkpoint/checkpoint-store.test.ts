import t from 'tap';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointStore } from '../../../agent/checkpoint/checkpoint-store.ts';
import { tempDir } from '../helpers.ts';

const entry = (key: string, offset: number) => ({
  key,
  path: `/x/${key}`,
  real_path: `/x/${key}`,
  dev: '1',
  ino: key,
  fingerprint: 'fp',
  offset,
  updated_at: 1,
});

t.test('first start, persist, reload, find by identity', async (t) => {
  const dir = await tempDir(t);
  const s1 = await CheckpointStore.open(dir);
  t.equal(s1.firstStart, true);
  s1.set(entry('10', 123));
  s1.set(entry('11', 7));
  t.equal(await s1.flush(), true);
  t.equal(await s1.flush(), false, 'nothing to write when clean');
  const s2 = await CheckpointStore.open(dir);
  t.equal(s2.firstStart, false);
  t.equal(s2.find('1', '10', 'fp')?.offset, 123);
  t.equal(s2.find('1', '10', 'other-fp'), undefined, 'fingerprint is part of the identity');
  s2.delete('11');
  await s2.flush();
  const s3 = await CheckpointStore.open(dir);
  t.equal(s3.size, 1);
  const names = await readdir(dir);
  t.same(
    names.filter((n) => n.includes('.tmp')),
    [],
    'no temp file left behind',
  );
});

t.test('a corrupt checkpoint file is moved aside, not fatal', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'checkpoints.json'), '{"version":1,"files":[{"key":');
  const s = await CheckpointStore.open(dir);
  t.equal(s.firstStart, true);
  t.ok(s.recoveredFrom?.includes('corrupt'));
  t.match(await readFile(s.recoveredFrom!, 'utf8'), /"files"/);
});

t.test('concurrent flushes serialise and the last state wins', async (t) => {
  const dir = await tempDir(t);
  const s = await CheckpointStore.open(dir);
  const writes: Promise<boolean>[] = [];
  for (let i = 1; i <= 20; i++) {
    s.set(entry('a', i));
    writes.push(s.flush());
  }
  await Promise.all(writes);
  const reloaded = await CheckpointStore.open(dir);
  t.equal(reloaded.get('a')?.offset, 20);
});

t.test('generations and the replay journal persist; find returns the latest generation', async (t) => {
  const dir = await tempDir(t);
  const s1 = await CheckpointStore.open(dir);
  const inflight = { hi: 300, spans: [0, 100, 250], cuts: [1, 120], clock: [100, 1_700_000_000_000] };
  s1.set({ ...entry('g0', 500), ino: '20' });
  s1.set({ ...entry('g1', 40), ino: '20', generation: 1, inflight });
  await s1.flush();
  const s2 = await CheckpointStore.open(dir);
  const found = s2.find('1', '20', 'fp');
  t.equal(found?.key, 'g1', 'the latest generation of the identity');
  t.same(found?.inflight, inflight, 'journal round-trips');
});
