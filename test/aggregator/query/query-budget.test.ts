import t from 'tap';
import {
  checkWindow,
  storeTimeoutParams,
  transportOptions,
  withDeadline,
  type AbortableCall,
} from '../../../aggregator/query/query-budget.ts';
import { PitGate } from '../../../aggregator/query/pit-gate.ts';
import { AppError } from '../../../aggregator/errors.ts';
import { acceptedRequestId } from '../../../aggregator/app.ts';

const HOUR = 3_600_000_000_000n;

/** A call that settles only when told to, counting aborts. */
function controllable<T>() {
  let resolve: (v: T) => void = () => {};
  let reject: (e: unknown) => void = () => {};
  const p = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  p.catch(() => {});
  const state = { aborts: 0 };
  const call: AbortableCall<T> = Object.assign(p, { abort: () => void state.aborts++ });
  return { call, resolve: (v: T) => resolve(v), reject: (e: unknown) => reject(e), state };
}

t.test('checkWindow accepts the limit exactly and refuses one nanosecond more, naming the limit', async (t) => {
  const budget = { requestClass: 'heavy' as const, maxWindowHours: 168 };
  t.doesNotThrow(() => checkWindow(budget, 0n, 168n * HOUR));
  const err = (() => {
    try {
      checkWindow(budget, 0n, 168n * HOUR + 1n);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  t.ok(err instanceof AppError && err.code === 'window_too_large' && err.status === 400);
  t.match((err as Error).message, /heavy request limit of 168 h/);
});

t.test('withDeadline: a result in time passes through and nothing is aborted', async (t) => {
  const c = controllable<string>();
  const signal = new AbortController().signal;
  const p = withDeadline({ signal, timeoutMs: 60_000 }, 'search', c.call);
  c.resolve('ok');
  t.equal(await p, 'ok');
  t.equal(c.state.aborts, 0);
});

t.test('withDeadline: past the timeout the call is aborted and the caller gets 504 query_timeout', async (t) => {
  const c = controllable<string>();
  const err = await withDeadline({ signal: new AbortController().signal, timeoutMs: 20 }, 'search', c.call).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof AppError && err.status === 504 && err.code === 'query_timeout');
  t.equal(c.state.aborts, 1);
});

t.test('withDeadline: a client that left aborts the call, before or during it', async (t) => {
  const during = controllable<string>();
  const ac = new AbortController();
  const p = withDeadline({ signal: ac.signal, timeoutMs: 60_000 }, 'search', during.call).then(
    () => undefined,
    (e: unknown) => e,
  );
  ac.abort();
  const err = await p;
  t.ok(err instanceof AppError && err.code === 'client_closed_request');
  t.equal(during.state.aborts, 1);
  const before = controllable<string>();
  const err2 = await withDeadline({ signal: ac.signal, timeoutMs: 60_000 }, 'search', before.call).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err2 instanceof AppError && err2.code === 'client_closed_request');
  t.equal(before.state.aborts, 1, 'an already-aborted signal aborts at once');
});

t.test('withDeadline: store errors pass through unchanged; no deadline is a plain await', async (t) => {
  const c = controllable<string>();
  const boom = new Error('store said no');
  const p = withDeadline({ signal: new AbortController().signal, timeoutMs: 60_000 }, 'search', c.call).then(
    () => undefined,
    (e: unknown) => e,
  );
  c.reject(boom);
  t.equal(await p, boom);
  const plain = controllable<number>();
  const q = withDeadline(undefined, 'search', plain.call);
  plain.resolve(7);
  t.equal(await q, 7);
  t.same(storeTimeoutParams(undefined), {});
  t.same(transportOptions(undefined), {});
  t.same(storeTimeoutParams({ signal: new AbortController().signal, timeoutMs: 1000 }), {
    cancel_after_time_interval: '3000ms',
  });
});

t.test('PitGate: at most max slots; release is idempotent', async (t) => {
  const gate = new PitGate(2);
  const a = gate.tryAcquire();
  const b = gate.tryAcquire();
  t.ok(a && b);
  t.equal(gate.tryAcquire(), undefined, 'full');
  a?.();
  a?.();
  t.equal(gate.open, 1, 'a double release frees one slot only');
  t.ok(gate.tryAcquire());
  t.throws(() => new PitGate(0), RangeError);
});

t.test('acceptedRequestId keeps 1–128 printable ASCII characters, nothing else', async (t) => {
  const cases: Array<[string | string[] | undefined, boolean]> = [
    ['abc-123', true],
    ['a'.repeat(128), true],
    ['a'.repeat(129), false],
    ['', false],
    ['has space', false],
    ['tab\t', false],
    ['nul\u0000', false],
    ['é', false],
    ['~!@#$%^&*()_+{}|:"<>?', true],
    [['a', 'b'], false],
    [undefined, false],
  ];
  for (const [input, kept] of cases) t.equal(acceptedRequestId(input) !== undefined, kept, JSON.stringify(input));
});
