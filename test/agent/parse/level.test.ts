import t from 'tap';
import { detectLevel } from '../../../agent/parse/level.ts';
import { ADVERSARIAL_BOUND_MS, BIG, bestMs } from '../../helpers/timing.ts';

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

t.test('detectLevel: scan window edges', async (t) => {
  const cases: Array<[string, string]> = [
    ['x'.repeat(510) + ' level=warn', 'warn'],
    ['x'.repeat(511) + ' level=warn', 'unknown'],
    ['x'.repeat(511) + ' level=warn' + 'y'.repeat(1000), 'unknown'],
    ['xlevel=warn level=error', 'unknown'],
    ['ERRORS', 'unknown'],
    ['Aaaaaaaaaaaaa: ERROR', 'error'],
    ['Aaaaaaaaaaaaaa: ERROR', 'error'],
    ['A'.repeat(130) + ' WARN', 'unknown'],
    ['A'.repeat(100) + ' WARN', 'warn'],
    ['a'.repeat(200) + ' WARN', 'unknown'],
    ['INFORMATIONAL', 'info'],
    ['INFORMATIONALX', 'unknown'],
    ['INFORMATIONALX'.repeat(20), 'unknown'],
  ];
  for (const [msg, want] of cases)
    t.equal(detectLevel(msg), want, JSON.stringify(msg.slice(0, 40)) + ` (${msg.length})`);
});

t.test('detectLevel: adversarial 256 KiB lines finish in linear time', async (t) => {
  const cases: Array<[string, string]> = [
    ['spaces', ' '.repeat(BIG)],
    ['tabs', '\t'.repeat(BIG)],
    ['one long word', 'a'.repeat(BIG)],
    ['`level` repeated without `=`', 'x' + 'level'.repeat(BIG / 5)],
    ['`xlevel=` repeated', 'xlevel='.repeat(BIG / 7)],
    ['JSON with spaces', '{' + ' '.repeat(BIG)],
    ['JSON with `"level"` repeated', '{' + '"level"'.repeat(BIG / 7)],
    ['`[` repeated', '['.repeat(BIG)],
    ['`at ` repeated', '\tat '.repeat(BIG / 4)],
  ];
  for (const [name, msg] of cases) {
    const { ms } = bestMs(() => detectLevel(msg));
    t.ok(ms < ADVERSARIAL_BOUND_MS, `${name}: fastest ${ms.toFixed(2)} ms`);
  }
});
