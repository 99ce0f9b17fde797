import t from 'tap';
import { detectLevel } from '../../../agent/parse/level.ts';

t.test('detectLevel: table', async (t) => {
  const cases: Array<[string, string]> = [
    ['{"level":"info","msg":"x"}', 'info'],
    ['{"msg":"x","level":"WARNING"}', 'warn'],
    ['{"severity":"ERROR","message":"boom"}', 'error'],
    ['{"lvl":"dbug"}', 'unknown'],
    ['{"lvl":"debug"}', 'debug'],
    ['{"level":30,"msg":"pino"}', 'info'],
    ['{"level":50}', 'error'],
    ['{"level": 60}', 'fatal'],
    ['{"msg":"no level here"}', 'unknown'],
    ['time=2026 level=warn msg=x', 'warn'],
    ['level=error msg="db down"', 'error'],
    ['ts=1 level="info" x=y', 'info'],
    ['E1125 12:00:00.000000   12345 controller.go:12] failed', 'error'],
    ['I1125 12:00:00.000000   12345 main.go:1] started', 'info'],
    ['W1125 12:00:00.000000 1 x.go:1] hmm', 'warn'],
    ['ERROR could not connect', 'error'],
    ['2026-11-25 12:00:00,123 WARN  [main] low disk', 'warn'],
    ['[error] upstream timed out', 'error'],
    ['info: listening on :8080', 'info'],
    ['DEBUG cache miss', 'debug'],
    ['FATAL out of memory', 'fatal'],
    ['panic: runtime error: index out of range', 'fatal'],
    ['Traceback (most recent call last):', 'error'],
    ['Exception in thread "main" java.lang.NullPointerException', 'error'],
    ['request failed with error code 3', 'unknown'],
    ['GET /index.html 200', 'unknown'],
    ['', 'unknown'],
    ['   ', 'unknown'],
    ['CRITICAL disk failure', 'fatal'],
    ['TRACE enter fn', 'trace'],
  ];
  for (const [msg, want] of cases) t.equal(detectLevel(msg), want, JSON.stringify(msg));
});

t.test('detectLevel cost does not depend on message length', async (t) => {
  const long = 'x'.repeat(10_000_000) + ' ERROR';
  t.equal(detectLevel(long), 'unknown', 'level words past the scan window are ignored');
});
