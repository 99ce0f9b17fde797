import t from 'tap';
import { MultilineMerger } from '../../../agent/filter/multiline.ts';
import type { LogicalLine } from '../../../agent/parse/logical-line.ts';

function run(lines: Array<string | [string, 'stdout' | 'stderr']>, opts = { maxLines: 500, maxBytes: 1 << 20 }) {
  const out: Array<{ message: string; offset: number; capped: boolean; stream: string }> = [];
  const m = new MultilineMerger(opts, (l, capped) =>
    out.push({ message: l.message, offset: l.offset, capped, stream: l.stream }),
  );
  let off = 0;
  for (const x of lines) {
    const [message, stream] = typeof x === 'string' ? [x, 'stdout' as const] : x;
    const line: LogicalLine = {
      offset: off,
      spanStart: off,
      end: off + message.length + 1,
      multi: false,
      timestamp: 'ts',
      stream,
      message,
      anomaly: null,
    };
    off += message.length + 1;
    m.push(line, 0);
  }
  m.flushAll();
  return out.map((o) => o.message);
}

t.test('multiline: table of stack traces', async (t) => {
  const cases: Array<[string, string[], string[]]> = [
    [
      'Java with Caused by and ... more',
      [
        '2026-11-25 12:00:00 ERROR [main] c.e.App - request failed',
        'java.lang.IllegalStateException: boom',
        '\tat com.example.App.handle(App.java:42)',
        '\tat com.example.App.main(App.java:10)',
        'Caused by: java.io.IOException: disk',
        '\tat com.example.Io.read(Io.java:7)',
        '\t... 2 more',
        'next line',
      ],
      [
        '2026-11-25 12:00:00 ERROR [main] c.e.App - request failed',
        'java.lang.IllegalStateException: boom\n\tat com.example.App.handle(App.java:42)\n\tat com.example.App.main(App.java:10)\nCaused by: java.io.IOException: disk\n\tat com.example.Io.read(Io.java:7)\n\t... 2 more',
        'next line',
      ],
    ],
    [
      'Python traceback through the exception line',
      [
        'Traceback (most recent call last):',
        '  File "app.py", line 3, in <module>',
        '    main()',
        '  File "app.py", line 2, in main',
        '    1/0',
        'ZeroDivisionError: division by zero',
        'INFO next request',
      ],
      [
        'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n    main()\n  File "app.py", line 2, in main\n    1/0\nZeroDivisionError: division by zero',
        'INFO next request',
      ],
    ],
    [
      'Go panic with blank lines and frames',
      [
        'panic: runtime error: index out of range [3] with length 3',
        '',
        'goroutine 1 [running]:',
        'main.handler(...)',
        '\t/app/main.go:12 +0x1d',
        'main.main()',
        '\t/app/main.go:20 +0x25',
        'exit status 2',
        'restarting',
      ],
      [
        'panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.handler(...)\n\t/app/main.go:12 +0x1d\nmain.main()\n\t/app/main.go:20 +0x25\nexit status 2',
        'restarting',
      ],
    ],
    [
      'Node error',
      [
        'Error: ECONNREFUSED',
        '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)',
        '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
        'listening',
      ],
      [
        'Error: ECONNREFUSED\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
        'listening',
      ],
    ],
    ['JSON lines are never merged', ['{"a":1}', '  indented', '{"b":2}'], ['{"a":1}', '  indented', '{"b":2}']],
    ['plain lines stay separate', ['one', 'two', '', 'three'], ['one', 'two', '', 'three']],
  ];
  for (const [name, input, want] of cases) t.same(run(input), want, name);
});

t.test('streams are merged separately', async (t) => {
  const got = run([
    ['Error: x', 'stderr'],
    ['out line', 'stdout'],
    ['    at f (a.js:1:1)', 'stderr'],
  ]);
  t.same(got.sort(), ['Error: x\n    at f (a.js:1:1)', 'out line'].sort());
});

t.test('cap emits early, flags it, loses nothing', async (t) => {
  const out: Array<[string, boolean]> = [];
  const m = new MultilineMerger({ maxLines: 3, maxBytes: 1 << 20 }, (l, c) => out.push([l.message, c]));
  const lines = ['E', '\tat 1', '\tat 2', '\tat 3', '\tat 4'];
  lines.forEach((message, i) =>
    m.push(
      {
        offset: i * 10,
        spanStart: i * 10,
        end: i * 10 + 10,
        multi: false,
        timestamp: 't',
        stream: 'stdout',
        message,
        anomaly: null,
      },
      0,
    ),
  );
  m.flushAll();
  t.same(out, [
    ['E\n\tat 1\n\tat 2', true],
    ['\tat 3\n\tat 4', false],
  ]);
});

t.test('idle timeout flushes; floor holds the group start until then', async (t) => {
  const out: string[] = [];
  const m = new MultilineMerger({ maxLines: 100, maxBytes: 1 << 20 }, (l) => out.push(l.message));
  m.push(
    {
      offset: 100,
      spanStart: 100,
      end: 120,
      multi: false,
      timestamp: 't',
      stream: 'stdout',
      message: 'Error: x',
      anomaly: null,
    },
    1000,
  );
  m.push(
    {
      offset: 120,
      spanStart: 120,
      end: 140,
      multi: false,
      timestamp: 't',
      stream: 'stdout',
      message: '    at y',
      anomaly: null,
    },
    1500,
  );
  t.equal(m.floor(), 100);
  t.equal(m.flushIdleSince(1400), false, 'not idle long enough since the last line');
  t.equal(m.flushIdleSince(1500), true);
  t.same(out, ['Error: x\n    at y']);
  t.equal(m.floor(), Infinity);
});
