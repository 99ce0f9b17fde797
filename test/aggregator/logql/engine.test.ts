/**
 * Engine cases: input streams, a query, its time parameters and the expected output, for
 * every pipeline stage and every aggregation, and the edge cases (empty ranges, step
 * alignment, offset, window bounds, NaN/Inf, `_extracted`, `__error__`, limits).
 * Expected values are worked out by hand from Loki's semantics (noted where not obvious).
 * Pure: an in-memory store, no services; runs in well under a second.
 */
import t from 'tap';
import {
  runQuery,
  InMemoryLogStore,
  lokiStreamOf,
  LogqlLimitError,
  LogqlPipelineError,
  LogqlParseError,
} from '../../../aggregator/logql/engine.ts';
import type { QueryParams, QueryResult } from '../../../aggregator/logql/evaluator.ts';
import type { MemoryStream } from '../../../aggregator/logql/store.ts';

const S = 1_000_000_000n;
const at = (sec: number) => BigInt(sec) * S;

const A = { app: 'api', namespace: 'prod', pod: 'api-1', stream: 'stdout' };
const B = { app: 'api', namespace: 'prod', pod: 'api-2', stream: 'stderr' };
const C = { app: 'web', namespace: 'dev', pod: 'web-1', stream: 'stdout' };
const WEB_LINES = [
  'client 10.0.0.7 connected from 192.168.1.20',
  '\u001b[31mERROR\u001b[0m disk full on /dev/sda1',
  'client 172.16.0.1 disconnected',
];

const streams: MemoryStream[] = [
  {
    labels: A,
    entries: [
      {
        tsNs: at(1),
        line: 'level=info status=200 latency=120ms size=1kB msg="GET /a"',
        meta: { detected_level: 'info' },
      },
      {
        tsNs: at(2),
        line: 'level=info status=200 latency=80ms size=2kB msg="GET /b"',
        meta: { detected_level: 'info' },
      },
      {
        tsNs: at(3),
        line: 'level=error status=500 latency=1.5s size=512B msg="boom"',
        meta: { detected_level: 'error' },
      },
      {
        tsNs: at(4),
        line: 'level=warn status=404 latency=10ms size=100B msg="GET /c"',
        meta: { detected_level: 'warn' },
      },
      { tsNs: at(5), line: 'level=error status=503 latency=2s size=0B msg="down"', meta: { detected_level: 'error' } },
      { tsNs: at(6), line: 'level=info status=abc latency=oops msg="weird"', meta: { detected_level: 'info' } },
    ],
  },
  {
    labels: B,
    entries: [
      {
        tsNs: at(1),
        line: '{"level":"info","status":200,"stream":"custom","req":{"method":"GET","path":"/x"},"duration":0.5}',
      },
      { tsNs: at(3), line: '{"level":"error","status":500,"req":{"method":"POST","path":"/y"},"duration":2.5}' },
      { tsNs: at(5), line: 'not json at all' },
    ],
  },
  { labels: C, entries: WEB_LINES.map((line, i) => ({ tsNs: at(2 * (i + 1)), line })) },
  {
    labels: { app: 'counter', namespace: 'other' },
    entries: ['total=10', 'total=20', 'total=5', 'total=15'].map((line, i) => ({ tsNs: at(i + 1), line })),
  },
  {
    labels: { app: 'nan', namespace: 'other' },
    entries: ['v=1', 'v=NaN', 'v=+Inf'].map((line, i) => ({ tsNs: at(i + 1), line })),
  },
  {
    labels: { app: 'misc', namespace: 'other' },
    entries: [
      { tsNs: at(1), line: '{"_entry":"original line","k":"v","n":1}' },
      { tsNs: at(2), line: 'a=1 b="unterminated' },
      { tsNs: at(3), line: 'a= b=2' },
    ],
  },
];

const store = new InMemoryLogStore(streams);
const logs = (q: string, p: Partial<QueryParams> = {}) =>
  runQuery(q, { startNs: 0n, endNs: at(10), stepNs: S, limit: 100, direction: 'backward', ...p }, store);
const instant = (q: string, sec: number, limits = {}) =>
  runQuery(q, { startNs: at(sec), endNs: at(sec), stepNs: 0n, limit: 100, direction: 'backward' }, store, limits);
const range = (q: string, from: number, to: number, step: number) =>
  runQuery(q, { startNs: at(from), endNs: at(to), stepNs: at(step), limit: 100, direction: 'forward' }, store);

/** `{labels}` → lines, in result order. */
function lines(r: QueryResult): Record<string, string[]> {
  if (r.type !== 'streams') throw new Error(`not streams: ${r.type}`);
  return Object.fromEntries(r.streams.map((s) => [s.key, s.entries.map((e) => e.line)]));
}
function allLines(r: QueryResult): string[] {
  if (r.type !== 'streams') throw new Error(`not streams: ${r.type}`);
  return r.streams
    .flatMap((s) => s.entries.map((e) => ({ ts: e.tsNs, line: e.line })))
    .sort((a, b) => (a.ts < b.ts ? -1 : 1))
    .map((e) => e.line);
}
/** Instant vector as `{labels}` → value (and keeps result order in the key order). */
function vec(r: QueryResult): Record<string, number> {
  if (r.type !== 'vector') throw new Error(`not a vector: ${r.type}`);
  return Object.fromEntries(r.samples.map((s) => [s.key, s.value]));
}
function order(r: QueryResult): string[] {
  if (r.type !== 'vector') throw new Error(`not a vector: ${r.type}`);
  return r.samples.map((s) => s.key);
}
function matrix(r: QueryResult): Record<string, [number, number][]> {
  if (r.type !== 'matrix') throw new Error(`not a matrix: ${r.type}`);
  return Object.fromEntries(
    r.series.map((s) => [s.key, s.points.map((p) => [Number(p.tNs / S), p.value] as [number, number])]),
  );
}
const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;

const kA = (extra = '') => `{app="api", ${extra}namespace="prod", pod="api-1", stream="stdout"}`;

// ---- log queries: line filters -------------------------------------------------------

t.test('line filters: contains, regex (RE2), pattern, ip, or, negations', async (t) => {
  t.same(
    lines(await logs('{app="web"} |= "client"')),
    { '{app="web", namespace="dev", pod="web-1", stream="stdout"}': [WEB_LINES[2], WEB_LINES[0]] },
    'backward: newest first',
  );
  t.same(allLines(await logs('{app="web"} |= "client"', { direction: 'forward' })), [WEB_LINES[0], WEB_LINES[2]]);
  t.same(allLines(await logs('{app="web"} != "client"')), [WEB_LINES[1]]);
  t.same(allLines(await logs('{app="web"} |~ "(?i)error"')), [WEB_LINES[1]]);
  t.same(
    allLines(await logs('{app="web"} !~ "dis(connected)?\\\\b"')),
    [WEB_LINES[0], WEB_LINES[1]],
    '`\\b` is RE2 syntax: "disk" has no word boundary after "dis"',
  );
  t.same(allLines(await logs('{app="web"} |= "disk" or "disconnected"')), [WEB_LINES[1], WEB_LINES[2]]);
  t.same(
    allLines(await logs('{app="web"} != "disk" or "disconnected"')),
    [WEB_LINES[0]],
    'a negative or: none of them',
  );
  t.same(allLines(await logs('{app="web"} |> "client <_> connected from <_>"')), [WEB_LINES[0]]);
  t.same(allLines(await logs('{app="web"} !> "client <_> connected from <_>"')), [WEB_LINES[1], WEB_LINES[2]]);
  t.same(allLines(await logs('{app="web"} |= ip("10.0.0.0/8")')), [WEB_LINES[0]]);
  t.same(allLines(await logs('{app="web"} |= ip("172.16.0.0-172.16.0.9")')), [WEB_LINES[2]]);
  t.same(allLines(await logs('{app="web"} != ip("192.168.0.0/16")')), [WEB_LINES[1], WEB_LINES[2]]);
  t.same(allLines(await logs('{app="web"} |= ip("10.0.0.7") or ip("172.16.0.1")')), [WEB_LINES[0], WEB_LINES[2]]);
  t.same(allLines(await logs('{app="web"} |= ""')), WEB_LINES, 'an empty filter keeps everything');
});

t.test('decolorize strips ANSI sequences before the filters after it', async (t) => {
  t.same(allLines(await logs('{app="web"} | decolorize |= "ERROR disk"')), ['ERROR disk full on /dev/sda1']);
  t.same(allLines(await logs('{app="web"} |= "ERROR disk"')), [], 'the raw line has escape codes between the words');
});

t.test('a regex that backtracks exponentially in JavaScript runs in linear time (RE2)', async (t) => {
  const evil = new InMemoryLogStore([{ labels: { app: 'x' }, entries: [{ tsNs: 1n, line: 'a'.repeat(5000) + '!' }] }]);
  const started = process.hrtime.bigint();
  const r = await runQuery(
    '{app="x"} |~ "(a+)+!$"',
    { startNs: 0n, endNs: 10n, stepNs: 0n, limit: 10, direction: 'forward' },
    evil,
  );
  t.same(allLines(r).length, 1, '(a+)+!$ matches');
  const r2 = await runQuery(
    '{app="x"} |~ "^(a|aa)+$"',
    { startNs: 0n, endNs: 10n, stepNs: 0n, limit: 10, direction: 'forward' },
    evil,
  );
  t.same(allLines(r2), [], 'no match, found without backtracking');
  t.ok(process.hrtime.bigint() - started < 5n * S, 'well under the seconds a backtracking engine needs');
});

// ---- parsers -------------------------------------------------------------------------

t.test('logfmt: labels from key=value, numeric/duration/bytes filters, conversion errors keep the line', async (t) => {
  const r = await logs('{pod="api-1"} | logfmt | status >= 500 | keep status');
  t.same(lines(r), {
    '{status="500"}': ['level=error status=500 latency=1.5s size=512B msg="boom"'],
    '{status="503"}': ['level=error status=503 latency=2s size=0B msg="down"'],
    '{__error__="LabelFilterErr", __error_details__="strconv.ParseFloat: parsing \\"abc\\": invalid syntax", status="abc"}':
      ['level=info status=abc latency=oops msg="weird"'],
  });
  t.same(allLines(await logs('{pod="api-1"} | logfmt | latency > 100ms | __error__="" | line_format "{{.msg}}"')), [
    'GET /a',
    'boom',
    'down',
  ]);
  const dur = await logs('{pod="api-1"} | logfmt | latency > 100ms | __error__!="" | keep __error__');
  t.same(Object.keys(lines(dur)), [
    '{__error__="LabelFilterErr", __error_details__="time: invalid duration \\"oops\\""}',
  ]);
  t.same(
    allLines(await logs('{pod="api-1"} | logfmt | size > 1kB | line_format "{{.msg}}"')),
    ['GET /b'],
    'a missing label fails a bytes filter',
  );
  t.same(allLines(await logs('{pod="api-1"} | logfmt | size >= 1KB, size < 2KiB | line_format "{{.msg}}"')), [
    'GET /a',
    'GET /b',
  ]);
  t.same(allLines(await logs('{pod="api-1"} | logfmt | status="200" or level="warn" | line_format "{{.msg}}"')), [
    'GET /a',
    'GET /b',
    'GET /c',
  ]);
  t.same(allLines(await logs('{pod="api-1"} | logfmt | level=~"err.*" and latency >= 2s | line_format "{{.msg}}"')), [
    'down',
  ]);
  t.same(
    allLines(await logs('{pod="api-1"} | logfmt | msg=~"GET /[ab]" | line_format "{{.msg}}"')),
    ['GET /a', 'GET /b'],
    'regex label matchers are anchored',
  );
  t.same(
    allLines(await logs('{pod="api-1"} | logfmt | nothere="" | line_format "{{.msg}}"')).length,
    6,
    'a missing label is ""',
  );
});

t.test('logfmt --strict and --keep-empty, and logfmt with named extractions', async (t) => {
  const strict = await logs('{app="misc"} |= "unterminated" | logfmt --strict | keep a');
  t.same(Object.keys(lines(strict)), [
    '{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 20 : unterminated quoted value", a="1"}',
  ]);
  t.same(
    Object.keys(lines(await logs('{app="misc"} |= "unterminated" | logfmt | keep a, b'))),
    ['{a="1"}'],
    'non-strict skips the bad pair',
  );
  t.same(Object.keys(lines(await logs('{app="misc"} |= "b=2" | logfmt | keep a, b'))), ['{b="2"}']);
  t.same(Object.keys(lines(await logs('{app="misc"} |= "b=2" | logfmt --keep-empty | keep a, b'))), ['{a="", b="2"}']);
  t.same(Object.keys(lines(await logs('{pod="api-1"} |= "boom" | logfmt m="msg", lvl="level" | keep m, lvl'))), [
    '{lvl="error", m="boom"}',
  ]);
});

t.test('json: flattening, number text, _extracted on a collision with a stream label, errors', async (t) => {
  const r = await logs('{pod="api-2"} | json', { direction: 'forward' });
  const keys = Object.keys(lines(r));
  t.same(keys, [
    '{__error__="JSONParserErr", __error_details__="Value looks like object, but can\'t find closing \'}\' symbol", app="api", namespace="prod", pod="api-2", stream="stderr"}',
    '{app="api", duration="0.5", level="info", namespace="prod", pod="api-2", req_method="GET", req_path="/x", status="200", stream="stderr", stream_extracted="custom"}',
    '{app="api", duration="2.5", level="error", namespace="prod", pod="api-2", req_method="POST", req_path="/y", status="500", stream="stderr"}',
  ]);
  const ex = await logs(
    '{pod="api-2"} | json method="req.method", p="req[\\"path\\"]", missing="nope.x" | keep method, p, missing',
    { direction: 'forward' },
  );
  t.same(Object.keys(lines(ex)), [
    '{__error__="JSONParserErr"}',
    '{method="GET", missing="", p="/x"}',
    '{method="POST", missing="", p="/y"}',
  ]);
  t.same(
    allLines(
      await logs(
        '{pod="api-2"} | json | level="error" | line_format "{{.req_method}} {{.req_path | ToUpper}} {{.duration | float64 | mulf 2}}"',
      ),
    ),
    ['POST /Y 5'],
  );
  t.same(allLines(await logs('{pod="api-2"} | json | __error__=""')).length, 2);
  t.same(allLines(await logs('{pod="api-2"} | json | __error__="JSONParserErr"')), ['not json at all']);
});

t.test('regexp, pattern and unpack parsers', async (t) => {
  t.same(allLines(await logs('{pod="api-1"} | regexp "status=(?P<code>\\\\d+)" | code="404"')), [
    'level=warn status=404 latency=10ms size=100B msg="GET /c"',
  ]);
  t.same(
    allLines(
      await logs('{pod="api-1"} | pattern "level=<lvl> status=<code> <_>" | lvl="warn" | line_format "{{.code}}"'),
    ),
    ['404'],
  );
  const u = await logs('{app="misc"} |= "_entry" | unpack');
  t.same(
    lines(u),
    { '{app="misc", k="v", namespace="other"}': ['original line'] },
    'non-string fields are not labels; _entry is the line',
  );
});

// ---- formatting and label stages ------------------------------------------------------

t.test('line_format and label_format: Go templates with Loki functions, __line__ and __timestamp__', async (t) => {
  const one = (tmpl: string) =>
    logs(`{pod="api-1"} |= "boom" | logfmt | line_format ${JSON.stringify(tmpl)}`).then(allLines);
  t.same(await one('{{.level | ToUpper}}:{{.status}}'), ['ERROR:500']);
  t.same(await one('{{ if eq .status "500" }}server{{ else if eq .status "404" }}missing{{ else }}ok{{ end }}'), [
    'server',
  ]);
  t.same(await one('{{ printf "%s=%05.1f" .msg (.status | float64) }}'), ['boom=500.0']);
  t.same(await one('{{ .nothere | default "none" }} {{ len .msg }}'), ['none 4']);
  t.same(await one('{{ regexReplaceAll "(\\\\d)(\\\\d+)" .status "${1}xx" }}'), ['5xx']);
  t.same(await one('{{ __line__ | trunc 11 }}'), ['level=error']);
  t.same(await one('{{ __timestamp__ | unixEpochMillis }} {{ __timestamp__ | date "2006-01-02T15:04:05Z07:00" }}'), [
    '3000 1970-01-01T00:00:03Z',
  ]);
  t.same(
    await one(
      '{{- /* a comment */ -}} {{ .latency | duration }}s {{ add .status 1 }} {{ div 7 2 }} {{ .size | bytes }}',
    ),
    ['1.5s 501 3 512'],
  );
  t.same(await one('{{ .msg | b64enc }} {{ "Ym9vbQ==" | b64dec }} {{ "a b" | urlencode }} {{ title "hello world" }}'), [
    'Ym9vbQ== boom a+b Hello World',
  ]);
  t.same(await one('{{ alignLeft 6 .level }}|{{ alignRight 6 .msg }}|{{ substr 1 3 .msg }}|{{ .msg | repeat 2 }}'), [
    'error |  boom|oo|boomboom',
  ]);
  const lf = await logs(
    '{pod="api-1"} |= "boom" | logfmt | label_format s=status, lvl="{{.level | upper}}", line="{{ __line__ | len }}" | keep s, lvl, line, status',
  );
  t.same(Object.keys(lines(lf)), ['{line="56", lvl="ERROR", s="500"}'], 'a rename removes the source label');
  const bad = await logs('{pod="api-1"} |= "boom" | logfmt | line_format "{{ .msg.x }}"');
  t.match(
    Object.keys(lines(bad))[0],
    /__error__="TemplateFormatErr", __error_details__="template: line:1:2: executing \\"line\\" at <\.msg\.x>: can't evaluate field x in type string"/,
  );
  t.same(
    Object.values(lines(bad))[0],
    ['level=error status=500 latency=1.5s size=512B msg="boom"'],
    'a failed template keeps the line',
  );
});

t.test('drop and keep, by name and by matcher; __error__ handling', async (t) => {
  t.same(Object.keys(lines(await logs('{pod="api-1"} |= "boom" | logfmt | drop level, msg, latency, size, status'))), [
    kA('detected_level="error", '),
  ]);
  t.same(
    Object.keys(
      lines(await logs('{pod="api-1"} |= "boom" | logfmt | drop level="info", msg=~"b.*", latency, size, status')),
    ),
    [kA('detected_level="error", level="error", ')],
  );
  t.same(Object.keys(lines(await logs('{pod="api-1"} |= "boom" | logfmt | keep app, level=~"e.*", status="200"'))), [
    '{app="api", level="error"}',
  ]);
  const errs = await logs('{pod="api-2"} | json | drop __error__, __error_details__ | keep pod');
  t.same(Object.keys(lines(errs)), ['{pod="api-2"}']);
  const onlyDetails = await logs('{pod="api-2"} |= "not json" | json | drop __error_details__ | keep pod');
  t.same(Object.keys(lines(onlyDetails)), ['{__error__="JSONParserErr", pod="api-2"}']);
});

t.test('direction and limit', async (t) => {
  const f = await logs('{namespace="prod"}', { limit: 3, direction: 'forward' });
  t.same(allLines(f).length, 3);
  t.same(
    f.type === 'streams' && f.streams.flatMap((s) => s.entries.map((e) => Number(e.tsNs / S))).sort(),
    [1, 1, 2],
    'the three oldest',
  );
  const b = await logs('{namespace="prod"}', { limit: 1 });
  t.same(allLines(b), ['level=info status=abc latency=oops msg="weird"'], 'the newest');
  t.same(
    allLines(await logs('{namespace="prod"}', { startNs: at(2), endNs: at(3) })).length,
    1,
    'start inclusive, end exclusive',
  );
  t.same(allLines(await logs('{namespace="prod"}', { limit: 0 })), []);
});

t.test('a log query as an instant query is refused as in Loki', async (t) => {
  await t.rejects(instant('{app="web"}', 5), {
    message: 'log queries are not supported as an instant query type, please change your query to a range query type',
  });
});

// ---- range aggregations --------------------------------------------------------------

t.test('count_over_time splits by detected_level (structured metadata is a label of the series)', async (t) => {
  t.same(vec(await instant('count_over_time({pod="api-1"}[10s])', 6)), {
    [kA('detected_level="error", ')]: 2,
    [kA('detected_level="info", ')]: 3,
    [kA('detected_level="warn", ')]: 1,
  });
  t.same(vec(await instant('sum by (detected_level) (count_over_time({namespace="prod"}[10s]))', 6)), {
    '{detected_level="error"}': 2,
    '{detected_level="info"}': 3,
    '{detected_level="warn"}': 1,
    '{}': 3,
  });
});

t.test("Grafana's logs volume query", async (t) => {
  const r = await instant(
    'sum by (level, detected_level) (count_over_time({namespace="prod"} | drop __error__ [10s]))',
    6,
  );
  t.same(vec(r), {
    '{detected_level="error"}': 2,
    '{detected_level="info"}': 3,
    '{detected_level="warn"}': 1,
    '{}': 3,
  });
  const parsed = await instant('sum by (level) (count_over_time({namespace="prod"} | json | drop __error__ [10s]))', 6);
  t.same(
    vec(parsed),
    { '{level="error"}': 1, '{level="info"}': 1, '{}': 7 },
    'json extracts `level` from a line that has it',
  );
});

t.test('window bounds: (t - range, t], steps from start by step up to end, offset', async (t) => {
  t.same(
    vec(await instant('sum(count_over_time({namespace="prod"}[3s]))', 6)),
    { '{}': 4 },
    '(3,6]: api-1 at 4,5,6 and api-2 at 5',
  );
  t.same(
    matrix(await range('sum(count_over_time({pod="api-1"}[2s]))', 0, 6, 2)),
    {
      '{}': [
        [2, 2],
        [4, 2],
        [6, 2],
      ],
    },
    'no point at 0: an empty window is no sample',
  );
  t.same(
    matrix(await range('sum(count_over_time({pod="api-1"}[2s]))', 1, 7, 3)),
    {
      '{}': [
        [1, 1],
        [4, 2],
        [7, 1],
      ],
    },
    'steps are start + k*step, not aligned',
  );
  t.same(matrix(await range('sum(count_over_time({pod="api-1"}[1s]))', 0, 10, 1)), {
    '{}': [1, 2, 3, 4, 5, 6].map((s) => [s, 1]),
  });
  t.same(vec(await instant('sum(count_over_time({pod="api-1"}[2s] offset 2s))', 6)), { '{}': 2 }, 'offset: (2,4]');
  t.same(vec(await instant('sum(count_over_time({pod="api-1"}[2s] offset 2s))', 3)), { '{}': 1 }, 'offset: (-1,1]');
  t.same(vec(await instant('sum(count_over_time({pod="api-1"}[10s] offset 1h))', 6)), {}, 'nothing that early');
  t.same(matrix(await range('count_over_time({app="nothere"}[10s])', 0, 10, 1)), {}, 'no stream: an empty matrix');
  t.same(matrix(await range('sum(count_over_time({pod="api-1"}[1s]))', 20, 30, 5)), {}, 'after the data: empty');
});

t.test('rate, bytes_over_time, bytes_rate', async (t) => {
  t.same(vec(await instant('sum(rate({pod="api-1"}[5s]))', 6)), { '{}': 1 }, '5 lines in (1,6] over 5 s');
  const bytes = Buffer.byteLength(WEB_LINES.join(''));
  t.same(vec(await instant('sum(bytes_over_time({app="web"}[10s]))', 6)), { '{}': bytes });
  t.same(vec(await instant('sum(bytes_rate({app="web"}[10s]))', 6)), { '{}': bytes / 10 });
});

t.test('unwrap: sum/avg/min/max/quantile/first/last/stddev/stdvar over extracted values', async (t) => {
  const s = vec(
    await instant('sum(sum_over_time({pod="api-1"} | logfmt | unwrap duration(latency) | __error__="" [10s]))', 6),
  );
  t.ok(close(s['{}']!, 0.12 + 0.08 + 1.5 + 0.01 + 2), `sum of durations in seconds: ${s['{}']}`);
  const sel = '{pod="api-1"} | logfmt | status=~"\\\\d+" | unwrap status [10s]';
  const values = [200, 200, 500, 404, 503];
  t.same(vec(await instant(`avg_over_time(${sel}) by (app)`, 6)), {
    '{app="api"}': values.reduce((a, b) => a + b) / 5,
  });
  t.same(vec(await instant(`max_over_time(${sel}) by (pod)`, 6)), { '{pod="api-1"}': 503 });
  t.same(vec(await instant(`min_over_time(${sel}) by (pod)`, 6)), { '{pod="api-1"}': 200 });
  t.same(vec(await instant(`quantile_over_time(0.5, ${sel}) by (app)`, 6)), { '{app="api"}': 404 });
  t.ok(
    close(vec(await instant(`quantile_over_time(0.9, ${sel}) by (app)`, 6))['{app="api"}']!, 500 * 0.4 + 503 * 0.6),
    'interpolated between 500 and 503',
  );
  t.same(vec(await instant(`quantile_over_time(2, ${sel}) by (app)`, 6)), { '{app="api"}': Infinity }, 'φ > 1 is +Inf');
  t.same(vec(await instant(`first_over_time(${sel}) by (app)`, 6)), { '{app="api"}': 200 });
  t.same(vec(await instant(`last_over_time(${sel}) by (app)`, 6)), { '{app="api"}': 503 });
  const mean = values.reduce((a, b) => a + b) / 5;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / 5;
  t.ok(close(vec(await instant(`stdvar_over_time(${sel}) by (app)`, 6))['{app="api"}']!, variance));
  t.ok(close(vec(await instant(`stddev_over_time(${sel}) by (app)`, 6))['{app="api"}']!, Math.sqrt(variance)));
  t.same(
    vec(await instant(`sum(rate(${sel}))`, 6)),
    { '{}': values.reduce((a, b) => a + b) / 10 },
    'rate of unwrapped values: their sum per second of the range',
  );
});

t.test('unwrap: the series loses the unwrapped label; a failed conversion is a pipeline error', async (t) => {
  const r = await instant('max_over_time({pod="api-1"} |= "boom" | logfmt | unwrap status [10s])', 6);
  t.same(Object.keys(vec(r)), [
    '{app="api", detected_level="error", latency="1.5s", level="error", msg="boom", namespace="prod", pod="api-1", size="512B", stream="stdout"}',
  ]);
  await t.rejects(
    instant('sum_over_time({pod="api-1"} | logfmt | unwrap duration(latency) [10s])', 6),
    LogqlPipelineError,
  );
  await t.rejects(instant('sum_over_time({pod="api-1"} | logfmt | unwrap duration(latency) [10s])', 6), {
    message:
      /^pipeline error: 'SampleExtractionErr' for series: '\{__error__="SampleExtractionErr", __error_details__="time: invalid duration \\"oops\\""/,
  });
  await t.rejects(
    instant('sum(sum_over_time({pod="api-1"} | logfmt | unwrap duration(latency) | drop __error__ [10s]))', 6),
    LogqlParseError,
    'only label filters may follow an unwrap',
  );
  const infoOnly = vec(
    await instant(
      'sum(sum_over_time({pod="api-1"} | logfmt | unwrap duration(latency) | level="info" | __error__="" [10s]))',
      6,
    ),
  );
  t.ok(close(infoOnly['{}']!, 0.2), 'post-unwrap filters apply (120ms + 80ms)');
});

t.test('pipeline errors in metric queries: refused unless filtered or dropped', async (t) => {
  await t.rejects(instant('count_over_time({pod="api-2"} | json [10s])', 6), {
    code: 'AGG_ERR_LOGQL_PIPELINE',
    message: /'JSONParserErr'/,
  });
  t.same(vec(await instant('sum(count_over_time({pod="api-2"} | json | __error__="" [10s]))', 6)), { '{}': 2 });
  t.same(
    vec(await instant('sum(count_over_time({pod="api-2"} | json | drop __error__, __error_details__ [10s]))', 6)),
    { '{}': 3 },
  );
  t.same(
    vec(await instant('count_over_time({pod="api-2"} | json [10s])', 2)),
    {
      '{app="api", duration="0.5", level="info", namespace="prod", pod="api-2", req_method="GET", req_path="/x", status="200", stream="stderr", stream_extracted="custom"}': 1,
    },
    'no errored sample in (−8,2]: no error',
  );
});

t.test('rate_counter extrapolates like Prometheus and handles a counter reset', async (t) => {
  const r = vec(await instant('rate_counter({app="counter"} | logfmt | unwrap total [4s])', 4));
  // 10,20,5,15 at 1..4 s: increase 5 + reset 20 = 25, extrapolated over 4/3 of the sampled 3 s, per 4 s.
  t.ok(
    close(r['{app="counter", namespace="other"}']!, (25 * 4) / 3 / 4),
    String(r['{app="counter", namespace="other"}']),
  );
});

t.test('absent_over_time: 1 with the selector equality labels when nothing is in the window', async (t) => {
  t.same(vec(await instant('absent_over_time({app="nope", namespace="x"}[5m])', 6)), {
    '{app="nope", namespace="x"}': 1,
  });
  t.same(
    vec(await instant('absent_over_time({app="nope", pod=~"p.*"}[5m])', 6)),
    { '{app="nope"}': 1 },
    'regex matchers give no label',
  );
  t.same(
    vec(await instant('absent_over_time({app="web"}[1s])', 3)),
    { '{app="web"}': 1 },
    '(2,3] is empty: 2 is outside',
  );
  t.same(vec(await instant('absent_over_time({app="web"}[1s])', 2)), {});
  t.same(matrix(await range('absent_over_time({app="web"}[1s])', 1, 4, 1)), {
    '{app="web"}': [
      [1, 1],
      [3, 1],
    ],
  });
});

t.test('NaN and infinities travel through max/min/sum', async (t) => {
  const sel = '{app="nan"} | logfmt | unwrap v [10s]';
  t.same(vec(await instant(`max_over_time(${sel})`, 4)), { '{app="nan", namespace="other"}': Infinity });
  t.same(
    vec(await instant(`min_over_time(${sel})`, 4)),
    { '{app="nan", namespace="other"}': 1 },
    'NaN never wins a comparison after the first value',
  );
  t.ok(Number.isNaN(vec(await instant(`sum_over_time(${sel})`, 4))['{app="nan", namespace="other"}']));
  t.ok(Number.isNaN(vec(await instant('sum(count_over_time({pod="api-1"}[10s])) / 0', 6))['{}']), 'x/0 is NaN in Loki');
  t.same(vec(await instant('sum(count_over_time({pod="api-1"}[10s])) ^ 1000', 6)), { '{}': Infinity });
});

// ---- vector aggregations -------------------------------------------------------------

const PER_POD = 'sum by (pod) (count_over_time({namespace=~"prod|dev"}[10s]))';

t.test('vector aggregations with by and without', async (t) => {
  t.same(vec(await instant(PER_POD, 6)), { '{pod="api-1"}': 6, '{pod="api-2"}': 3, '{pod="web-1"}': 3 });
  t.same(vec(await instant(`sum(${PER_POD})`, 6)), { '{}': 12 });
  t.same(vec(await instant(`avg(${PER_POD})`, 6)), { '{}': 4 });
  t.same(vec(await instant(`min(${PER_POD})`, 6)), { '{}': 3 });
  t.same(vec(await instant(`max(${PER_POD})`, 6)), { '{}': 6 });
  t.same(vec(await instant(`count(${PER_POD})`, 6)), { '{}': 3 });
  t.same(vec(await instant(`stdvar(${PER_POD})`, 6)), { '{}': 2 });
  t.ok(close(vec(await instant(`stddev(${PER_POD})`, 6))['{}']!, Math.SQRT2));
  t.same(vec(await instant(`sum without (pod) (${PER_POD})`, 6)), { '{}': 12 });
  t.same(
    vec(await instant('sum without (pod, stream, detected_level) (count_over_time({namespace="prod"}[10s]))', 6)),
    { '{app="api", namespace="prod"}': 9 },
  );
  t.same(vec(await instant('count by (namespace) (count_over_time({namespace=~"prod|dev"}[10s]))', 6)), {
    '{namespace="dev"}': 1,
    '{namespace="prod"}': 4,
  });
});

t.test('topk, bottomk, sort, sort_desc', async (t) => {
  t.same(vec(await instant(`topk(1, ${PER_POD})`, 6)), { '{pod="api-1"}': 6 });
  t.same(order(await instant(`topk(2, ${PER_POD})`, 6)), ['{pod="api-1"}', '{pod="api-2"}']);
  t.same(vec(await instant(`bottomk(1, ${PER_POD})`, 6)), { '{pod="api-2"}': 3 });
  t.same(order(await instant(`sort_desc(${PER_POD})`, 6)), ['{pod="api-1"}', '{pod="api-2"}', '{pod="web-1"}']);
  t.same(order(await instant(`sort(${PER_POD})`, 6)), ['{pod="api-2"}', '{pod="web-1"}', '{pod="api-1"}']);
  t.same(
    vec(
      await instant(
        'topk by (namespace) (1, sum by (namespace, pod) (count_over_time({namespace=~"prod|dev"}[10s])))',
        6,
      ),
    ),
    {
      '{namespace="prod", pod="api-1"}': 6,
      '{namespace="dev", pod="web-1"}': 3,
    },
  );
  t.same(
    matrix(await range(`topk(1, ${PER_POD})`, 2, 6, 4)),
    {
      '{pod="api-1"}': [
        [2, 2],
        [6, 6],
      ],
    },
    'per step',
  );
});

// ---- binary operations -----------------------------------------------------------------

t.test('binary operations: arithmetic, comparison filters and bool, vector matching', async (t) => {
  const all = 'sum by (pod) (count_over_time({namespace="prod"}[10s]))';
  const errors = 'sum by (pod) (count_over_time({namespace="prod"} |= "error" [10s]))';
  t.same(vec(await instant(`${all} / on (pod) ${errors}`, 6)), { '{pod="api-1"}': 3, '{pod="api-2"}': 3 });
  t.same(vec(await instant(`${all} / ${errors}`, 6)), { '{pod="api-1"}': 3, '{pod="api-2"}': 3 });
  t.same(vec(await instant(`${all} > 4`, 6)), { '{pod="api-1"}': 6 }, 'a comparison filters and keeps the value');
  t.same(vec(await instant(`4 < ${all}`, 6)), { '{pod="api-1"}': 6 });
  t.same(vec(await instant(`${all} > bool 4`, 6)), { '{pod="api-1"}': 1, '{pod="api-2"}': 0 });
  t.same(
    vec(await instant(`${all} == bool ${errors} * 3`, 6)),
    { '{pod="api-1"}': 1, '{pod="api-2"}': 1 },
    '* binds tighter than ==',
  );
  t.same(
    vec(await instant(`${all} >= ${errors} * 3`, 6)),
    { '{pod="api-1"}': 6, '{pod="api-2"}': 3 },
    'vector comparison keeps the left value',
  );
  t.same(vec(await instant(`${all} * 2 - 1`, 6)), { '{pod="api-1"}': 11, '{pod="api-2"}': 5 });
  t.same(vec(await instant(`2 ^ ${errors}`, 6)), { '{pod="api-1"}': 4, '{pod="api-2"}': 2 });
  t.same(vec(await instant(`${all} % 4`, 6)), { '{pod="api-1"}': 2, '{pod="api-2"}': 3 });
  t.same(vec(await instant(`sum(count_over_time({pod="api-1"}[10s])) + vector(1)`, 6)), { '{}': 7 });
  t.same(vec(await instant('vector(1) + vector(1)', 6)), { '{}': 2 }, "Grafana's Save & test query");
});

t.test('group_left / group_right and on / ignoring', async (t) => {
  const byLevel = 'sum by (pod, detected_level) (count_over_time({pod="api-1"}[10s]))';
  const total = 'sum by (pod) (count_over_time({pod="api-1"}[10s]))';
  const r = vec(await instant(`${byLevel} / on (pod) group_left ${total}`, 6));
  t.same(Object.keys(r).sort(), [
    '{detected_level="error", pod="api-1"}',
    '{detected_level="info", pod="api-1"}',
    '{detected_level="warn", pod="api-1"}',
  ]);
  t.ok(
    close(r['{detected_level="info", pod="api-1"}']!, 0.5) && close(r['{detected_level="error", pod="api-1"}']!, 2 / 6),
  );
  const right = vec(await instant(`${total} / on (pod) group_right ${byLevel}`, 6));
  t.same(right['{detected_level="warn", pod="api-1"}'], 6, 'group_right: the many side is on the right');
  const incl = vec(
    await instant(`${byLevel} * on (pod) group_left (app) sum by (pod, app) (count_over_time({pod="api-1"}[10s]))`, 6),
  );
  t.same(
    Object.keys(incl).sort()[0],
    '{app="api", detected_level="error", pod="api-1"}',
    'group_left (app) copies app from the one side',
  );
  t.same(
    vec(await instant(`${byLevel} / ignoring (detected_level) group_left ${total}`, 6))[
      '{detected_level="warn", pod="api-1"}'
    ],
    1 / 6,
  );
  t.same(
    vec(await instant(`sum by (pod, app) (count_over_time({pod="api-1"}[10s])) - on (pod) ${total}`, 6)),
    { '{pod="api-1"}': 0 },
    'one-to-one on (pod) keeps only pod',
  );
  await t.rejects(instant(`${total} / on (pod) ${byLevel}`, 6), {
    message:
      'found duplicate series on the right hand-side;many-to-many matching not allowed: matching labels must be unique on one side',
  });
  await t.rejects(instant(`${byLevel} / on (pod) ${total}`, 6), {
    message: 'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
  });
});

t.test('set operators and, or, unless', async (t) => {
  const prod = 'sum by (pod) (count_over_time({namespace="prod"}[10s]))';
  t.same(vec(await instant(`${PER_POD} and ${prod}`, 6)), { '{pod="api-1"}': 6, '{pod="api-2"}': 3 });
  t.same(vec(await instant(`${PER_POD} unless ${prod}`, 6)), { '{pod="web-1"}': 3 });
  t.same(vec(await instant(`${prod} or ${PER_POD}`, 6)), {
    '{pod="api-1"}': 6,
    '{pod="api-2"}': 3,
    '{pod="web-1"}': 3,
  });
  t.same(vec(await instant(`${PER_POD} and on () vector(1)`, 6)), {
    '{pod="api-1"}': 6,
    '{pod="api-2"}': 3,
    '{pod="web-1"}': 3,
  });
  t.same(vec(await instant(`${PER_POD} and count_over_time({app="nothere"}[1s])`, 6)), {});
});

t.test('label_replace, vector(), literals', async (t) => {
  t.same(
    vec(
      await instant(
        'label_replace(sum by (pod) (count_over_time({pod="api-1"}[10s])), "short", "$1", "pod", "api-(.*)")',
        6,
      ),
    ),
    { '{pod="api-1", short="1"}': 6 },
  );
  t.same(
    vec(
      await instant(
        'label_replace(sum by (pod) (count_over_time({pod="api-1"}[10s])), "short", "$1", "pod", "web-(.*)")',
        6,
      ),
    ),
    { '{pod="api-1"}': 6 },
    'no match: unchanged',
  );
  t.same(
    vec(await instant('label_replace(sum by (pod) (count_over_time({pod="api-1"}[10s])), "pod", "", "pod", ".*")', 6)),
    { '{}': 6 },
    'an empty replacement removes the label',
  );
  t.same(matrix(await range('vector(2)', 0, 4, 2)), {
    '{}': [
      [0, 2],
      [2, 2],
      [4, 2],
    ],
  });
  const lit = await instant('2 * 3', 6);
  t.same(lit.type === 'scalar' && lit.value, 6);
});

// ---- bounds, pre-filters, input contract -------------------------------------------------

t.test('memory bounds: series, entries, bytes, cancellation', async (t) => {
  await t.rejects(instant('count_over_time({namespace=~".+"}[10s])', 6, { maxSeries: 2 }), LogqlLimitError);
  await t.rejects(instant('count_over_time({namespace=~".+"}[10s])', 6, { maxSeries: 2 }), {
    limit: 'series',
    message: /^maximum number of series \(2\) reached for a single query/,
  });
  await t.rejects(instant('sum(count_over_time({namespace=~".+"}[10s]))', 6, { maxEntriesScanned: 5 }), {
    limit: 'entries',
    message: 'the query would read too many entries (limit 5)',
  });
  await t.rejects(instant('sum(count_over_time({namespace=~".+"}[10s]))', 6, { maxBytesScanned: 100 }), {
    limit: 'bytes',
    message: 'the query would read too many bytes (limit 100)',
  });
  const ac = new AbortController();
  ac.abort();
  await t.rejects(instant('sum(count_over_time({namespace=~".+"}[10s]))', 6, { signal: ac.signal }), {
    code: 'AGG_ERR_LOGQL_LIMIT',
    message: /cancelled/,
  });
  t.same(vec(await instant('sum(count_over_time({namespace=~".+"}[10s]))', 6, { maxSeries: 100 })), { '{}': 22 });
});

t.test('the store is asked for the right window, with literal line filters as a pre-filter hint', async (t) => {
  const s = new InMemoryLogStore(streams);
  await runQuery(
    'sum(count_over_time({app="web"} |= "client" != "10.0" | logfmt |= "x" | line_format "{{.a}}" |= "after" [5s] offset 1s))',
    { startNs: at(10), endNs: at(20), stepNs: at(5), limit: 10, direction: 'forward' },
    s,
  );
  const req = s.requests[0]!;
  t.same(
    req.hint,
    { lineContains: ['client', 'x'], lineExcludes: ['10.0'] },
    'nothing after line_format (it rewrites the line)',
  );
  t.equal(req.startNs, at(10) - at(1) - at(5) + 1n, 'first window start is exclusive');
  t.equal(req.endNs, at(20) - at(1) + 1n, 'last window end is inclusive');
  t.equal(req.direction, 'forward');
  t.same(req.matchers, [{ name: 'app', op: '=', value: 'web' }]);
});

t.test('stream label mapping: Prometheus-safe pod labels, detected_level as structured metadata', async (t) => {
  const m = lokiStreamOf({
    cluster: 'c1',
    namespace: 'shop',
    pod: 'cart-7d9',
    container: 'app',
    node: 'n1',
    stream: 'stdout',
    level: 'warn',
    labels: {
      'app.kubernetes.io/name': 'cart',
      app_kubernetes_io_name: 'wins',
      'pod-template-hash': '7d9',
      namespace: 'spoofed',
      '9lives': 'z',
    },
  });
  t.same(m.labels, {
    _9lives: 'z',
    app_kubernetes_io_name: 'wins',
    pod_template_hash: '7d9',
    cluster: 'c1',
    namespace: 'shop',
    pod: 'cart-7d9',
    container: 'app',
    node: 'n1',
    stream: 'stdout',
  });
  t.same(m.structuredMetadata, { detected_level: 'warn' });
  const s = new InMemoryLogStore([
    { labels: m.labels, entries: [{ tsNs: 1n, line: '{"level":"error","msg":"x"}', meta: m.structuredMetadata }] },
  ]);
  const r = await runQuery(
    '{app_kubernetes_io_name="wins"} | json',
    { startNs: 0n, endNs: 10n, stepNs: 0n, limit: 10, direction: 'forward' },
    s,
  );
  t.same(r.type === 'streams' && r.streams[0]!.labels.level, 'error', '`level` from the line, not `level_extracted`');
  t.same(r.type === 'streams' && r.streams[0]!.labels.detected_level, 'warn');
});

t.test('query errors are typed', async (t) => {
  await t.rejects(instant('sum(', 6), LogqlParseError);
  await t.rejects(logs('{app="web"} |= ip("999.1.1.1")'), {
    code: 'AGG_ERR_LOGQL_PARSE',
    message: 'parse error : ip: invalid pattern',
  });
  await t.rejects(logs('{app="web"} |> "<a>"'), {
    message: "parse error : named captures are not allowed: found '<a>'",
  });
  await t.rejects(logs('{app="web"} | line_format "{{ .a "'), {
    message: /^parse error : invalid line template: template: line:1: unclosed action/,
  });
});

t.test('sum over an additive range aggregation groups before the windows: same values, fewer series', async (t) => {
  const pushed = await instant('sum by (level) (count_over_time({pod="api-1"} | logfmt [10s]))', 6, { maxSeries: 3 });
  const plain = await instant('sum by (level) (count_over_time({pod="api-1"} | logfmt [10s]) * 1)', 6);
  t.same(vec(pushed), { '{level="error"}': 2, '{level="info"}': 3, '{level="warn"}': 1 });
  t.same(vec(pushed), vec(plain), 'identical to the aggregation after the windows');
  await t.rejects(instant('count_over_time({pod="api-1"} | logfmt [10s])', 6, { maxSeries: 3 }), {
    limit: 'series',
    message: /maximum number of series \(3\)/,
  });
  const without = await instant(
    'sum without (msg, latency, size, status, ts) (rate({pod="api-1"} | logfmt [10s]))',
    6,
    { maxSeries: 3 },
  );
  t.same(vec(without)[kA('detected_level="info", level="info", ')], 0.3);
});

t.test(
  "the first value of a label wins: within a line and across parser stages (Loki's extracted hints)",
  async (t) => {
    const s = new InMemoryLogStore([{ labels: { app: 'dup' }, entries: [{ tsNs: 1n, line: 'a=1 a=2 b=x' }] }]);
    const run = (q: string) =>
      runQuery(q, { startNs: 0n, endNs: 10n, stepNs: 0n, limit: 10, direction: 'forward' }, s).then(lines);
    t.same(Object.keys(await run('{app="dup"} | logfmt | keep a, b')), ['{a="1", b="x"}'], 'first occurrence of a key');
    t.same(
      Object.keys(await run('{app="dup"} | regexp "(?P<a>.)" | logfmt | keep a, b')),
      ['{a="a", b="x"}'],
      'an earlier parser keeps its label',
    );
    t.same(
      Object.keys(await run('{app="dup"} | label_format a="set" | logfmt | keep a, b')),
      ['{a="set", b="x"}'],
      'so does label_format',
    );
    t.same(
      Object.keys(await run('{app="dup"} | logfmt | label_format a="later" | keep a')),
      ['{a="later"}'],
      'label_format itself overwrites',
    );
  },
);

t.test('lookback: the first windows of a range query read data from before its start', async (t) => {
  t.same(
    matrix(await range('sum(count_over_time({pod="api-1"}[4s]))', 5, 6, 1)),
    {
      '{}': [
        [5, 4],
        [6, 4],
      ],
    },
    '(1,5] and (2,6]',
  );
  const s = new InMemoryLogStore(streams);
  await runQuery(
    'sum(count_over_time({pod="api-1"}[4s]))',
    { startNs: at(5), endNs: at(6), stepNs: S, limit: 0, direction: 'forward' },
    s,
  );
  t.equal(s.requests[0]!.startNs, at(1) + 1n, 'the store is asked from start - range (exclusive)');
  t.same(
    matrix(await range('sum(count_over_time({pod="api-1"}[4s] offset 3s))', 5, 6, 1)),
    {
      '{}': [
        [5, 2],
        [6, 3],
      ],
    },
    'offset moves the lookback too: (-2,2] and (-1,3]',
  );
});

t.test('a range query whose end is before its start has no steps: an empty matrix', async (t) => {
  t.same(matrix(await range('sum(count_over_time({pod="api-1"}[4s]))', 6, 5, 1)), {});
});

t.test('numeric label filters on hostile values stay linear', async (t) => {
  const s = new InMemoryLogStore([
    { labels: { app: 'big' }, entries: [{ tsNs: 1n, line: `n=${'1'.repeat(100_000)}x` }] },
  ]);
  const started = process.hrtime.bigint();
  const r = await runQuery(
    '{app="big"} | logfmt | n > 5 | keep __error__',
    { startNs: 0n, endNs: 10n, stepNs: 0n, limit: 10, direction: 'forward' },
    s,
  );
  t.match(Object.keys(lines(r))[0], /^\{__error__="LabelFilterErr"/, 'not a number: kept with LabelFilterErr');
  t.ok(process.hrtime.bigint() - started < 5n * S, 'no quadratic backtracking on the value');
});

t.test('parser hints: a by-grouped metric query extracts only what it reads, with the same result', async (t) => {
  const queries = [
    [
      'sum by (level) (count_over_time({pod="api-1"} | logfmt | status >= 500 | __error__="" [10s]))',
      'sum by (level) (count_over_time({pod="api-1"} | logfmt | status >= 500 | __error__="" | label_format zz="" [10s]))',
    ],
    [
      'max_over_time({pod="api-1"} | logfmt | status=~"\\\\d+" | unwrap status [10s]) by (level)',
      'max_over_time({pod="api-1"} | logfmt | status=~"\\\\d+" | label_format zz="" | unwrap status [10s]) by (level)',
    ],
    [
      'sum by (stream_extracted, req_method) (count_over_time({pod="api-2"} | json | __error__="" [10s]))',
      'sum by (stream_extracted, req_method) (count_over_time({pod="api-2"} | json | __error__="" | label_format zz="" [10s]))',
    ],
  ] as const;
  for (const [hinted, plain] of queries) {
    const a = vec(await instant(hinted, 6));
    t.ok(Object.keys(a).length > 0, hinted);
    t.same(a, vec(await instant(plain, 6)), hinted);
  }
  await t.rejects(
    instant('sum by (level) (count_over_time({pod="api-2"} | json [10s]))', 6),
    { code: 'AGG_ERR_LOGQL_PIPELINE' },
    'errors are still seen',
  );
});
