import t from 'tap';
import { BulkGate, BulkQueueFullError } from '../../../aggregator/store/bulk-gate.ts';

t.test('at most maxConcurrent run; waiters get slots in arrival order', async (t) => {
  const gate = new BulkGate(2, 10);
  const order: number[] = [];
  const a = await gate.acquire();
  const b = await gate.acquire();
  t.equal(gate.active, 2);
  const waiting = [3, 4, 5].map((n) =>
    gate.acquire().then((release) => {
      order.push(n);
      return release;
    }),
  );
  await Promise.resolve();
  t.equal(gate.queued, 3);
  t.same(order, [], 'no third slot');
  a();
  a(); // idempotent: a second call frees nothing more
  const r3 = await waiting[0]!;
  t.same(order, [3]);
  t.equal(gate.active, 2);
  b();
  r3();
  const [r4, r5] = await Promise.all([waiting[1]!, waiting[2]!]);
  t.same(order, [3, 4, 5]);
  r4();
  r5();
  t.equal(gate.active, 0);
  t.equal(gate.queued, 0);
});

t.test('admission counts free slots and refuses a batch that would wait past the bound', async (t) => {
  const gate = new BulkGate(2, 1);
  gate.admit(3); // idle: 2 start at once, 1 waits
  const held = [await gate.acquire(), await gate.acquire()];
  gate.admit(1); // one may wait
  const waiter = gate.acquire();
  t.throws(() => gate.admit(1), BulkQueueFullError, 'a second waiter is past the bound');
  held[0]!();
  const r = await waiter;
  gate.admit(1);
  t.throws(() => gate.admit(2), BulkQueueFullError);
  r();
  held[1]!();
  gate.admit(50); // nothing in flight or waiting: always admitted (slow, never starved)
});

t.test('run releases the slot when the work fails', async (t) => {
  const gate = new BulkGate(1, 0);
  await t.rejects(
    gate.run(async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  t.equal(gate.active, 0);
  t.equal(await gate.run(async () => 7), 7);
});
