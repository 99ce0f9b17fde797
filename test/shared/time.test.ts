import t from 'tap';
import {
  canonicalTimestamp,
  formatNanos,
  indexDay,
  InvalidTimeError,
  parseRfc3339Nanos,
  parseTimeParam,
} from '../../shared/time.ts';

const now = parseRfc3339Nanos('2026-11-25T12:00:00Z')!;

t.test('parseTimeParam accepts every documented form', async (t) => {
  const cases: Array<[string, string]> = [
    ['2026-11-25T10:00:00Z', '2026-11-25T10:00:00.000000000Z'],
    ['2026-11-25T10:00:00.123456789Z', '2026-11-25T10:00:00.123456789Z'],
    ['2026-11-25T10:00:00.5+02:00', '2026-11-25T08:00:00.500000000Z'],
    ['2026-11-25T10:00:00-01:30', '2026-11-25T11:30:00.000000000Z'],
    ['1795608000', '2026-11-25T12:00:00.000000000Z'],
    ['1795608000.25', '2026-11-25T12:00:00.250000000Z'],
    ['1795608000123', '2026-11-25T12:00:00.123000000Z'],
    ['1795608000123456', '2026-11-25T12:00:00.123456000Z'],
    ['1795608000123456789', '2026-11-25T12:00:00.123456789Z'],
    ['now', '2026-11-25T12:00:00.000000000Z'],
    ['now-15m', '2026-11-25T11:45:00.000000000Z'],
    ['now-2h', '2026-11-25T10:00:00.000000000Z'],
    ['now-1d', '2026-11-24T12:00:00.000000000Z'],
    ['now-500ms', '2026-11-25T11:59:59.500000000Z'],
  ];
  for (const [input, want] of cases) {
    t.equal(formatNanos(parseTimeParam(input, now)), want, input);
  }
});

t.test('parseTimeParam rejects what is not a time', async (t) => {
  for (const bad of ['yesterday', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', 'now+5m', '', '12x', '2026-11-25', '1e9']) {
    t.throws(() => parseTimeParam(bad, now), InvalidTimeError, JSON.stringify(bad));
  }
});

t.test('parseTimeParam rejects instants the store cannot hold (a 400, not a formatting crash)', async (t) => {
  for (const bad of ['now-9999999999d', '99999999999999999999', '1969-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', 'now-300y']) {
    t.throws(() => parseTimeParam(bad, now), InvalidTimeError, JSON.stringify(bad));
  }
  t.equal(parseTimeParam('9223372036854775807', now), 9_223_372_036_854_775_807n, 'the last date_nanos instant is accepted');
  t.equal(parseTimeParam('0', now), 0n, 'the epoch is accepted');
});

t.test('canonical timestamps sort in time order and name the day index', async (t) => {
  const a = canonicalTimestamp('2026-11-25T23:59:59.999999999+00:00')!;
  const b = canonicalTimestamp('2026-11-26T00:00:00.1Z')!;
  t.ok(a < b);
  t.equal(indexDay(b), '2026.11.26');
  t.equal(canonicalTimestamp('not a time'), undefined);
  t.equal(formatNanos(-1n), '1969-12-31T23:59:59.999999999Z');
});

t.test('canonicalTimestamp keeps canonical input and checks impossible days', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['2026-11-25T10:00:00.123456789Z', '2026-11-25T10:00:00.123456789Z'],
    ['2026-11-28T23:59:59.000000000Z', '2026-11-28T23:59:59.000000000Z'],
    ['2026-11-30T10:00:00.1Z', '2026-11-30T10:00:00.100000000Z'],
    ['2026-02-29T10:00:00.000000000Z', undefined],
    ['2024-02-29T10:00:00.000000000Z', '2024-02-29T10:00:00.000000000Z'],
    ['2026-04-31T10:00:00.000000000Z', undefined],
    ['2026-11-25T24:00:00.000000000Z', undefined],
    ['2026-11-25T10:00:00.123456789+01:00', '2026-11-25T09:00:00.123456789Z'],
  ];
  for (const [input, want] of cases) t.equal(canonicalTimestamp(input), want, input);
});
