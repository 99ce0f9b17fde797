// The pure core of collect jobs: the pods/log parser, the replay filter of a resumed read
// (the API server's whole-second sinceTime), line ids and the request normalisation.
import t from 'tap';
import { PodLogParser } from '../../../aggregator/collect/pod-log-parser.ts';
import { ReplayFilter, advance, resumeSinceTime } from '../../../aggregator/collect/resume-position.ts';
import { bulkParams, continuousParams, oneTimeParams } from '../../../aggregator/collect/collect-request.ts';
import { MAX_TIMER_MS, abortAt, nextStepMs } from '../../../aggregator/collect/abort-at.ts';
import { admit, type Reservation } from '../../../aggregator/collect/collect-limits.ts';
import { StreamSlots } from '../../../aggregator/collect/stream-slots.ts';
import { AppError } from '../../../aggregator/errors.ts';
import { collectedRecordId } from '../../../shared/ids.ts';
import { parseRfc3339Nanos } from '../../../shared/time.ts';

const ns = (s: string) => parseRfc3339Nanos(s)!;

t.test('parser returns complete lines across chunk boundaries and holds the partial one', async (t) => {
  const p = new PodLogParser();
  const a = p.push(Buffer.from('2026-01-02T03:04:05.123456789Z hello\n2026-01-02T03:04:05.5Z wor'));
  t.same(
    a.map((l) => [l.timestamp, l.text]),
    [['2026-01-02T03:04:05.123456789Z', 'hello']],
  );
  const b = p.push(Buffer.from('ld é\n2026-01-02T03:04:06Z\n'));
  t.same(
    b.map((l) => [l.timestamp, l.text]),
    [
      ['2026-01-02T03:04:05.500000000Z', 'world é'],
      ['2026-01-02T03:04:06.000000000Z', ''],
    ],
  );
  p.push(Buffer.from('2026-01-02T03:04:07Z cut in the mi'));
  t.same(p.end(false), [], 'a cut stream drops its partial line (read again on resume)');
  p.push(Buffer.from('2026-01-02T03:04:07Z limit'));
  t.same(
    p.end(true).map((l) => l.text),
    ['limit'],
    'a limitBytes truncation keeps it',
  );
  p.push(Buffer.from('not a timestamp line\n'));
  t.equal(p.malformed, 1);
});

t.test('replay filter skips what a whole-second resume replays, and nothing else', async (t) => {
  const lines = [
    '2026-01-02T03:04:05.100000000Z',
    '2026-01-02T03:04:05.200000000Z',
    '2026-01-02T03:04:05.200000000Z',
    '2026-01-02T03:04:05.200000000Z',
    '2026-01-02T03:04:05.900000000Z',
  ];
  // Stored: the first three (position 1 of .2 was the last).
  const pos = advance('c1', lines[2]!, 1);
  t.equal(pos.at_last_ts, 2);
  t.equal(resumeSinceTime(pos), '2026-01-02T03:04:05Z', 'since = the whole second');
  const f = new ReplayFilter({ ns: ns(pos.last_ts), at: pos.at_last_ts });
  const got = lines.map((l) => f.next(ns(l)));
  t.same(
    got.map((g) => g.keep),
    [false, false, false, true, true],
  );
  t.same(
    got.map((g) => g.position),
    [0, 0, 1, 2, 0],
  );
  // A clock step back after new lines: still kept.
  t.equal(f.next(ns('2026-01-02T03:04:05.000000000Z')).keep, true);
  const all = new ReplayFilter(undefined);
  t.ok(lines.every((l) => all.next(ns(l)).keep));
});

t.test('line ids are stable and tell container instances and positions apart', async (t) => {
  const id = (cid: string, pos: number) =>
    collectedRecordId('c', 'uid', 'main', cid, '2026-01-02T03:04:05.100000000Z', pos);
  t.equal(id('a', 0), id('a', 0));
  t.not(id('a', 0), id('a', 1));
  t.not(id('a', 0), id('b', 0));
  t.match(id('a', 0), /^k[0-9a-f]{31}$/);
});

t.test('requests are normalised or refused with the field named', async (t) => {
  const now = ns('2026-01-02T03:04:05Z');
  const limits = { oneTimeConcurrency: 4, bulkConcurrencyDefault: 5, bulkConcurrencyMax: 20 };
  const p = oneTimeParams({ cluster: 'c', namespace: 'n', pods: ['a'], since_seconds: 60 }, now, limits);
  t.equal(p.since_time, '2026-01-02T03:03:05.000000000Z', 'since_seconds resolved once into an instant');
  t.throws(() => oneTimeParams({ cluster: 'c', namespace: 'n' }, now, limits), /pods .* or label_selector/);
  t.throws(
    () => oneTimeParams({ cluster: 'c', namespace: 'n', pods: ['a'], label_selector: 'x' }, now, limits),
    /not both/,
  );
  t.throws(
    () => oneTimeParams({ cluster: 'c', namespace: 'n', label_selector: 'a in (' }, now, limits),
    /label_selector/,
  );
  t.throws(
    () => oneTimeParams({ cluster: 'c', namespace: 'n', pods: ['a'], since_time: 'yesterday' }, now, limits),
    /since_time/,
  );
  t.throws(
    () => oneTimeParams({ cluster: 'c', namespace: 'n', pods: ['a'], since_time: '2027-01-01T00:00:00Z' }, now, limits),
    /future/,
  );
  t.throws(
    () =>
      oneTimeParams(
        { cluster: 'c', namespace: 'n', pods: ['a'], since_seconds: 5, since_time: '2026-01-01T00:00:00Z' },
        now,
        limits,
      ),
    /at most one/,
  );
  t.throws(() => continuousParams({ cluster: 'c', namespace: 'n', end_time: '2026-01-01T00:00:00Z' }, now), /end_time/);
  t.equal(continuousParams({ cluster: 'c', namespace: 'n' }, now).pods, null, 'continuous: the whole namespace');
  t.equal(bulkParams({ cluster: 'c', concurrency: 500 }, now, limits, null).concurrency, 20, 'bulk concurrency capped');
  t.same(
    bulkParams({ cluster: 'c' }, now, limits, ['x', 'y']).namespaces,
    ['x', 'y'],
    "a restricted token's namespaces",
  );
});

t.test('an end instant is waited for in steps a timer can hold', async (t) => {
  const nowMs = 1_800_000_000_000;
  const at = (ms: number) => BigInt(nowMs + ms) * 1_000_000n;
  t.equal(nextStepMs(at(-5), nowMs), 0, 'past: now');
  t.equal(nextStepMs(at(0), nowMs), 0, 'exactly now');
  t.equal(nextStepMs(at(1500), nowMs), 1500);
  t.equal(nextStepMs(at(0) + 1n, nowMs), 1, 'a nanosecond ahead rounds up to a millisecond');
  t.equal(nextStepMs(at(40 * 86_400_000), nowMs), MAX_TIMER_MS, '40 days: one full step first');
  t.equal(MAX_TIMER_MS, 2 ** 31 - 1);

  // The chain: each step re-reads the clock and waits again until the instant has come.
  let clock = nowMs;
  const ctl = new AbortController();
  const cancel = abortAt(at(10), ctl, 'end', () => clock);
  t.notOk(ctl.signal.aborted, 'not before the instant');
  clock += 10;
  await new Promise<void>((resolve) => ctl.signal.addEventListener('abort', () => resolve(), { once: true }));
  t.equal(ctl.signal.reason, 'end');
  cancel();
});

t.test('submit-time limits: continuous jobs, streams per cluster and overall', async (t) => {
  const limits = { maxStreamsPerCluster: 10, maxStreams: 15, maxContinuousJobs: 2 };
  const cont = (cluster: string, streams: number) => ({ type: 'collect-continuous', cluster, streams });
  const bulk = (cluster: string, streams: number) => ({ type: 'collect-bulk', cluster, streams });
  const code = (active: Reservation[], next: Reservation) => {
    try {
      admit(active, next, limits);
      return 'admitted';
    } catch (err) {
      return err instanceof AppError
        ? `${err.status} ${err.code}${err.retryAfterSeconds ? ' retry' : ''}`
        : String(err);
    }
  };
  const cases: Array<[string, Reservation[], Reservation, string]> = [
    ['empty', [], bulk('a', 10), 'admitted'],
    ['cluster full', [bulk('a', 6)], bulk('a', 5), '429 collect_streams_exhausted retry'],
    ['other cluster fits', [bulk('a', 6)], bulk('b', 5), 'admitted'],
    ['overall full', [bulk('a', 8), bulk('b', 5)], bulk('c', 3), '429 collect_streams_exhausted retry'],
    ['overall exactly', [bulk('a', 8), bulk('b', 5)], bulk('c', 2), 'admitted'],
    ['third continuous', [cont('a', 1), cont('b', 1)], cont('c', 1), '409 too_many_continuous_collections'],
    ['bulk beside two continuous', [cont('a', 1), cont('b', 1)], bulk('c', 1), 'admitted'],
  ];
  for (const [what, active, next, want] of cases) t.equal(code(active, next), want, what);
});

t.test("a replica's stream slots: per cluster and overall, FIFO, an aborted wait leaves the queue", async (t) => {
  const slots = new StreamSlots(2, 3);
  const never = new AbortController().signal;
  const a1 = await slots.acquire('a', never);
  await slots.acquire('a', never);
  const order: string[] = [];
  const third = slots.acquire('a', never).then((r) => (order.push('a3'), r));
  const b1 = await slots.acquire('b', never);
  t.equal(slots.open(), 3);
  t.equal(slots.open('a'), 2, 'a is at its cluster limit');
  const ctl = new AbortController();
  const waitingB = slots.acquire('b', ctl.signal);
  ctl.abort(new Error('cancelled'));
  await t.rejects(waitingB, /cancelled/, 'an aborted wait rejects');
  const b2 = slots.acquire('b', never).then((r) => (order.push('b2'), r));
  a1();
  a1(); // a second release is a no-op
  const release3 = await third;
  t.equal(slots.open('a'), 2);
  b1();
  await b2;
  t.same(order, ['a3', 'b2'], 'woken in order as slots free up');
  t.equal(slots.open(), 3);
  release3();
  t.equal(slots.open(), 2);
});
