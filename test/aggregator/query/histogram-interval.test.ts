import t from 'tap';
import { autoInterval, bucketCount, intervalNanos, resolveInterval, IntervalError, MAX_AUTO_BUCKETS } from '../../../aggregator/query/histogram-interval.ts';
import { parseRfc3339Nanos } from '../../../shared/time.ts';

const S = 1_000_000_000n;
const at = (iso: string) => parseRfc3339Nanos(iso)!;
const from = at('2026-11-25T10:00:00Z');

t.test('intervalNanos reads whole s/m/h/d and nothing else', async (t) => {
  const cases: Array<[string, bigint | undefined]> = [
    ['1s', S], ['90s', 90n * S], ['5m', 300n * S], ['3h', 10_800n * S], ['1d', 86_400n * S],
    ['0s', undefined], ['1.5m', undefined], ['1w', undefined], ['m', undefined], ['-1s', undefined], ['1 m', undefined], ['01s', undefined],
  ];
  for (const [input, want] of cases) t.equal(intervalNanos(input), want, input);
});

t.test('bucketCount counts the partial buckets at both ends', async (t) => {
  t.equal(bucketCount(0n, 59n * S, 60n * S), 1n);
  t.equal(bucketCount(0n, 60n * S, 60n * S), 2n);
  t.equal(bucketCount(30n * S, 90n * S, 60n * S), 2n);
  t.equal(bucketCount(from, from + 3600n * S - 1n, 60n * S), 60n);
});

t.test('automatic interval: smallest ladder step with at most 120 buckets', async (t) => {
  const cases: Array<[string, bigint, string]> = [
    ['1 second', S, '1s'],
    ['1 minute', 60n * S, '1s'],
    ['2 minutes', 120n * S, '1s'],
    ['2 minutes and 1 s', 121n * S, '5s'],
    ['10 minutes', 600n * S, '5s'],
    ['10 minutes and 1 ns', 600n * S + 1n, '10s'],
    ['15 minutes', 900n * S, '10s'],
    ['1 hour', 3600n * S, '30s'],
    ['2 hours', 7200n * S, '1m'],
    ['3 hours', 10_800n * S, '5m'],
    ['6 hours', 21_600n * S, '5m'],
    ['24 hours', 86_400n * S, '30m'],
    ['7 days', 7n * 86_400n * S, '3h'],
    ['30 days', 30n * 86_400n * S, '6h'],
    ['31 days', 31n * 86_400n * S, '12h'],
    ['90 days', 90n * 86_400n * S, '1d'],
    ['120 days', 120n * 86_400n * S, '1d'],
    ['1 year', 365n * 86_400n * S, '4d'],
  ];
  for (const [name, span, want] of cases) {
    const got = autoInterval(from, from + span);
    t.equal(got, want, name);
    t.ok(bucketCount(from, from + span, intervalNanos(got)!) <= BigInt(MAX_AUTO_BUCKETS + 2), `${name}: about ${MAX_AUTO_BUCKETS} buckets at most`);
  }
  t.equal(autoInterval(from, from), '1s', 'empty window');
});

t.test('an explicit interval is validated', async (t) => {
  t.equal(resolveInterval(from, from + 3600n * S, '5m'), '5m');
  t.equal(resolveInterval(from, from + 3600n * S, undefined), '30s', 'now-1h gets 30s');
  t.throws(() => resolveInterval(from, from + 3600n * S, 'often'), IntervalError);
  t.throws(() => resolveInterval(from, from + 86_400n * S, '1s'), IntervalError, 'too many buckets');
});
