// The patterns of `patterns` (pure): variable parts become `<_>`, and every pattern is a valid
// `|>` filter that matches the line it came from, on a table and on generated lines.
import t from 'tap';
import { groupPatterns, patternOf } from '../../../aggregator/routes/loki/patterns.ts';
import { parseLineFilterPattern, patternTest } from '../../../aggregator/logql/pattern.ts';

const matchesItself = (line: string) => {
  const p = patternOf(line);
  return p === '' ? line === '' : patternTest(parseLineFilterPattern(p), line);
};

t.test('variable parts become <_>, adjacent ones merged', async (t) => {
  const table: Array<[string, string]> = [
    ['level=info status=200 msg="req 13" took=13ms', 'level=info status=<_> msg="req <_>" took=<_>'],
    ['{"level":"info","user":"u0","n":3}', '{"level":"info","user":"u0","n":<_>}'],
    ['GET /users/42 took 13ms from 10.0.0.1:8080', 'GET /users/<_> took <_> from <_>'],
    ['at 2026-11-25T10:00:00.123456789Z done', 'at <_> done'],
    ['req 3f2b1c9e-0d4a-4c1b-9a7e-1234567890ab ok', 'req <_> ok'],
    ['pod web-5d8f7c9b4-x2k4q ready', 'pod web-<_>-x2k4q ready'],
    ['12:00:01 tick', '<_> tick'],
    ['client 1.1 took 0.25s, id 0x1f3a deadbeef12', 'client <_> took <_>, id <_> <_>'],
    ['<html> is a capture to |>', '<_> is a capture to |>'],
    ['no variables here', 'no variables here'],
    ['', ''],
  ];
  for (const [line, want] of table) {
    t.equal(patternOf(line), want, line);
    t.ok(matchesItself(line), `|> "${want}" matches its line`);
  }
});

t.test('a line whose pattern would not match it is counted under its own text', async (t) => {
  // The literal " x" after the first number also occurs inside the second variable part's context.
  const line = 'a1 x 1 x';
  t.ok(matchesItself(line));
});

t.test('generated lines: every pattern is a valid |> filter matching its line', async (t) => {
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const pieces = [
    'id=',
    ' ',
    '42',
    'ms',
    '"',
    'x',
    '<a>',
    '<_>',
    '10.1.2.3',
    ':',
    '0xdeadbeef1',
    '-',
    'GET',
    '2026-01-02 03:04:05',
    '=',
    '\t',
    'é',
    '<',
    '>',
  ];
  let checked = 0;
  for (let i = 0; i < 5000; i++) {
    let line = '';
    for (let k = 1 + rnd(10); k > 0; k--) line += pieces[rnd(pieces.length)];
    if (!matchesItself(line))
      t.fail(`pattern ${JSON.stringify(patternOf(line))} does not match ${JSON.stringify(line)}`);
    checked++;
  }
  t.equal(checked, 5000);
});

t.test('groups by pattern and level, counts per step, largest first', async (t) => {
  const s = 1_000_000_000n;
  const lines = [
    { tsNs: 100n * s, line: 'took 1ms', level: 'info' },
    { tsNs: 105n * s, line: 'took 2ms', level: 'info' },
    { tsNs: 112n * s, line: 'took 3ms', level: 'info' },
    { tsNs: 101n * s, line: 'took 4ms', level: 'error' },
    { tsNs: 103n * s, line: 'boot', level: 'info' },
  ];
  t.same(groupPatterns(lines, { startNs: 100n * s, stepNs: 10n * s, maxPatterns: 10 }), [
    {
      pattern: 'took <_>',
      level: 'info',
      samples: [
        [100, 2],
        [110, 1],
      ],
    },
    { pattern: 'boot', level: 'info', samples: [[100, 1]] },
    { pattern: 'took <_>', level: 'error', samples: [[100, 1]] },
  ]);
  t.equal(groupPatterns(lines, { startNs: 100n * s, stepNs: 10n * s, maxPatterns: 1 }).length, 1);
});
