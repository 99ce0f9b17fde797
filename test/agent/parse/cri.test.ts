import t from 'tap';
import { newCriFields, parseCriLine } from '../../../agent/parse/cri.ts';

const TS = '2026-11-25T12:00:00.123456789Z';

t.test('parseCriLine: table', async (t) => {
  const cases: Array<[string, string, { stream: 1 | 2; partial: boolean; msg: string; ts?: string } | null]> = [
    ['full stdout', `${TS} stdout F hello world`, { stream: 1, partial: false, msg: 'hello world' }],
    ['partial stderr', `${TS} stderr P part`, { stream: 2, partial: true, msg: 'part' }],
    ['empty message with space', `${TS} stdout F `, { stream: 1, partial: false, msg: '' }],
    ['empty message without space', `${TS} stdout F`, { stream: 1, partial: false, msg: '' }],
    ['message keeps inner spaces', `${TS} stdout F   a  b `, { stream: 1, partial: false, msg: '  a  b ' }],
    ['tag with flags', `${TS} stdout F:x msg`, { stream: 1, partial: false, msg: 'msg' }],
    [
      'offset timestamp',
      `2026-11-25T12:00:00.1+02:00 stdout F m`,
      { stream: 1, partial: false, msg: 'm', ts: '2026-11-25T12:00:00.1+02:00' },
    ],
    ['unknown stream', `${TS} stdin F x`, null],
    ['unknown tag', `${TS} stdout X x`, null],
    ['not a timestamp', `hello stdout F x`, null],
    ['short timestamp', `2026-11-25 stdout F x`, null],
    ['quote in timestamp', `2026-11-25T12:00:00"123Z stdout F x`, null],
    ['no stream', `${TS}`, null],
    ['docker json', `{"log":"x\\n","stream":"stdout","time":"${TS}"}`, null],
    ['empty', '', null],
  ];
  const out = newCriFields();
  for (const [name, line, want] of cases) {
    const buf = Buffer.from(line);
    const ok = parseCriLine(buf, 0, buf.length, out);
    if (want === null) {
      t.equal(ok, false, name);
      continue;
    }
    t.equal(ok, true, name);
    t.equal(out.stream, want.stream, `${name}: stream`);
    t.equal(out.partial, want.partial, `${name}: partial`);
    t.equal(buf.toString('utf8', out.msgStart, out.msgEnd), want.msg, `${name}: message`);
    t.equal(buf.toString('latin1', out.tsStart, out.tsEnd), want.ts ?? TS, `${name}: timestamp`);
  }
});

t.test('parseCriLine respects start/end inside a larger buffer', async (t) => {
  const buf = Buffer.from(`garbage\n${TS} stdout F inside\nmore`);
  const start = 8;
  const end = buf.indexOf(0x0a, start);
  const out = newCriFields();
  t.ok(parseCriLine(buf, start, end, out));
  t.equal(buf.toString('utf8', out.msgStart, out.msgEnd), 'inside');
});
