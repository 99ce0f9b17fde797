/** ByteBudget's read sizing: reads in flight together share what is left of the bound. */
import t from 'tap';
import { ByteBudget, MIN_READ_BYTES } from '../../../agent/batch/byte-budget.ts';

const KiB = 1024;
const budget = (limit: number) =>
  new ByteBudget(
    limit,
    () => {},
    () => {},
  );

t.test('reads sized together share the room instead of each getting all of it', async (t) => {
  // Before any read the expansion is taken as ×4 (cautious): 1,096 KiB left = 274 KiB of reads.
  const b = budget(4096 * KiB);
  b.add(3000 * KiB);
  const reads = Array.from({ length: 8 }, () => b.reserveRead(256 * KiB));
  t.equal(reads[0]!.bytes, 256 * KiB, 'the first gets a whole buffer (1,024 KiB of records)');
  t.equal(reads[1]!.bytes, 18 * KiB, 'the second what is left after it (72 KiB of records)');
  t.same(
    reads.slice(2).map((r) => r.bytes),
    Array(6).fill(MIN_READ_BYTES),
    'the rest the minimum read, not the room the first two took',
  );
  for (const r of reads) b.readDone(r, 0, 0);
  t.equal(b.reserveRead(256 * KiB).bytes, 256 * KiB, 'finished reads give their room back');
});

t.test('the expansion seen on reads sizes the next ones', async (t) => {
  const b = budget(4096 * KiB);
  b.add(3000 * KiB);
  for (let i = 0; i < 40; i++) b.readDone(b.reserveRead(16 * KiB), 10 * KiB, 20 * KiB); // records ×2
  const r = b.reserveRead(1024 * KiB);
  t.ok(Math.abs(r.bytes - 548 * KiB) < 8 * KiB, `≈ 1,096 KiB / 2 (${Math.round(r.bytes / KiB)} KiB)`);
  b.readDone(r, 0, 0);
});

t.test('far from the bound a read is the whole buffer; a finished read gives its room back', async (t) => {
  const b = budget(64 * 1024 * KiB);
  const r = b.reserveRead(256 * KiB);
  t.equal(r.bytes, 256 * KiB);
  b.readDone(r, 256 * KiB, 0);
  const tight = budget(512 * KiB);
  const first = tight.reserveRead(256 * KiB);
  const second = tight.reserveRead(256 * KiB);
  t.ok(second.bytes < first.bytes || second.bytes === MIN_READ_BYTES, 'the second read sees the first one reserved');
  tight.readDone(first, 0, 0);
  tight.readDone(second, 0, 0);
  t.equal(tight.reserveRead(256 * KiB).bytes, first.bytes, 'released reservations free the room again');
});
