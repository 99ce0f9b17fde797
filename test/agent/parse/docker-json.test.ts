import t from 'tap';
import { parseDockerJsonLine } from '../../../agent/parse/docker-json.ts';

const TIME = '2026-11-25T12:00:00.123456789Z';

t.test('parseDockerJsonLine: table', async (t) => {
  const cases: Array<[string, string, { stream: 1 | 2; partial: boolean; message: string } | null]> = [
    [
      'full line',
      JSON.stringify({ log: 'hello\n', stream: 'stdout', time: TIME }),
      { stream: 1, partial: false, message: 'hello' },
    ],
    [
      'partial (no newline)',
      JSON.stringify({ log: 'part', stream: 'stderr', time: TIME }),
      { stream: 2, partial: true, message: 'part' },
    ],
    [
      'escaped content',
      JSON.stringify({ log: 'a "q" \\ \t é\n', stream: 'stdout', time: TIME }),
      { stream: 1, partial: false, message: 'a "q" \\ \t é' },
    ],
    [
      'empty line',
      JSON.stringify({ log: '\n', stream: 'stdout', time: TIME }),
      { stream: 1, partial: false, message: '' },
    ],
    ['bad stream', JSON.stringify({ log: 'x\n', stream: 'other', time: TIME }), null],
    ['missing time', JSON.stringify({ log: 'x\n', stream: 'stdout' }), null],
    ['unsafe time', JSON.stringify({ log: 'x\n', stream: 'stdout', time: '2026"' }), null],
    ['not json', '{"log":', null],
    ['array', '[1,2]', null],
    ['cri line', `${TIME} stdout F x`, null],
  ];
  for (const [name, line, want] of cases) {
    const buf = Buffer.from(line);
    const got = parseDockerJsonLine(buf, 0, buf.length);
    if (want === null) t.equal(got, null, name);
    else t.match(got, { ...want, timestamp: TIME }, name);
  }
});
