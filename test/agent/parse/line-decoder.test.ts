import t from 'tap';
import { LineDecoder, type LogFormat } from '../../../agent/parse/line-decoder.ts';
import type { LogicalLine } from '../../../agent/parse/logical-line.ts';

const TS = '2026-11-25T12:00:00.000000001Z';
const c = (stream: string, tag: string, msg: string): string => `${TS} ${stream} ${tag} ${msg}\n`;

function decode(
  input: string | Buffer,
  opts: { format?: LogFormat; maxLineBytes?: number; overflow?: 'split' | 'truncate'; chunk?: number } = {},
): { lines: LogicalLine[]; dec: LineDecoder } {
  const lines: LogicalLine[] = [];
  const dec = new LineDecoder(
    0,
    {
      format: opts.format ?? 'auto',
      maxLineBytes: opts.maxLineBytes ?? 1024,
      overflow: opts.overflow ?? 'split',
      now: () => 0,
    },
    { onLine: (l) => lines.push(l) },
  );
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const step = opts.chunk ?? buf.length;
  for (let i = 0; i < buf.length; i += step) dec.push(buf.subarray(i, Math.min(buf.length, i + step)), i);
  return { lines, dec };
}

const summary = (ls: LogicalLine[]) => ls.map((l) => [l.offset, l.stream, l.message, l.anomaly]);

t.test('line decoder: table, every chunk size', async (t) => {
  const p1 = c('stdout', 'P', 'hel');
  const e1 = c('stderr', 'F', 'err');
  const p2 = c('stdout', 'P', 'lo ');
  const f1 = c('stdout', 'F', 'world');
  const cases: Array<
    [
      string,
      string | Buffer,
      Array<[number, string, string, string | null]>,
      { format?: LogFormat; maxLineBytes?: number; overflow?: 'split' | 'truncate' }?,
    ]
  > = [
    [
      'plain CRI lines',
      c('stdout', 'F', 'a') + c('stderr', 'F', 'b'),
      [
        [0, 'stdout', 'a', null],
        [c('stdout', 'F', 'a').length, 'stderr', 'b', null],
      ],
    ],
    [
      'partials joined per stream with interleaved other stream',
      p1 + e1 + p2 + f1,
      [
        [p1.length, 'stderr', 'err', null],
        [0, 'stdout', 'hello world', null],
      ],
    ],
    [
      'multi-byte character split across pieces',
      Buffer.concat([
        Buffer.from(`${TS} stdout P caf`),
        Buffer.from([0xc3]),
        Buffer.from('\n'),
        Buffer.from(`${TS} stdout F `),
        Buffer.from([0xa9]),
        Buffer.from('!\n'),
      ]),
      [[0, 'stdout', 'café!', null]],
    ],
    [
      'docker json-file with partial',
      '{"log":"ab","stream":"stdout","time":"' + TS + '"}\n{"log":"cd\\n","stream":"stdout","time":"' + TS + '"}\n',
      [[0, 'stdout', 'abcd', null]],
    ],
    ['garbage kept raw', 'not a log line\n', [[0, 'stdout', 'not a log line', 'parse_failed']]],
    [
      'invalid UTF-8 kept',
      Buffer.concat([Buffer.from(`${TS} stdout F `), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('\n')]),
      [[0, 'stdout', '\ufffd\ufffdA', null]],
    ],
    [
      'empty lines',
      '\n\n',
      [
        [0, 'stdout', '', 'parse_failed'],
        [1, 'stdout', '', 'parse_failed'],
      ],
    ],
    [
      'forced cri format keeps docker lines raw',
      '{"log":"x\\n","stream":"stdout","time":"' + TS + '"}\n',
      [[0, 'stdout', '{"log":"x\\n","stream":"stdout","time":"' + TS + '"}', 'parse_failed']],
      { format: 'cri' },
    ],
  ];
  for (const [name, input, want, opts] of cases) {
    const len = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
    for (const chunk of [1, 3, 7, 64, len]) {
      const { lines } = decode(input, { ...opts, chunk });
      const got = summary(lines).map(([o, s, m, a]) => [o, s, m, a]);
      const w = want.map(([o, s, m, a]) => [o, s, m, a]);
      // Raw lines carry an arrival timestamp; compare the rest.
      t.same(got, w, `${name} (chunk ${chunk})`);
    }
  }
});

t.test('floor stays at the first byte of a pending partial', async (t) => {
  const p1 = c('stdout', 'P', 'x');
  const f2 = c('stderr', 'F', 'y');
  const { dec, lines } = decode(p1 + f2 + 'unterminated');
  t.equal(lines.length, 1);
  t.equal(dec.floor(), 0, 'pending stdout partial at offset 0 holds the floor');
  dec.push(Buffer.from('\n' + c('stdout', 'F', 'z')), Buffer.byteLength(p1 + f2 + 'unterminated'));
  t.equal(lines.length, 3);
  t.equal(
    dec.floor(),
    Buffer.byteLength(p1 + f2 + 'unterminated\n' + c('stdout', 'F', 'z')),
    'all emitted: floor is the read position',
  );
});

t.test('overlong lines: split keeps every byte, truncate cuts, both counted', async (t) => {
  const msg = 'a'.repeat(2500);
  const line = c('stdout', 'F', msg);
  const split = decode(line, { maxLineBytes: 1000 }).lines;
  t.same(
    split.map((l) => l.message.length),
    [1000, 1000, 500],
  );
  t.equal(split.map((l) => l.message).join(''), msg, 'split records concatenate to the line');
  t.ok(split.every((l) => l.anomaly === 'line_split'));
  t.equal(new Set(split.map((l) => l.offset)).size, 3, 'each piece has its own offset');
  t.equal(split[0]!.offset, 0);
  const trunc = decode(line, { maxLineBytes: 1000, overflow: 'truncate' }).lines;
  t.same(
    trunc.map((l) => [l.offset, l.message.length, l.anomaly]),
    [[0, 1000, 'line_truncated']],
  );
  // Split across P pieces, never inside a UTF-8 sequence.
  const euro = '€'.repeat(500); // 1500 bytes
  const pieces =
    c('stdout', 'P', euro.slice(0, 200)) + c('stdout', 'P', euro.slice(200, 400)) + c('stdout', 'F', euro.slice(400));
  const s2 = decode(pieces, { maxLineBytes: 1000 }).lines;
  t.equal(s2.map((l) => l.message).join(''), euro);
  t.ok(
    s2.every((l) => !l.message.includes('\ufffd')),
    'no character broken by a split',
  );
});

t.test('a physical line without newline beyond the cap is split as it streams', async (t) => {
  const big = `${TS} stdout F ` + 'b'.repeat(200_000) + '\n';
  const lines = decode(big, { maxLineBytes: 64 * 1024, chunk: 16 * 1024 }).lines;
  t.equal(lines.map((l) => l.message).join(''), 'b'.repeat(200_000));
  t.ok(lines.length >= 4);
});

t.test('flushAll emits pending partials and an unterminated last line', async (t) => {
  const { dec, lines } = decode(c('stdout', 'P', 'half') + `${TS} stderr F tail-without-newline`);
  t.equal(lines.length, 0);
  dec.flushAll();
  t.same(
    summary(lines).map((x) => [x[1], x[2], x[3]]),
    [
      ['stderr', 'tail-without-newline', null],
      ['stdout', 'half', 'partial_flushed'],
    ],
  );
});
