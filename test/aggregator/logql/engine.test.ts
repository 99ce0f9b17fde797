/**
 * The engine case table (engine-cases.ts) over the InMemoryLogStore, and the engine's own
 * cases that need a store of their own (hostile inputs, what the store is asked for, the
 * record → stream mapping, label precedence across parsers). engine-opensearch.test.ts runs
 * the same table over real OpenSearch. Pure: no services; runs in well under a second.
 */
import t from 'tap';
import { runQuery, InMemoryLogStore, lokiStreamOf } from '../../../aggregator/logql/engine.ts';
import { ENGINE_CASES, allLines, at, caseRunner, lines, memoryStreams, S } from './engine-cases.ts';

const store = new InMemoryLogStore(memoryStreams());
const q = caseRunner(store);

for (const c of ENGINE_CASES) t.test(c.name, (t) => c.run(t, q));

// ---- cases with stores of their own ---------------------------------------------------

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

t.test('the store is asked for the right window, with literal line filters as a pre-filter hint', async (t) => {
  const s = new InMemoryLogStore(memoryStreams());
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

t.test('lookback: the store is asked from the first window start (exclusive), before the query start', async (t) => {
  const s = new InMemoryLogStore(memoryStreams());
  await runQuery(
    'sum(count_over_time({pod="api-1"}[4s]))',
    { startNs: at(5), endNs: at(6), stepNs: S, limit: 0, direction: 'forward' },
    s,
  );
  t.equal(s.requests[0]!.startNs, at(1) + 1n, 'the store is asked from start - range (exclusive)');
});
