import t from 'tap';
import { AckTracker } from '../../../agent/batch/ack-tracker.ts';
import type { TrackedFile } from '../../../agent/checkpoint/tracked-file.ts';

function file(key: string, floor: { v: number }): TrackedFile {
  return {
    key,
    path: key,
    realPath: key,
    dev: '1',
    ino: '2',
    fingerprint: 'f',
    floor: () => floor.v,
    ackedOffset: 0,
    dirty: false,
  };
}

t.test('commits a floor only when every earlier batch has settled', async (t) => {
  const commits: Array<[string, number]> = [];
  const acks = new AckTracker((f, off) => commits.push([f.key, off]));
  const fa = { v: 0 };
  const a = file('a', fa);
  fa.v = 100;
  acks.touch(a);
  const e1 = acks.snapshot();
  fa.v = 250;
  acks.touch(a);
  const e2 = acks.snapshot();
  acks.settle(e2);
  t.same(commits, [], 'batch 2 settled before batch 1: nothing committed');
  t.equal(a.ackedOffset, 0);
  acks.settle(e1);
  t.same(
    commits,
    [
      ['a', 100],
      ['a', 250],
    ],
    'both commit in order once batch 1 settles',
  );
  t.equal(a.ackedOffset, 250);
});

t.test('a pending partial spanning batches holds the committed offset at its first piece', async (t) => {
  const commits: Array<[string, number]> = [];
  const acks = new AckTracker((f, off) => commits.push([f.key, off]));
  const fl = { v: 0 };
  const f = file('f', fl);
  // Batch 1 holds lines [0,50) and [80,120); a partial started at 50 is still pending.
  fl.v = 50;
  acks.touch(f);
  const e1 = acks.snapshot();
  acks.settle(e1);
  t.same(commits, [['f', 50]], 'commit stops at the first byte of the unfinished partial');
  fl.v = 200; // partial completed and emitted in batch 2
  acks.touch(f);
  const e2 = acks.snapshot();
  acks.settle(e2);
  t.same(commits.at(-1), ['f', 200]);
});

t.test('only touched files are snapshotted; untouched ones keep their commit', async (t) => {
  const acks = new AckTracker(() => undefined);
  const fa = { v: 10 };
  const fb = { v: 20 };
  const a = file('a', fa);
  const b = file('b', fb);
  acks.touch(a);
  acks.touch(b);
  acks.touch(a);
  const e1 = acks.snapshot();
  t.equal(e1.files.length, 2, 'a file is listed once however often it was touched');
  fb.v = 30;
  acks.touch(b);
  const e2 = acks.snapshot();
  t.same(
    e2.files.map((f) => f.key),
    ['b'],
  );
  acks.settle(e1);
  acks.settle(e2);
  t.equal(a.ackedOffset, 10);
  t.equal(b.ackedOffset, 30);
  t.equal(acks.outstanding, 0);
});
