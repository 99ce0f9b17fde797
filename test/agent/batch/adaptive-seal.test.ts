/**
 * Batch size follows the aggregator's latency: an open batch is sealed early (at
 * minBatchAgeMs) only while the pipe is idle; while a request is out it keeps
 * filling until maxBatchAgeMs. Driven by tick with explicit clock values: no timers.
 */
import t from 'tap';
import { AckTracker } from '../../../agent/batch/ack-tracker.ts';
import { Batcher, type Compressor, type SealedBatch } from '../../../agent/batch/batcher.ts';
import { ByteBudget } from '../../../agent/batch/byte-budget.ts';

// Synchronous "compression" so a seal is observable right after tick.
const identity: Compressor = (raw, _level, done) => done(null, Buffer.from(raw));

function batcher(opts: { minBatchAgeMs: number }, idle: () => boolean) {
  const sealed: SealedBatch[] = [];
  const b = new Batcher(
    { maxBatchBytes: 64 * 1024, maxBatchRecords: 1000, maxBatchAgeMs: 1000, gzipLevel: 1, ...opts },
    new AckTracker(() => {}),
    new ByteBudget(
      1 << 20,
      () => {},
      () => {},
    ),
    (batch) => sealed.push(batch),
    () => {},
    identity,
    idle,
  );
  return { b, sealed };
}

t.test('an idle pipe takes a batch once it is minBatchAgeMs old', async (t) => {
  const { b, sealed } = batcher({ minBatchAgeMs: 100 }, () => true);
  b.append('{"a":1}\n', 1000);
  b.append('{"a":2}\n', 1050);
  b.tick(1099);
  t.equal(sealed.length, 0, 'younger than minBatchAgeMs');
  b.tick(1100);
  t.equal(sealed.length, 1);
  t.equal(sealed[0]!.records, 2);
});

t.test('a busy pipe lets the batch grow to maxBatchAgeMs', async (t) => {
  let idle = false;
  const { b, sealed } = batcher({ minBatchAgeMs: 100 }, () => idle);
  b.append('{"a":1}\n', 0);
  for (let now = 100; now < 1000; now += 100) {
    b.append(`{"a":${now}}\n`, now);
    b.tick(now);
  }
  t.equal(sealed.length, 0, 'a request out: no early seal');
  b.tick(1000);
  t.equal(sealed.length, 1, 'sealed at maxBatchAgeMs anyway');
  t.equal(sealed[0]!.records, 10);
  // The slot frees up: the next batch goes out early again.
  idle = true;
  b.append('{"b":1}\n', 1000);
  b.tick(1100);
  t.equal(sealed.length, 2);
});

t.test('minBatchAgeMs 0 keeps the fixed age', async (t) => {
  const { b, sealed } = batcher({ minBatchAgeMs: 0 }, () => true);
  b.append('{"a":1}\n', 0);
  b.tick(999);
  t.equal(sealed.length, 0);
  b.tick(1000);
  t.equal(sealed.length, 1);
});
