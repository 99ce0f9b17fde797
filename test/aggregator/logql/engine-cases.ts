/**
 * The engine case table: input streams, and per case a query, its time parameters and the
 * expected output, for every pipeline stage and every aggregation, and the edge cases (empty
 * ranges, step alignment, offset, window bounds, NaN/Inf, `_extracted`, `__error__`, limits).
 * Expected values are worked out by hand from Loki's semantics (noted where not obvious).
 *
 * Shared by two runs that must agree: engine.test.ts over the InMemoryLogStore and
 * engine-opensearch.test.ts over the OpenSearchLogStore on real OpenSearch (records written
 * with the aggregator's BulkWriter, read with and without the metric push-down).
 *
 * The streams are stored records (shared/record.ts' fields): the memory store gets them
 * through `lokiStreamOf`, the same mapping the OpenSearch store applies to what it reads, so
 * both stores see identical stream labels (cluster, container, namespace, pod, stream, the
 * pod label `app`) and structured metadata (`detected_level`, `unknown` where the agent
 * found no level) — this is the one place where the two inputs are made equal.
 */
import type { Test } from 'tap';
import {
  runQuery,
  lokiStreamOf,
  LogqlLimitError,
  LogqlPipelineError,
  LogqlParseError,
  type EvalLimits,
  type LogStore,
} from '../../../aggregator/logql/engine.ts';
import type { QueryParams, QueryResult } from '../../../aggregator/logql/evaluator.ts';
import type { MemoryStream } from '../../../aggregator/logql/store.ts';
import type { Level, LogRecord, Stream } from '../../../shared/record.ts';
import { formatNanos } from '../../../shared/time.ts';

export const S = 1_000_000_000n;
export const at = (sec: number) => BigInt(sec) * S;

/** One stream of the table: the record fields shared by its entries, and the entries. */
export interface CaseStream {
  source: {
    cluster: string;
    namespace: string;
    pod: string;
    container: string;
    stream: Stream;
    labels: Record<string, string>;
  };
  /** `level` is the agent's detected level (structured metadata `detected_level`); default `unknown`. */
  entries: { tsNs: bigint; line: string; level?: Level }[];
}

const CLUSTER = 'c1';
const A = {
  cluster: CLUSTER,
  namespace: 'prod',
  pod: 'api-1',
  container: 'api',
  stream: 'stdout',
  labels: { app: 'api' },
} as const;
const B = {
  cluster: CLUSTER,
  namespace: 'prod',
  pod: 'api-2',
  container: 'api',
  stream: 'stderr',
  labels: { app: 'api' },
} as const;
const C = {
  cluster: CLUSTER,
  namespace: 'dev',
  pod: 'web-1',
  container: 'web',
  stream: 'stdout',
  labels: { app: 'web' },
} as const;
const other = (app: string) =>
  ({
    cluster: CLUSTER,
    namespace: 'other',
    pod: `${app}-1`,
    container: app,
    stream: 'stdout',
    labels: { app },
  }) as const;

export const WEB_LINES = [
  'client 10.0.0.7 connected from 192.168.1.20',
  '\u001b[31mERROR\u001b[0m disk full on /dev/sda1',
  'client 172.16.0.1 disconnected',
];

export const ENGINE_STREAMS: CaseStream[] = [
  {
    source: A,
    entries: [
      { tsNs: at(1), line: 'level=info status=200 latency=120ms size=1kB msg="GET /a"', level: 'info' },
      { tsNs: at(2), line: 'level=info status=200 latency=80ms size=2kB msg="GET /b"', level: 'info' },
      { tsNs: at(3), line: 'level=error status=500 latency=1.5s size=512B msg="boom"', level: 'error' },
      { tsNs: at(4), line: 'level=warn status=404 latency=10ms size=100B msg="GET /c"', level: 'warn' },
      { tsNs: at(5), line: 'level=error status=503 latency=2s size=0B msg="down"', level: 'error' },
      { tsNs: at(6), line: 'level=info status=abc latency=oops msg="weird"', level: 'info' },
    ],
  },
  {
    source: B,
    entries: [
      {
        tsNs: at(1),
        line: '{"level":"info","status":200,"stream":"custom","req":{"method":"GET","path":"/x"},"duration":0.5}',
      },
      { tsNs: at(3), line: '{"level":"error","status":500,"req":{"method":"POST","path":"/y"},"duration":2.5}' },
      { tsNs: at(5), line: 'not json at all' },
    ],
  },
  { source: C, entries: WEB_LINES.map((line, i) => ({ tsNs: at(2 * (i + 1)), line })) },
  {
    source: other('counter'),
    entries: ['total=10', 'total=20', 'total=5', 'total=15'].map((line, i) => ({ tsNs: at(i + 1), line })),
  },
  {
    source: other('nan'),
    entries: ['v=1', 'v=NaN', 'v=+Inf'].map((line, i) => ({ tsNs: at(i + 1), line })),
  },
  {
    source: other('misc'),
    entries: [
      { tsNs: at(1), line: '{"_entry":"original line","k":"v","n":1}' },
      { tsNs: at(2), line: 'a=1 b="unterminated' },
      { tsNs: at(3), line: 'a= b=2' },
    ],
  },
  {
    // Sizes and durations for `unwrap bytes()` / `duration_seconds()`, after every other
    // stream's entries (21..29 s) so that no other case sees them.
    source: other('units'),
    entries: [
      'size=1KB took=1.5s',
      'size=1KiB took=250ms',
      'size=1.5MB took=1m30s',
      'size="2 GiB" took=1h2m3.5s',
      'size=1.0005kB took=90us',
      'size=12 took=0',
      'size=-1KB took=2d',
      'size="10 XB"',
      'msg=neither',
    ].map((line, i) => ({ tsNs: at(21 + i), line })),
  },
];

/**
 * Entry `ei` of stream `si`'s id: the memory store's own tie-breaker (store.ts), so both
 * stores order entries of one nanosecond alike (OpenSearch sorts ties by the record id).
 */
export const entryId = (si: number, ei: number) => `${String(si).padStart(8, '0')}:${String(ei).padStart(10, '0')}`;

/** The table as the InMemoryLogStore's streams, through the product's record → stream mapping. */
export function memoryStreams(streams: readonly CaseStream[] = ENGINE_STREAMS): MemoryStream[] {
  return streams.map((s) => ({
    labels: lokiStreamOf(s.source).labels,
    entries: s.entries.map((e) => ({
      tsNs: e.tsNs,
      line: e.line,
      meta: lokiStreamOf({ ...s.source, level: e.level ?? 'unknown' }).structuredMetadata,
    })),
  }));
}

/** The table as stored records, one per entry, for the OpenSearch store. */
export function engineRecords(streams: readonly CaseStream[] = ENGINE_STREAMS): LogRecord[] {
  return streams.flatMap((s, si) =>
    s.entries.map((e, ei) => ({
      id: entryId(si, ei),
      timestamp: formatNanos(e.tsNs),
      ...s.source,
      labels: { ...s.source.labels },
      level: e.level ?? 'unknown',
      message: e.line,
    })),
  );
}

/** A case's queries, bound to one store. */
export interface CaseRunner {
  logs(q: string, p?: Partial<QueryParams>): Promise<QueryResult>;
  instant(q: string, sec: number, limits?: Partial<EvalLimits>): Promise<QueryResult>;
  range(q: string, from: number, to: number, step: number): Promise<QueryResult>;
}

export function caseRunner(store: LogStore): CaseRunner {
  return {
    logs: (q, p = {}) =>
      runQuery(q, { startNs: 0n, endNs: at(10), stepNs: S, limit: 100, direction: 'backward', ...p }, store),
    instant: (q, sec, limits = {}) =>
      runQuery(q, { startNs: at(sec), endNs: at(sec), stepNs: 0n, limit: 100, direction: 'backward' }, store, limits),
    range: (q, from, to, step) =>
      runQuery(q, { startNs: at(from), endNs: at(to), stepNs: at(step), limit: 100, direction: 'forward' }, store),
  };
}

export interface EngineCase {
  /** The behaviour, also the case's tap test name (engine-opensearch.test.ts skips by it). */
  name: string;
  run(t: Test, q: CaseRunner): Promise<void>;
}

/** `{labels}` → lines, in result order. */
export function lines(r: QueryResult): Record<string, string[]> {
  if (r.type !== 'streams') throw new Error(`not streams: ${r.type}`);
  return Object.fromEntries(r.streams.map((s) => [s.key, s.entries.map((e) => e.line)]));
}
export function allLines(r: QueryResult): string[] {
  if (r.type !== 'streams') throw new Error(`not streams: ${r.type}`);
  return r.streams
    .flatMap((s) => s.entries.map((e) => ({ ts: e.tsNs, line: e.line })))
    .sort((a, b) => (a.ts < b.ts ? -1 : 1))
    .map((e) => e.line);
}
/** Instant vector as `{labels}` → value (and keeps result order in the key order). */
export function vec(r: QueryResult): Record<string, number> {
  if (r.type !== 'vector') throw new Error(`not a vector: ${r.type}`);
  return Object.fromEntries(r.samples.map((s) => [s.key, s.value]));
}
function order(r: QueryResult): string[] {
  if (r.type !== 'vector') throw new Error(`not a vector: ${r.type}`);
  return r.samples.map((s) => s.key);
}
export function matrix(r: QueryResult): Record<string, [number, number][]> {
  if (r.type !== 'matrix') throw new Error(`not a matrix: ${r.type}`);
  return Object.fromEntries(
    r.series.map((s) => [s.key, s.points.map((p) => [Number(p.tNs / S), p.value] as [number, number])]),
  );
}
const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;

/** Stream labels of api-1 with `extra` (sorted label pairs, each followed by ", ") between container and namespace. */
const kA = (extra = '') =>
  `{app="api", cluster="c1", container="api", ${extra}namespace="prod", pod="api-1", stream="stdout"}`;
/** Stream labels (and detected_level="unknown") of the web stream. */
const kWeb =
  '{app="web", cluster="c1", container="web", detected_level="unknown", namespace="dev", pod="web-1", stream="stdout"}';
/** Stream labels (and detected_level="unknown") of an `other` stream, with `extra` before namespace. */
const kOther = (app: string, extra = '') =>
  `{app="${app}", cluster="c1", container="${app}", detected_level="unknown", ${extra}namespace="other", pod="${app}-1", stream="stdout"}`;

const PER_POD = 'sum by (pod) (count_over_time({namespace=~"prod|dev"}[10s]))';

export const ENGINE_CASES: EngineCase[] = [
  // ---- log queries: line filters -------------------------------------------------------

  {
    name: 'line filters: contains, regex (RE2), pattern, ip, or, negations',
    run: async (t, q) => {
      t.same(
        lines(await q.logs('{app="web"} |= "client"')),
        { [kWeb]: [WEB_LINES[2], WEB_LINES[0]] },
        'backward: newest first',
      );
      t.same(allLines(await q.logs('{app="web"} |= "client"', { direction: 'forward' })), [WEB_LINES[0], WEB_LINES[2]]);
      t.same(allLines(await q.logs('{app="web"} != "client"')), [WEB_LINES[1]]);
      t.same(allLines(await q.logs('{app="web"} |~ "(?i)error"')), [WEB_LINES[1]]);
      t.same(
        allLines(await q.logs('{app="web"} !~ "dis(connected)?\\\\b"')),
        [WEB_LINES[0], WEB_LINES[1]],
        '`\\b` is RE2 syntax: "disk" has no word boundary after "dis"',
      );
      t.same(allLines(await q.logs('{app="web"} |= "disk" or "disconnected"')), [WEB_LINES[1], WEB_LINES[2]]);
      t.same(
        allLines(await q.logs('{app="web"} != "disk" or "disconnected"')),
        [WEB_LINES[0]],
        'a negative or: none of them',
      );
      t.same(allLines(await q.logs('{app="web"} |> "client <_> connected from <_>"')), [WEB_LINES[0]]);
      t.same(allLines(await q.logs('{app="web"} !> "client <_> connected from <_>"')), [WEB_LINES[1], WEB_LINES[2]]);
      t.same(allLines(await q.logs('{app="web"} |= ip("10.0.0.0/8")')), [WEB_LINES[0]]);
      t.same(allLines(await q.logs('{app="web"} |= ip("172.16.0.0-172.16.0.9")')), [WEB_LINES[2]]);
      t.same(allLines(await q.logs('{app="web"} != ip("192.168.0.0/16")')), [WEB_LINES[1], WEB_LINES[2]]);
      t.same(allLines(await q.logs('{app="web"} |= ip("10.0.0.7") or ip("172.16.0.1")')), [WEB_LINES[0], WEB_LINES[2]]);
      t.same(allLines(await q.logs('{app="web"} |= ""')), WEB_LINES, 'an empty filter keeps everything');
    },
  },

  {
    name: 'decolorize strips ANSI sequences before the filters after it',
    run: async (t, q) => {
      t.same(allLines(await q.logs('{app="web"} | decolorize |= "ERROR disk"')), ['ERROR disk full on /dev/sda1']);
      t.same(
        allLines(await q.logs('{app="web"} |= "ERROR disk"')),
        [],
        'the raw line has escape codes between the words',
      );
    },
  },

  // ---- parsers -------------------------------------------------------------------------

  {
    name: 'logfmt: labels from key=value, numeric/duration/bytes filters, conversion errors keep the line',
    run: async (t, q) => {
      const r = await q.logs('{pod="api-1"} | logfmt | status >= 500 | keep status');
      t.same(lines(r), {
        '{status="500"}': ['level=error status=500 latency=1.5s size=512B msg="boom"'],
        '{status="503"}': ['level=error status=503 latency=2s size=0B msg="down"'],
        '{__error__="LabelFilterErr", __error_details__="strconv.ParseFloat: parsing \\"abc\\": invalid syntax", status="abc"}':
          ['level=info status=abc latency=oops msg="weird"'],
      });
      t.same(
        allLines(await q.logs('{pod="api-1"} | logfmt | latency > 100ms | __error__="" | line_format "{{.msg}}"')),
        ['GET /a', 'boom', 'down'],
      );
      const dur = await q.logs('{pod="api-1"} | logfmt | latency > 100ms | __error__!="" | keep __error__');
      t.same(Object.keys(lines(dur)), [
        '{__error__="LabelFilterErr", __error_details__="time: invalid duration \\"oops\\""}',
      ]);
      t.same(
        allLines(await q.logs('{pod="api-1"} | logfmt | size > 1kB | line_format "{{.msg}}"')),
        ['GET /b'],
        'a missing label fails a bytes filter',
      );
      t.same(allLines(await q.logs('{pod="api-1"} | logfmt | size >= 1KB, size < 2KiB | line_format "{{.msg}}"')), [
        'GET /a',
        'GET /b',
      ]);
      t.same(allLines(await q.logs('{pod="api-1"} | logfmt | status="200" or level="warn" | line_format "{{.msg}}"')), [
        'GET /a',
        'GET /b',
        'GET /c',
      ]);
      t.same(
        allLines(await q.logs('{pod="api-1"} | logfmt | level=~"err.*" and latency >= 2s | line_format "{{.msg}}"')),
        ['down'],
      );
      t.same(
        allLines(await q.logs('{pod="api-1"} | logfmt | msg=~"GET /[ab]" | line_format "{{.msg}}"')),
        ['GET /a', 'GET /b'],
        'regex label matchers are anchored',
      );
      t.same(
        allLines(await q.logs('{pod="api-1"} | logfmt | nothere="" | line_format "{{.msg}}"')).length,
        6,
        'a missing label is ""',
      );
    },
  },

  {
    name: 'logfmt --strict and --keep-empty, and logfmt with named extractions',
    run: async (t, q) => {
      const strict = await q.logs('{app="misc"} |= "unterminated" | logfmt --strict | keep a');
      t.same(Object.keys(lines(strict)), [
        '{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 20 : unterminated quoted value", a="1"}',
      ]);
      t.same(
        Object.keys(lines(await q.logs('{app="misc"} |= "unterminated" | logfmt | keep a, b'))),
        ['{a="1"}'],
        'non-strict skips the bad pair',
      );
      t.same(Object.keys(lines(await q.logs('{app="misc"} |= "b=2" | logfmt | keep a, b'))), ['{b="2"}']);
      t.same(Object.keys(lines(await q.logs('{app="misc"} |= "b=2" | logfmt --keep-empty | keep a, b'))), [
        '{a="", b="2"}',
      ]);
      t.same(Object.keys(lines(await q.logs('{pod="api-1"} |= "boom" | logfmt m="msg", lvl="level" | keep m, lvl'))), [
        '{lvl="error", m="boom"}',
      ]);
    },
  },

  {
    name: 'json: flattening, number text, _extracted on a collision with a stream label, errors',
    run: async (t, q) => {
      const r = await q.logs('{pod="api-2"} | json', { direction: 'forward' });
      const keys = Object.keys(lines(r));
      t.same(keys, [
        '{__error__="JSONParserErr", __error_details__="Value looks like object, but can\'t find closing \'}\' symbol", app="api", cluster="c1", container="api", detected_level="unknown", namespace="prod", pod="api-2", stream="stderr"}',
        '{app="api", cluster="c1", container="api", detected_level="unknown", duration="0.5", level="info", namespace="prod", pod="api-2", req_method="GET", req_path="/x", status="200", stream="stderr", stream_extracted="custom"}',
        '{app="api", cluster="c1", container="api", detected_level="unknown", duration="2.5", level="error", namespace="prod", pod="api-2", req_method="POST", req_path="/y", status="500", stream="stderr"}',
      ]);
      const ex = await q.logs(
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
          await q.logs(
            '{pod="api-2"} | json | level="error" | line_format "{{.req_method}} {{.req_path | ToUpper}} {{.duration | float64 | mulf 2}}"',
          ),
        ),
        ['POST /Y 5'],
      );
      t.same(allLines(await q.logs('{pod="api-2"} | json | __error__=""')).length, 2);
      t.same(allLines(await q.logs('{pod="api-2"} | json | __error__="JSONParserErr"')), ['not json at all']);
    },
  },

  {
    name: 'regexp, pattern and unpack parsers',
    run: async (t, q) => {
      t.same(allLines(await q.logs('{pod="api-1"} | regexp "status=(?P<code>\\\\d+)" | code="404"')), [
        'level=warn status=404 latency=10ms size=100B msg="GET /c"',
      ]);
      t.same(
        allLines(
          await q.logs(
            '{pod="api-1"} | pattern "level=<lvl> status=<code> <_>" | lvl="warn" | line_format "{{.code}}"',
          ),
        ),
        ['404'],
      );
      const u = await q.logs('{app="misc"} |= "_entry" | unpack');
      t.same(
        lines(u),
        { [kOther('misc', 'k="v", ')]: ['original line'] },
        'non-string fields are not labels; _entry is the line',
      );
    },
  },

  // ---- formatting and label stages ------------------------------------------------------

  {
    name: 'line_format and label_format: Go templates with Loki functions, __line__ and __timestamp__',
    run: async (t, q) => {
      const one = (tmpl: string) =>
        q.logs(`{pod="api-1"} |= "boom" | logfmt | line_format ${JSON.stringify(tmpl)}`).then(allLines);
      t.same(await one('{{.level | ToUpper}}:{{.status}}'), ['ERROR:500']);
      t.same(await one('{{ if eq .status "500" }}server{{ else if eq .status "404" }}missing{{ else }}ok{{ end }}'), [
        'server',
      ]);
      t.same(await one('{{ printf "%s=%05.1f" .msg (.status | float64) }}'), ['boom=500.0']);
      t.same(await one('{{ .nothere | default "none" }} {{ len .msg }}'), ['none 4']);
      t.same(await one('{{ regexReplaceAll "(\\\\d)(\\\\d+)" .status "${1}xx" }}'), ['5xx']);
      t.same(await one('{{ __line__ | trunc 11 }}'), ['level=error']);
      t.same(
        await one('{{ __timestamp__ | unixEpochMillis }} {{ __timestamp__ | date "2006-01-02T15:04:05Z07:00" }}'),
        ['3000 1970-01-01T00:00:03Z'],
      );
      t.same(
        await one(
          '{{- /* a comment */ -}} {{ .latency | duration }}s {{ add .status 1 }} {{ div 7 2 }} {{ .size | bytes }}',
        ),
        ['1.5s 501 3 512'],
      );
      t.same(
        await one('{{ .msg | b64enc }} {{ "Ym9vbQ==" | b64dec }} {{ "a b" | urlencode }} {{ title "hello world" }}'),
        ['Ym9vbQ== boom a+b Hello World'],
      );
      t.same(
        await one('{{ alignLeft 6 .level }}|{{ alignRight 6 .msg }}|{{ substr 1 3 .msg }}|{{ .msg | repeat 2 }}'),
        ['error |  boom|oo|boomboom'],
      );
      const lf = await q.logs(
        '{pod="api-1"} |= "boom" | logfmt | label_format s=status, lvl="{{.level | upper}}", line="{{ __line__ | len }}" | keep s, lvl, line, status',
      );
      t.same(Object.keys(lines(lf)), ['{line="56", lvl="ERROR", s="500"}'], 'a rename removes the source label');
      const bad = await q.logs('{pod="api-1"} |= "boom" | logfmt | line_format "{{ .msg.x }}"');
      t.match(
        Object.keys(lines(bad))[0],
        /__error__="TemplateFormatErr", __error_details__="template: line:1:2: executing \\"line\\" at <\.msg\.x>: can't evaluate field x in type string"/,
      );
      t.same(
        Object.values(lines(bad))[0],
        ['level=error status=500 latency=1.5s size=512B msg="boom"'],
        'a failed template keeps the line',
      );
    },
  },

  {
    name: 'drop and keep, by name and by matcher; __error__ handling',
    run: async (t, q) => {
      t.same(
        Object.keys(lines(await q.logs('{pod="api-1"} |= "boom" | logfmt | drop level, msg, latency, size, status'))),
        [kA('detected_level="error", ')],
      );
      t.same(
        Object.keys(
          lines(
            await q.logs('{pod="api-1"} |= "boom" | logfmt | drop level="info", msg=~"b.*", latency, size, status'),
          ),
        ),
        [kA('detected_level="error", level="error", ')],
      );
      t.same(
        Object.keys(lines(await q.logs('{pod="api-1"} |= "boom" | logfmt | keep app, level=~"e.*", status="200"'))),
        ['{app="api", level="error"}'],
      );
      const errs = await q.logs('{pod="api-2"} | json | drop __error__, __error_details__ | keep pod');
      t.same(Object.keys(lines(errs)), ['{pod="api-2"}']);
      const onlyDetails = await q.logs('{pod="api-2"} |= "not json" | json | drop __error_details__ | keep pod');
      t.same(Object.keys(lines(onlyDetails)), ['{__error__="JSONParserErr", pod="api-2"}']);
    },
  },

  {
    name: 'direction and limit',
    run: async (t, q) => {
      const f = await q.logs('{namespace="prod"}', { limit: 3, direction: 'forward' });
      t.same(allLines(f).length, 3);
      t.same(
        f.type === 'streams' && f.streams.flatMap((s) => s.entries.map((e) => Number(e.tsNs / S))).sort(),
        [1, 1, 2],
        'the three oldest',
      );
      const b = await q.logs('{namespace="prod"}', { limit: 1 });
      t.same(allLines(b), ['level=info status=abc latency=oops msg="weird"'], 'the newest');
      t.same(
        allLines(await q.logs('{namespace="prod"}', { startNs: at(2), endNs: at(3) })).length,
        1,
        'start inclusive, end exclusive',
      );
      t.same(allLines(await q.logs('{namespace="prod"}', { limit: 0 })), []);
    },
  },

  {
    name: 'a log query as an instant query is refused as in Loki',
    run: async (t, q) => {
      await t.rejects(q.instant('{app="web"}', 5), {
        message:
          'log queries are not supported as an instant query type, please change your query to a range query type',
      });
    },
  },

  // ---- range aggregations --------------------------------------------------------------

  {
    name: 'count_over_time splits by detected_level (structured metadata is a label of the series)',
    run: async (t, q) => {
      t.same(vec(await q.instant('count_over_time({pod="api-1"}[10s])', 6)), {
        [kA('detected_level="error", ')]: 2,
        [kA('detected_level="info", ')]: 3,
        [kA('detected_level="warn", ')]: 1,
      });
      t.same(vec(await q.instant('sum by (detected_level) (count_over_time({namespace="prod"}[10s]))', 6)), {
        '{detected_level="error"}': 2,
        '{detected_level="info"}': 3,
        '{detected_level="unknown"}': 3,
        '{detected_level="warn"}': 1,
      });
    },
  },

  {
    name: "Grafana's logs volume query",
    run: async (t, q) => {
      const r = await q.instant(
        'sum by (level, detected_level) (count_over_time({namespace="prod"} | drop __error__ [10s]))',
        6,
      );
      t.same(vec(r), {
        '{detected_level="error"}': 2,
        '{detected_level="info"}': 3,
        '{detected_level="unknown"}': 3,
        '{detected_level="warn"}': 1,
      });
      const parsed = await q.instant(
        'sum by (level) (count_over_time({namespace="prod"} | json | drop __error__ [10s]))',
        6,
      );
      t.same(
        vec(parsed),
        { '{level="error"}': 1, '{level="info"}': 1, '{}': 7 },
        'json extracts `level` from a line that has it',
      );
    },
  },

  {
    name: 'window bounds: (t - range, t], steps from start by step up to end, offset',
    run: async (t, q) => {
      t.same(
        vec(await q.instant('sum(count_over_time({namespace="prod"}[3s]))', 6)),
        { '{}': 4 },
        '(3,6]: api-1 at 4,5,6 and api-2 at 5',
      );
      t.same(
        matrix(await q.range('sum(count_over_time({pod="api-1"}[2s]))', 0, 6, 2)),
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
        matrix(await q.range('sum(count_over_time({pod="api-1"}[2s]))', 1, 7, 3)),
        {
          '{}': [
            [1, 1],
            [4, 2],
            [7, 1],
          ],
        },
        'steps are start + k*step, not aligned',
      );
      t.same(matrix(await q.range('sum(count_over_time({pod="api-1"}[1s]))', 0, 10, 1)), {
        '{}': [1, 2, 3, 4, 5, 6].map((s) => [s, 1]),
      });
      t.same(
        vec(await q.instant('sum(count_over_time({pod="api-1"}[2s] offset 2s))', 6)),
        { '{}': 2 },
        'offset: (2,4]',
      );
      t.same(
        vec(await q.instant('sum(count_over_time({pod="api-1"}[2s] offset 2s))', 3)),
        { '{}': 1 },
        'offset: (-1,1]',
      );
      t.same(vec(await q.instant('sum(count_over_time({pod="api-1"}[10s] offset 1h))', 6)), {}, 'nothing that early');
      t.same(
        matrix(await q.range('count_over_time({app="nothere"}[10s])', 0, 10, 1)),
        {},
        'no stream: an empty matrix',
      );
      t.same(matrix(await q.range('sum(count_over_time({pod="api-1"}[1s]))', 20, 30, 5)), {}, 'after the data: empty');
    },
  },

  {
    name: 'rate, bytes_over_time, bytes_rate',
    run: async (t, q) => {
      t.same(vec(await q.instant('sum(rate({pod="api-1"}[5s]))', 6)), { '{}': 1 }, '5 lines in (1,6] over 5 s');
      const bytes = Buffer.byteLength(WEB_LINES.join(''));
      t.same(vec(await q.instant('sum(bytes_over_time({app="web"}[10s]))', 6)), { '{}': bytes });
      t.same(vec(await q.instant('sum(bytes_rate({app="web"}[10s]))', 6)), { '{}': bytes / 10 });
    },
  },

  {
    name: 'unwrap: sum/avg/min/max/quantile/first/last/stddev/stdvar over extracted values',
    run: async (t, q) => {
      const s = vec(
        await q.instant(
          'sum(sum_over_time({pod="api-1"} | logfmt | unwrap duration(latency) | __error__="" [10s]))',
          6,
        ),
      );
      t.ok(close(s['{}']!, 0.12 + 0.08 + 1.5 + 0.01 + 2), `sum of durations in seconds: ${s['{}']}`);
      const sel = '{pod="api-1"} | logfmt | status=~"\\\\d+" | unwrap status [10s]';
      const values = [200, 200, 500, 404, 503];
      t.same(vec(await q.instant(`avg_over_time(${sel}) by (app)`, 6)), {
        '{app="api"}': values.reduce((a, b) => a + b) / 5,
      });
      t.same(vec(await q.instant(`max_over_time(${sel}) by (pod)`, 6)), { '{pod="api-1"}': 503 });
      t.same(vec(await q.instant(`min_over_time(${sel}) by (pod)`, 6)), { '{pod="api-1"}': 200 });
      t.same(vec(await q.instant(`quantile_over_time(0.5, ${sel}) by (app)`, 6)), { '{app="api"}': 404 });
      t.ok(
        close(
          vec(await q.instant(`quantile_over_time(0.9, ${sel}) by (app)`, 6))['{app="api"}']!,
          500 * 0.4 + 503 * 0.6,
        ),
        'interpolated between 500 and 503',
      );
      t.same(
        vec(await q.instant(`quantile_over_time(2, ${sel}) by (app)`, 6)),
        { '{app="api"}': Infinity },
        'φ > 1 is +Inf',
      );
      t.same(vec(await q.instant(`first_over_time(${sel}) by (app)`, 6)), { '{app="api"}': 200 });
      t.same(vec(await q.instant(`last_over_time(${sel}) by (app)`, 6)), { '{app="api"}': 503 });
      const mean = values.reduce((a, b) => a + b) / 5;
      const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / 5;
      t.ok(close(vec(await q.instant(`stdvar_over_time(${sel}) by (app)`, 6))['{app="api"}']!, variance));
      t.ok(close(vec(await q.instant(`stddev_over_time(${sel}) by (app)`, 6))['{app="api"}']!, Math.sqrt(variance)));
      t.same(
        vec(await q.instant(`sum(rate(${sel}))`, 6)),
        { '{}': values.reduce((a, b) => a + b) / 10 },
        'rate of unwrapped values: their sum per second of the range',
      );
    },
  },

  {
    name: 'unwrap: the series loses the unwrapped label; a failed conversion is a pipeline error',
    run: async (t, q) => {
      const r = await q.instant('max_over_time({pod="api-1"} |= "boom" | logfmt | unwrap status [10s])', 6);
      t.same(Object.keys(vec(r)), [
        '{app="api", cluster="c1", container="api", detected_level="error", latency="1.5s", level="error", msg="boom", namespace="prod", pod="api-1", size="512B", stream="stdout"}',
      ]);
      await t.rejects(
        q.instant('sum_over_time({pod="api-1"} | logfmt | unwrap duration(latency) [10s])', 6),
        LogqlPipelineError,
      );
      await t.rejects(q.instant('sum_over_time({pod="api-1"} | logfmt | unwrap duration(latency) [10s])', 6), {
        message:
          /^pipeline error: 'SampleExtractionErr' for series: '\{__error__="SampleExtractionErr", __error_details__="time: invalid duration \\"oops\\""/,
      });
      await t.rejects(
        q.instant('sum(sum_over_time({pod="api-1"} | logfmt | unwrap duration(latency) | drop __error__ [10s]))', 6),
        LogqlParseError,
        'only label filters may follow an unwrap',
      );
      const infoOnly = vec(
        await q.instant(
          'sum(sum_over_time({pod="api-1"} | logfmt | unwrap duration(latency) | level="info" | __error__="" [10s]))',
          6,
        ),
      );
      t.ok(close(infoOnly['{}']!, 0.2), 'post-unwrap filters apply (120ms + 80ms)');
    },
  },

  {
    name: 'unwrap bytes() and duration_seconds(): go-humanize sizes and Go durations; a failed conversion is SampleExtractionErr',
    run: async (t, q) => {
      // Loki converts with humanize.ParseBytes (SI and IEC units, case-insensitive, optional
      // space, no unit = bytes, the product truncated to an integer) and time.ParseDuration
      // (Go units only: no `d`) in seconds. Lines 21..26 s convert; 27 and 28 s do not; 29 s
      // has neither label and is skipped (an absent label is no sample, not an error).
      const bytesSel = '{app="units"} | logfmt | unwrap bytes(size) | __error__="" [10s]';
      const sizes = [1000, 1024, 1_500_000, 2 * 1024 ** 3, 1000 /* 1000.5 truncated */, 12];
      t.same(vec(await q.instant(`sum(sum_over_time(${bytesSel}))`, 30)), { '{}': 2_148_986_684 });
      t.equal(
        sizes.reduce((a, b) => a + b),
        2_148_986_684,
        'the hand sum',
      );
      t.same(vec(await q.instant(`max_over_time(${bytesSel}) by (app)`, 30)), { '{app="units"}': 2 * 1024 ** 3 });
      t.same(vec(await q.instant(`min_over_time(${bytesSel}) by (app)`, 30)), { '{app="units"}': 12 });
      t.same(
        vec(await q.instant(`sum(count_over_time({app="units"} | logfmt | size=~".+" | __error__="" [10s]))`, 30)),
        { '{}': 8 },
        'lines with a size in (20, 30]',
      );

      const durSel = (conv: string) => `{app="units"} | logfmt | unwrap ${conv}(took) | __error__="" [10s]`;
      const seconds = 1.5 + 0.25 + 90 + (3600 + 2 * 60 + 3.5) + 0.00009 + 0;
      for (const conv of ['duration_seconds', 'duration']) {
        const s = vec(await q.instant(`sum(sum_over_time(${durSel(conv)}))`, 30))['{}']!;
        t.ok(close(s, seconds), `${conv}: sum ${s} = ${seconds}`);
        t.same(vec(await q.instant(`max_over_time(${durSel(conv)}) by (app)`, 30)), { '{app="units"}': 3723.5 });
        t.same(vec(await q.instant(`min_over_time(${durSel(conv)}) by (app)`, 30)), { '{app="units"}': 0 });
      }

      // A value that does not convert: the sample gets __error__="SampleExtractionErr" and the
      // converter's error as __error_details__, and keeps every label, the unwrapped one
      // included (Loki's GroupedLabels skips grouping for an errored sample), so the metric
      // query is refused with a pipeline error naming that series unless a post-unwrap
      // filter drops it.
      // Under `sum by (pod)` the parser extracts only what the query reads (Loki's parser
      // hints: the grouping and the unwrapped label), so that series has no other parsed label.
      const units = (parsed: string) =>
        `app="units", cluster="c1", container="units", detected_level="unknown", namespace="other", pod="units-1", ${parsed}`;
      const badBytes = '__error_details__="strconv.ParseFloat: parsing \\"\\": invalid syntax"';
      const badUnit = '__error_details__="unhandled size name: xb"';
      const badDuration = '__error_details__="time: unknown unit \\"d\\" in duration \\"2d\\""';
      for (const [filter, conv, details, all, hinted] of [
        ['-1KB', 'bytes(size)', badBytes, 'size="-1KB", stream="stdout", took="2d"', 'size="-1KB", stream="stdout"'],
        ['XB', 'bytes(size)', badUnit, 'size="10 XB", stream="stdout"', 'size="10 XB", stream="stdout"'],
        [
          '2d',
          'duration_seconds(took)',
          badDuration,
          'size="-1KB", stream="stdout", took="2d"',
          'stream="stdout", took="2d"',
        ],
      ] as const) {
        for (const [outer, parsed] of [
          ['', all],
          ['sum by (pod) ', hinted],
        ] as const) {
          const series = `{__error__="SampleExtractionErr", ${details}, ${units(parsed)}}`;
          await t.rejects(
            q.instant(`${outer}(sum_over_time({app="units"} |= "${filter}" | logfmt | unwrap ${conv} [10s]))`, 30),
            { name: 'LogqlPipelineError', message: `pipeline error: 'SampleExtractionErr' for series: '${series}'.\n` },
            `${outer}${conv} of the line with ${filter}`,
          );
        }
      }
      t.same(
        vec(await q.instant(`sum(count_over_time({app="units"} |= "XB" | logfmt [10s]))`, 30)),
        { '{}': 1 },
        'the line itself has no error before the unwrap',
      );
      t.same(
        vec(
          await q.instant(
            'sum(sum_over_time({app="units"} | logfmt | unwrap bytes(size) | __error__!="SampleExtractionErr" [10s]))',
            30,
          ),
        ),
        { '{}': 2_148_986_684 },
        'a post-unwrap __error__ filter drops the failed samples',
      );
    },
  },

  {
    name: 'pipeline errors in metric queries: refused unless filtered or dropped',
    run: async (t, q) => {
      await t.rejects(q.instant('count_over_time({pod="api-2"} | json [10s])', 6), {
        code: 'AGG_ERR_LOGQL_PIPELINE',
        message: /'JSONParserErr'/,
      });
      t.same(vec(await q.instant('sum(count_over_time({pod="api-2"} | json | __error__="" [10s]))', 6)), { '{}': 2 });
      t.same(
        vec(await q.instant('sum(count_over_time({pod="api-2"} | json | drop __error__, __error_details__ [10s]))', 6)),
        { '{}': 3 },
      );
      t.same(
        vec(await q.instant('count_over_time({pod="api-2"} | json [10s])', 2)),
        {
          '{app="api", cluster="c1", container="api", detected_level="unknown", duration="0.5", level="info", namespace="prod", pod="api-2", req_method="GET", req_path="/x", status="200", stream="stderr", stream_extracted="custom"}': 1,
        },
        'no errored sample in (−8,2]: no error',
      );
    },
  },

  {
    name: 'rate_counter extrapolates like Prometheus and handles a counter reset',
    run: async (t, q) => {
      const r = vec(await q.instant('rate_counter({app="counter"} | logfmt | unwrap total [4s])', 4));
      // 10,20,5,15 at 1..4 s: increase 5 + reset 20 = 25, extrapolated over 4/3 of the sampled 3 s, per 4 s.
      t.ok(close(r[kOther('counter')]!, (25 * 4) / 3 / 4), String(r[kOther('counter')]));
    },
  },

  {
    name: 'absent_over_time: 1 with the selector equality labels when nothing is in the window',
    run: async (t, q) => {
      t.same(vec(await q.instant('absent_over_time({app="nope", namespace="x"}[5m])', 6)), {
        '{app="nope", namespace="x"}': 1,
      });
      t.same(
        vec(await q.instant('absent_over_time({app="nope", pod=~"p.*"}[5m])', 6)),
        { '{app="nope"}': 1 },
        'regex matchers give no label',
      );
      t.same(
        vec(await q.instant('absent_over_time({app="web"}[1s])', 3)),
        { '{app="web"}': 1 },
        '(2,3] is empty: 2 is outside',
      );
      t.same(vec(await q.instant('absent_over_time({app="web"}[1s])', 2)), {});
      t.same(matrix(await q.range('absent_over_time({app="web"}[1s])', 1, 4, 1)), {
        '{app="web"}': [
          [1, 1],
          [3, 1],
        ],
      });
    },
  },

  {
    name: 'NaN and infinities travel through max/min/sum',
    run: async (t, q) => {
      const sel = '{app="nan"} | logfmt | unwrap v [10s]';
      t.same(vec(await q.instant(`max_over_time(${sel})`, 4)), { [kOther('nan')]: Infinity });
      t.same(
        vec(await q.instant(`min_over_time(${sel})`, 4)),
        { [kOther('nan')]: 1 },
        'NaN never wins a comparison after the first value',
      );
      t.ok(Number.isNaN(vec(await q.instant(`sum_over_time(${sel})`, 4))[kOther('nan')]));
      t.ok(
        Number.isNaN(vec(await q.instant('sum(count_over_time({pod="api-1"}[10s])) / 0', 6))['{}']),
        'x/0 is NaN in Loki',
      );
      t.same(vec(await q.instant('sum(count_over_time({pod="api-1"}[10s])) ^ 1000', 6)), { '{}': Infinity });
    },
  },

  // ---- vector aggregations -------------------------------------------------------------

  {
    name: 'vector aggregations with by and without',
    run: async (t, q) => {
      t.same(vec(await q.instant(PER_POD, 6)), { '{pod="api-1"}': 6, '{pod="api-2"}': 3, '{pod="web-1"}': 3 });
      t.same(vec(await q.instant(`sum(${PER_POD})`, 6)), { '{}': 12 });
      t.same(vec(await q.instant(`avg(${PER_POD})`, 6)), { '{}': 4 });
      t.same(vec(await q.instant(`min(${PER_POD})`, 6)), { '{}': 3 });
      t.same(vec(await q.instant(`max(${PER_POD})`, 6)), { '{}': 6 });
      t.same(vec(await q.instant(`count(${PER_POD})`, 6)), { '{}': 3 });
      t.same(vec(await q.instant(`stdvar(${PER_POD})`, 6)), { '{}': 2 });
      t.ok(close(vec(await q.instant(`stddev(${PER_POD})`, 6))['{}']!, Math.SQRT2));
      t.same(vec(await q.instant(`sum without (pod) (${PER_POD})`, 6)), { '{}': 12 });
      t.same(
        vec(await q.instant('sum without (pod, stream, detected_level) (count_over_time({namespace="prod"}[10s]))', 6)),
        { '{app="api", cluster="c1", container="api", namespace="prod"}': 9 },
      );
      t.same(vec(await q.instant('count by (namespace) (count_over_time({namespace=~"prod|dev"}[10s]))', 6)), {
        '{namespace="dev"}': 1,
        '{namespace="prod"}': 4,
      });
    },
  },

  {
    name: 'topk, bottomk, sort, sort_desc',
    run: async (t, q) => {
      t.same(vec(await q.instant(`topk(1, ${PER_POD})`, 6)), { '{pod="api-1"}': 6 });
      t.same(order(await q.instant(`topk(2, ${PER_POD})`, 6)), ['{pod="api-1"}', '{pod="api-2"}']);
      t.same(vec(await q.instant(`bottomk(1, ${PER_POD})`, 6)), { '{pod="api-2"}': 3 });
      t.same(order(await q.instant(`sort_desc(${PER_POD})`, 6)), ['{pod="api-1"}', '{pod="api-2"}', '{pod="web-1"}']);
      t.same(order(await q.instant(`sort(${PER_POD})`, 6)), ['{pod="api-2"}', '{pod="web-1"}', '{pod="api-1"}']);
      t.same(
        vec(
          await q.instant(
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
        matrix(await q.range(`topk(1, ${PER_POD})`, 2, 6, 4)),
        {
          '{pod="api-1"}': [
            [2, 2],
            [6, 6],
          ],
        },
        'per step',
      );
    },
  },

  // ---- binary operations -----------------------------------------------------------------

  {
    name: 'binary operations: arithmetic, comparison filters and bool, vector matching',
    run: async (t, q) => {
      const all = 'sum by (pod) (count_over_time({namespace="prod"}[10s]))';
      const errors = 'sum by (pod) (count_over_time({namespace="prod"} |= "error" [10s]))';
      t.same(vec(await q.instant(`${all} / on (pod) ${errors}`, 6)), { '{pod="api-1"}': 3, '{pod="api-2"}': 3 });
      t.same(vec(await q.instant(`${all} / ${errors}`, 6)), { '{pod="api-1"}': 3, '{pod="api-2"}': 3 });
      t.same(vec(await q.instant(`${all} > 4`, 6)), { '{pod="api-1"}': 6 }, 'a comparison filters and keeps the value');
      t.same(vec(await q.instant(`4 < ${all}`, 6)), { '{pod="api-1"}': 6 });
      t.same(vec(await q.instant(`${all} > bool 4`, 6)), { '{pod="api-1"}': 1, '{pod="api-2"}': 0 });
      t.same(
        vec(await q.instant(`${all} == bool ${errors} * 3`, 6)),
        { '{pod="api-1"}': 1, '{pod="api-2"}': 1 },
        '* binds tighter than ==',
      );
      t.same(
        vec(await q.instant(`${all} >= ${errors} * 3`, 6)),
        { '{pod="api-1"}': 6, '{pod="api-2"}': 3 },
        'vector comparison keeps the left value',
      );
      t.same(vec(await q.instant(`${all} * 2 - 1`, 6)), { '{pod="api-1"}': 11, '{pod="api-2"}': 5 });
      t.same(vec(await q.instant(`2 ^ ${errors}`, 6)), { '{pod="api-1"}': 4, '{pod="api-2"}': 2 });
      t.same(vec(await q.instant(`${all} % 4`, 6)), { '{pod="api-1"}': 2, '{pod="api-2"}': 3 });
      t.same(vec(await q.instant(`sum(count_over_time({pod="api-1"}[10s])) + vector(1)`, 6)), { '{}': 7 });
      t.same(vec(await q.instant('vector(1) + vector(1)', 6)), { '{}': 2 }, "Grafana's Save & test query");
    },
  },

  {
    name: 'group_left / group_right and on / ignoring',
    run: async (t, q) => {
      const byLevel = 'sum by (pod, detected_level) (count_over_time({pod="api-1"}[10s]))';
      const total = 'sum by (pod) (count_over_time({pod="api-1"}[10s]))';
      const r = vec(await q.instant(`${byLevel} / on (pod) group_left ${total}`, 6));
      t.same(Object.keys(r).sort(), [
        '{detected_level="error", pod="api-1"}',
        '{detected_level="info", pod="api-1"}',
        '{detected_level="warn", pod="api-1"}',
      ]);
      t.ok(
        close(r['{detected_level="info", pod="api-1"}']!, 0.5) &&
          close(r['{detected_level="error", pod="api-1"}']!, 2 / 6),
      );
      const right = vec(await q.instant(`${total} / on (pod) group_right ${byLevel}`, 6));
      t.same(right['{detected_level="warn", pod="api-1"}'], 6, 'group_right: the many side is on the right');
      const incl = vec(
        await q.instant(
          `${byLevel} * on (pod) group_left (app) sum by (pod, app) (count_over_time({pod="api-1"}[10s]))`,
          6,
        ),
      );
      t.same(
        Object.keys(incl).sort()[0],
        '{app="api", detected_level="error", pod="api-1"}',
        'group_left (app) copies app from the one side',
      );
      t.same(
        vec(await q.instant(`${byLevel} / ignoring (detected_level) group_left ${total}`, 6))[
          '{detected_level="warn", pod="api-1"}'
        ],
        1 / 6,
      );
      t.same(
        vec(await q.instant(`sum by (pod, app) (count_over_time({pod="api-1"}[10s])) - on (pod) ${total}`, 6)),
        { '{pod="api-1"}': 0 },
        'one-to-one on (pod) keeps only pod',
      );
      await t.rejects(q.instant(`${total} / on (pod) ${byLevel}`, 6), {
        message:
          'found duplicate series on the right hand-side;many-to-many matching not allowed: matching labels must be unique on one side',
      });
      await t.rejects(q.instant(`${byLevel} / on (pod) ${total}`, 6), {
        message: 'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
      });
    },
  },

  {
    name: 'set operators and, or, unless',
    run: async (t, q) => {
      const prod = 'sum by (pod) (count_over_time({namespace="prod"}[10s]))';
      t.same(vec(await q.instant(`${PER_POD} and ${prod}`, 6)), { '{pod="api-1"}': 6, '{pod="api-2"}': 3 });
      t.same(vec(await q.instant(`${PER_POD} unless ${prod}`, 6)), { '{pod="web-1"}': 3 });
      t.same(vec(await q.instant(`${prod} or ${PER_POD}`, 6)), {
        '{pod="api-1"}': 6,
        '{pod="api-2"}': 3,
        '{pod="web-1"}': 3,
      });
      t.same(vec(await q.instant(`${PER_POD} and on () vector(1)`, 6)), {
        '{pod="api-1"}': 6,
        '{pod="api-2"}': 3,
        '{pod="web-1"}': 3,
      });
      t.same(vec(await q.instant(`${PER_POD} and count_over_time({app="nothere"}[1s])`, 6)), {});
    },
  },

  {
    name: 'label_replace, vector(), literals',
    run: async (t, q) => {
      t.same(
        vec(
          await q.instant(
            'label_replace(sum by (pod) (count_over_time({pod="api-1"}[10s])), "short", "$1", "pod", "api-(.*)")',
            6,
          ),
        ),
        { '{pod="api-1", short="1"}': 6 },
      );
      t.same(
        vec(
          await q.instant(
            'label_replace(sum by (pod) (count_over_time({pod="api-1"}[10s])), "short", "$1", "pod", "web-(.*)")',
            6,
          ),
        ),
        { '{pod="api-1"}': 6 },
        'no match: unchanged',
      );
      t.same(
        vec(
          await q.instant(
            'label_replace(sum by (pod) (count_over_time({pod="api-1"}[10s])), "pod", "", "pod", ".*")',
            6,
          ),
        ),
        { '{}': 6 },
        'an empty replacement removes the label',
      );
      t.same(matrix(await q.range('vector(2)', 0, 4, 2)), {
        '{}': [
          [0, 2],
          [2, 2],
          [4, 2],
        ],
      });
      const lit = await q.instant('2 * 3', 6);
      t.same(lit.type === 'scalar' && lit.value, 6);
    },
  },

  // ---- bounds, pre-filters, input contract -------------------------------------------------

  {
    name: 'memory bounds: series, entries, bytes, cancellation',
    run: async (t, q) => {
      await t.rejects(q.instant('count_over_time({namespace=~".+"}[10s])', 6, { maxSeries: 2 }), LogqlLimitError);
      await t.rejects(q.instant('count_over_time({namespace=~".+"}[10s])', 6, { maxSeries: 2 }), {
        limit: 'series',
        message: /^maximum number of series \(2\) reached for a single query/,
      });
      await t.rejects(q.instant('sum(count_over_time({namespace=~".+"}[10s]))', 6, { maxEntriesScanned: 5 }), {
        limit: 'entries',
        message: 'the query would read too many entries (limit 5)',
      });
      await t.rejects(q.instant('sum(count_over_time({namespace=~".+"}[10s]))', 6, { maxBytesScanned: 100 }), {
        limit: 'bytes',
        message: 'the query would read too many bytes (limit 100)',
      });
      const ac = new AbortController();
      ac.abort();
      await t.rejects(q.instant('sum(count_over_time({namespace=~".+"}[10s]))', 6, { signal: ac.signal }), {
        code: 'AGG_ERR_LOGQL_LIMIT',
        message: /cancelled/,
      });
      t.same(vec(await q.instant('sum(count_over_time({namespace=~".+"}[10s]))', 6, { maxSeries: 100 })), { '{}': 22 });
    },
  },

  {
    name: 'query errors are typed',
    run: async (t, q) => {
      await t.rejects(q.instant('sum(', 6), LogqlParseError);
      await t.rejects(q.logs('{app="web"} |= ip("999.1.1.1")'), {
        code: 'AGG_ERR_LOGQL_PARSE',
        message: 'parse error : ip: invalid pattern',
      });
      await t.rejects(q.logs('{app="web"} |> "<a>"'), {
        message: "parse error : named captures are not allowed: found '<a>'",
      });
      await t.rejects(q.logs('{app="web"} | line_format "{{ .a "'), {
        message: /^parse error : invalid line template: template: line:1: unclosed action/,
      });
    },
  },

  {
    name: 'sum over an additive range aggregation groups before the windows: same values, fewer series',
    run: async (t, q) => {
      const pushed = await q.instant('sum by (level) (count_over_time({pod="api-1"} | logfmt [10s]))', 6, {
        maxSeries: 3,
      });
      const plain = await q.instant('sum by (level) (count_over_time({pod="api-1"} | logfmt [10s]) * 1)', 6);
      t.same(vec(pushed), { '{level="error"}': 2, '{level="info"}': 3, '{level="warn"}': 1 });
      t.same(vec(pushed), vec(plain), 'identical to the aggregation after the windows');
      await t.rejects(q.instant('count_over_time({pod="api-1"} | logfmt [10s])', 6, { maxSeries: 3 }), {
        limit: 'series',
        message: /maximum number of series \(3\)/,
      });
      const without = await q.instant(
        'sum without (msg, latency, size, status, ts) (rate({pod="api-1"} | logfmt [10s]))',
        6,
        { maxSeries: 3 },
      );
      t.same(vec(without)[kA('detected_level="info", level="info", ')], 0.3);
    },
  },

  {
    name: 'lookback: the first windows of a range query read data from before its start',
    run: async (t, q) => {
      t.same(
        matrix(await q.range('sum(count_over_time({pod="api-1"}[4s]))', 5, 6, 1)),
        {
          '{}': [
            [5, 4],
            [6, 4],
          ],
        },
        '(1,5] and (2,6]',
      );
      t.same(
        matrix(await q.range('sum(count_over_time({pod="api-1"}[4s] offset 3s))', 5, 6, 1)),
        {
          '{}': [
            [5, 2],
            [6, 3],
          ],
        },
        'offset moves the lookback too: (-2,2] and (-1,3]',
      );
    },
  },

  {
    name: 'a range query whose end is before its start has no steps: an empty matrix',
    run: async (t, q) => {
      t.same(matrix(await q.range('sum(count_over_time({pod="api-1"}[4s]))', 6, 5, 1)), {});
    },
  },

  {
    name: 'parser hints: a by-grouped metric query extracts only what it reads, with the same result',
    run: async (t, q) => {
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
        const a = vec(await q.instant(hinted, 6));
        t.ok(Object.keys(a).length > 0, hinted);
        t.same(a, vec(await q.instant(plain, 6)), hinted);
      }
      await t.rejects(
        q.instant('sum by (level) (count_over_time({pod="api-2"} | json [10s]))', 6),
        { code: 'AGG_ERR_LOGQL_PIPELINE' },
        'errors are still seen',
      );
    },
  },
];
