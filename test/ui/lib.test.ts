/** The web UI's pure parts (ui/src/lib), table-driven: no browser, no server. */
import t from 'tap';
import { absoluteRange, describeRange, resolveRange, resolveTime } from '../../ui/src/lib/time-range.ts';
import { decodeExploreState, encodeExploreState } from '../../ui/src/lib/url-state.ts';
import { applyFilter, EMPTY_QUERY, excludes, searchBody, tailParams, toLogql } from '../../ui/src/lib/query-build.ts';
import { ansiToSpans, stripAnsi } from '../../ui/src/lib/ansi.ts';
import { prettyJson, splitMatches } from '../../ui/src/lib/highlight.ts';
import { bucketRecords, volumeByLevel } from '../../ui/src/lib/volume.ts';
import { groupPatterns, patternOf } from '../../ui/src/lib/patterns.ts';
import { Timeline } from '../../ui/src/lib/handoff.ts';
import { compareWindows, previousWindow } from '../../ui/src/lib/compare.ts';
import { restartMarkers } from '../../ui/src/lib/restart-markers.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');

t.test('time expressions: relative, absolute with nanoseconds, and errors', async (t) => {
  const cases: Array<[string, number | undefined]> = [
    ['now', NOW],
    ['now-15m', NOW - 15 * 60_000],
    ['now-2d', NOW - 2 * 86_400_000],
    ['2026-12-01T10:00:00Z', Date.parse('2026-12-01T10:00:00Z')],
    ['2026-12-01T10:00:00.123456789Z', Date.parse('2026-12-01T10:00:00.123Z')],
    ['2026-12-01T11:00:00+01:00', Date.parse('2026-12-01T10:00:00Z')],
    ['yesterday', undefined],
    ['now-5x', undefined],
    ['2026-12-01', undefined],
  ];
  for (const [expr, want] of cases) t.equal(resolveTime(expr, NOW), want, expr);
  t.same(resolveRange({ from: 'now-1h', to: 'now' }, NOW), { startMs: NOW - 3_600_000, endMs: NOW });
  t.match(resolveRange({ from: 'now', to: 'now-1h' }, NOW), { error: /ends before it starts/ });
  t.match(resolveRange({ from: 'soon', to: 'now' }, NOW), { error: /"soon" is not a time/ });
  t.same(absoluteRange(NOW - 1000.4, NOW), { from: '2026-12-01T11:59:58.999Z', to: '2026-12-01T12:00:00.000Z' });
  t.equal(describeRange({ from: 'now-1h', to: 'now' }), 'Last 1 hour');
  t.equal(describeRange({ from: 'now-3h', to: 'now' }), 'Last 3h');
  t.equal(
    describeRange({ from: '2026-12-01T10:00:00.000Z', to: '2026-12-01T10:05:00.000Z' }),
    '2026-12-01 10:00:00 → 2026-12-01 10:05:00',
  );
});

t.test('URL state round-trips every filter and never carries a token', async (t) => {
  const state = {
    range: { from: '2026-12-01T10:00:00.000Z', to: 'now' },
    query: {
      ...EMPTY_QUERY,
      namespaces: ['shop', 'pay'],
      pods: ['web-1'],
      levels: ['error' as const, 'warn' as const],
      text: 'time out, again',
      exclude: ['health, check'],
      labels: 'app=web',
    },
  };
  const encoded = encodeExploreState(state);
  t.same(decodeExploreState(encoded), state);
  t.notMatch(encoded, /token/i);
  const logql = {
    range: { from: 'now-5m', to: 'now' },
    query: { ...EMPTY_QUERY, mode: 'logql' as const, logql: '{namespace="shop"} |= "x"' },
  };
  t.same(decodeExploreState(encodeExploreState(logql)), logql);
  t.same(
    decodeExploreState('level=error,loud&from=now-2h'),
    { range: { from: 'now-2h', to: 'now' }, query: { ...EMPTY_QUERY, levels: ['error'] } },
    'unknown levels dropped, defaults filled',
  );
});

t.test('query building: /search body, /tail parameters, LogQL, filter in/out, exclusions', async (t) => {
  const q = {
    ...EMPTY_QUERY,
    namespaces: ['shop'],
    containers: ['app', 'envoy'],
    levels: ['error' as const],
    text: ' timeout ',
    labels: 'app=web',
  };
  t.same(searchBody(q, 'A', 'B', { limit: 1000, first: true }), {
    start: 'A',
    end: 'B',
    limit: 1000,
    namespaces: ['shop'],
    containers: ['app', 'envoy'],
    levels: ['error'],
    contains: ['timeout'],
    case_sensitive: false,
    labels: 'app=web',
    histogram: true,
    aggregations: ['level'],
  });
  t.same(
    searchBody(EMPTY_QUERY, 'A', 'B', { limit: 10, cursor: 'c1' }),
    { start: 'A', end: 'B', limit: 10, cursor: 'c1' },
    'a next page asks no histogram',
  );
  t.equal(
    tailParams(q, '2026-12-01T10:00:00.000000000Z').toString(),
    'namespace=shop&container=app%2Cenvoy&level=error&q=timeout&since=2026-12-01T10%3A00%3A00.000000000Z',
  );
  t.equal(toLogql(q), '{namespace="shop", container=~"app|envoy"} |~ "(?i)timeout" | detected_level=~"error"');
  t.equal(toLogql({ ...EMPTY_QUERY, pods: ['a.b'], exclude: ['GET /health'] }), '{pod="a.b"} != "GET /health"');
  t.equal(toLogql({ ...EMPTY_QUERY, pods: ['a.b', 'c'] }), '{pod=~"a\\\\.b|c"}', 'regex values escaped');
  t.equal(toLogql(EMPTY_QUERY), '{namespace=~".+"}', 'a selector needs one matcher');
  t.same(applyFilter(EMPTY_QUERY, 'pod', 'web-1', 'in').pods, ['web-1']);
  t.same(applyFilter(EMPTY_QUERY, 'level', 'error', 'in').levels, ['error']);
  t.same(applyFilter(EMPTY_QUERY, 'level', 'debug', 'out').levels, [
    'trace',
    'info',
    'warn',
    'error',
    'fatal',
    'unknown',
  ]);
  t.equal(applyFilter({ ...EMPTY_QUERY, labels: 'tier=api' }, 'labels.app', 'web', 'in').labels, 'tier=api,app=web');
  t.equal(applyFilter(EMPTY_QUERY, 'labels.app', 'web', 'out').labels, 'app!=web');
  t.same(applyFilter(EMPTY_QUERY, 'message', 'GET /health', 'out').exclude, ['GET /health']);
  const keep = excludes({ ...EMPTY_QUERY, exclude: ['health'] });
  t.equal(keep('GET /HEALTH 200'), false);
  t.equal(keep('GET /items 200'), true);
});

t.test('ANSI: colours and styles become spans; other escapes are dropped', async (t) => {
  t.same(ansiToSpans('\u001b[31mred\u001b[0m plain'), [{ text: 'red', fg: '#cd3131' }, { text: ' plain' }]);
  t.same(ansiToSpans('\u001b[1;92mOK\u001b[22m done'), [
    { text: 'OK', bold: true, fg: '#23d18b' },
    { text: ' done', fg: '#23d18b' },
  ]);
  t.same(ansiToSpans('\u001b[38;5;196mx\u001b[48;2;1;2;3my'), [
    { text: 'x', fg: 'rgb(255,0,0)' },
    { text: 'y', fg: 'rgb(255,0,0)', bg: 'rgb(1,2,3)' },
  ]);
  t.same(
    ansiToSpans('a\u001b[2Kb\u001b[Hc'),
    [{ text: 'a' }, { text: 'b' }, { text: 'c' }],
    'cursor/erase sequences dropped',
  );
  t.same(ansiToSpans('no escapes'), [{ text: 'no escapes' }]);
  t.equal(stripAnsi('\u001b[32mINFO\u001b[0m ready'), 'INFO ready');
});

t.test('highlighting: case-insensitive matches, overlaps merged, text preserved', async (t) => {
  const cases: Array<[string, string[], Array<[string, boolean]>]> = [
    [
      'Timeout after TIMEOUT',
      ['timeout'],
      [
        ['Timeout', true],
        [' after ', false],
        ['TIMEOUT', true],
      ],
    ],
    [
      'abcdef',
      ['bcd', 'cde'],
      [
        ['a', false],
        ['bcde', true],
        ['f', false],
      ],
    ],
    ['aaa', ['aa'], [['aaa', true]]],
    ['nothing here', ['zzz'], [['nothing here', false]]],
    ['x', [], [['x', false]]],
  ];
  for (const [text, terms, want] of cases) {
    const parts = splitMatches(text, terms);
    t.same(
      parts.map((p) => [p.text, p.match]),
      want,
      `${text} / ${terms.join(',')}`,
    );
    t.equal(parts.map((p) => p.text).join(''), text);
  }
  t.equal(prettyJson('{"a":1,"b":[2]}'), '{\n  "a": 1,\n  "b": [\n    2\n  ]\n}');
  t.equal(prettyJson('{not json}'), undefined);
  t.equal(prettyJson('plain'), undefined);
});

t.test('log volume: the API histogram stacked by the loaded records, the rest marked not loaded', async (t) => {
  const buckets = [
    { start: '2026-12-01T10:00:00Z', count: 5 },
    { start: '2026-12-01T10:01:00Z', count: 2 },
  ];
  const records = [
    { timestamp: '2026-12-01T10:00:10.000000001Z', level: 'error' },
    { timestamp: '2026-12-01T10:00:59.999999999Z', level: 'info' },
    { timestamp: '2026-12-01T10:00:30.000000000Z', level: 'info' },
    { timestamp: '2026-12-01T10:01:00.000000000Z', level: 'warn' },
    { timestamp: '2026-12-01T09:59:59.000000000Z', level: 'info' },
  ];
  const v = volumeByLevel(buckets, records, Date.parse('2026-12-01T10:02:00Z'));
  t.same(
    v.map((b) => [b.total, b.byLevel, b.unloaded]),
    [
      [5, { error: 1, info: 2 }, 2],
      [2, { warn: 1 }, 1],
    ],
  );
  t.equal(v[1]!.endMs, Date.parse('2026-12-01T10:02:00Z'), 'the last bucket ends at the window end');
  const live = bucketRecords(records, Date.parse('2026-12-01T10:00:00Z'), Date.parse('2026-12-01T10:02:00Z'), 2);
  t.same(
    live.map((b) => b.total),
    [3, 1],
    'records outside the window are not counted',
  );
});

t.test('patterns: variable parts become placeholders; groups largest first', async (t) => {
  t.equal(patternOf('GET /users/42 took 13ms from 10.0.0.7:8080'), 'GET /users/<n> took <n> from <ip>');
  t.equal(patternOf('user "bob" id 3f2a9c1e-8b7d-4c6a-9e5f-1a2b3c4d5e6f'), 'user "<str>" id <uuid>');
  const groups = groupPatterns(['GET /a/1 200', 'boot', 'GET /a/2 200', 'GET /a/3 500']);
  t.same(
    groups.map((g) => [g.pattern, g.count, g.sample]),
    [
      ['GET /a/<n> <n>', 3, 'GET /a/1 200'],
      ['boot', 1, 'boot'],
    ],
  );
});

t.test('hand-off timeline: history then live, every id once, newest first, bounded', async (t) => {
  const r = (id: string, s: number) => ({ id, timestamp: `2026-12-01T10:00:${String(s).padStart(2, '0')}.000000000Z` });
  const tl = new Timeline<{ id: string; timestamp: string }>();
  tl.reset([r('c', 30), r('b', 20)]);
  tl.appendOlder([r('b', 20), r('a', 10)]);
  t.equal(tl.since(), '2026-12-01T10:00:30.000000000Z', 'the tail starts at the newest shown');
  // The tail repeats the boundary record (since is inclusive), sends newer ones, and a late one.
  t.equal(tl.addLive([r('c', 30), r('d', 40), r('late', 25), r('e', 50)]), 3);
  t.same(
    tl.records.map((x) => x.id),
    ['e', 'd', 'c', 'late', 'b', 'a'],
  );
  t.equal(tl.duplicates, 2);
  t.equal(tl.received, 8);
  t.equal(tl.trim(4), 2);
  t.same(
    tl.records.map((x) => x.id),
    ['e', 'd', 'c', 'late'],
  );
  t.equal(tl.addLive([r('a', 10)]), 1, 'a trimmed id is new again');
});

t.test('compare with the previous period: the window before, totals, levels and patterns with change', async (t) => {
  t.same(previousWindow(10_000, 13_000), { startMs: 7_000, endMs: 10_000 });
  const c = compareWindows(
    {
      total: 30,
      levels: [
        { key: 'info', count: 20 },
        { key: 'error', count: 10 },
      ],
      lines: ['took 1ms', 'took 2ms', 'boot', 'disk full'],
    },
    { total: 20, levels: [{ key: 'info', count: 20 }], lines: ['took 3ms', 'boot', 'boot'] },
  );
  t.same(c.total, { key: 'total', current: 30, previous: 20, changePct: 50 });
  t.same(c.levels, [
    { key: 'error', current: 10, previous: 0, changePct: null },
    { key: 'info', current: 20, previous: 20, changePct: 0 },
  ]);
  t.same(
    c.patterns.map((p) => [p.key, p.current, p.previous]),
    [
      ['boot', 1, 2],
      ['took <n>', 2, 1],
      ['disk full', 1, 0],
    ],
    'patterns of both windows, largest of either first',
  );
  t.equal(
    compareWindows({ total: 0, levels: [], lines: [] }, { total: 0, levels: [], lines: [] }, 5).patterns.length,
    0,
  );
});

t.test('restart markers: where a container id changes between loaded lines', async (t) => {
  const line = (pod: string, id: string | undefined, ts: string) => ({
    namespace: 'ns',
    pod,
    container: 'app',
    container_id: id,
    timestamp: ts,
  });
  // Newest first, as the list holds them; api-1 restarted once (a → b), web-1 never, and a
  // line without an id (an API-collected one, say) changes nothing.
  const newestFirst = [
    line('api-1', 'b', '2026-12-01T10:00:04.123456789Z'),
    line('web-1', 'w', '2026-12-01T10:00:03Z'),
    line('api-1', 'b', '2026-12-01T10:00:02.500Z'),
    line('api-1', undefined, '2026-12-01T10:00:01.500Z'),
    line('api-1', 'a', '2026-12-01T10:00:01Z'),
    line('web-1', 'w', '2026-12-01T10:00:00Z'),
  ];
  t.same(restartMarkers(newestFirst), [{ ms: Date.parse('2026-12-01T10:00:02.500Z'), label: 'ns/api-1/app restarted' }]);
  t.same(restartMarkers([]), []);
});
