import t from 'tap';
import { classifyStatus, parseRetryAfterMs, retryReasonForError } from '../../../agent/errors.ts';
import { backoffDelayMs } from '../../../agent/send/backoff.ts';

t.test('classifyStatus: table', async (t) => {
  const cases: Array<[number, string]> = [
    [200, 'settled'],
    [202, 'settled'],
    [204, 'settled'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
    [408, 'retry'],
    [401, 'retry'],
    [403, 'retry'],
    [404, 'retry'],
    [400, 'refused'],
    [413, 'refused'],
    [415, 'refused'],
    [422, 'refused'],
    [302, 'retry'],
  ];
  for (const [status, want] of cases) t.equal(classifyStatus(status), want, String(status));
});

t.test('Retry-After: seconds, dates, garbage', async (t) => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  t.equal(parseRetryAfterMs('3', now), 3000);
  t.equal(parseRetryAfterMs('0.5', now), 500);
  t.equal(parseRetryAfterMs('Wed, 25 Nov 2026 12:00:10 GMT', now), 10_000);
  t.equal(parseRetryAfterMs('soon', now), null);
  t.equal(parseRetryAfterMs(undefined, now), null);
});

t.test('backoff: exponential, capped, jittered, Retry-After wins', async (t) => {
  t.equal(
    backoffDelayMs(1, 100, 10_000, null, () => 0),
    50,
  );
  t.equal(
    backoffDelayMs(1, 100, 10_000, null, () => 1),
    100,
  );
  t.equal(
    backoffDelayMs(4, 100, 10_000, null, () => 1),
    800,
  );
  t.equal(
    backoffDelayMs(30, 100, 10_000, null, () => 1),
    10_000,
    'capped',
  );
  t.ok(backoffDelayMs(30, 100, 10_000, null, () => 0) >= 5000, 'at least half the cap');
  t.equal(
    backoffDelayMs(1, 100, 10_000, 30_000, () => 0),
    30_000,
    'Retry-After beyond the cap is honoured',
  );
  t.equal(
    backoffDelayMs(1, 100, 10_000, 2000, () => 1),
    2200,
    'up to 10% jitter on Retry-After',
  );
});

t.test('errors map to bounded retry reasons', async (t) => {
  t.equal(retryReasonForError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'network');
  t.equal(retryReasonForError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' })), 'timeout');
});
