/**
 * The pure halves of the push-downs: which RE2 patterns are literal sets / prefixes, which
 * matcher clauses are exact, which metric shapes are planned for the store, and the window
 * arithmetic (grid of gcd(step, range), left-open windows from left-closed buckets).
 */
import t from 'tap';
import { literalAlternatives, matcherClauses } from '../../../aggregator/logql/matcher-push-down.ts';
import { planWindowAggregate, windowGrid, windowTotals } from '../../../aggregator/logql/metric-push-down.ts';
import { parseExpr } from '../../../aggregator/logql/parser.ts';
import type { RangeAggregationExpr, VectorAggregationExpr } from '../../../aggregator/logql/ast.ts';

t.test('literal alternatives of an anchored RE2 pattern', async (t) => {
  const table: Array<[string, ReturnType<typeof literalAlternatives>]> = [
    ['shop', { literals: ['shop'], prefixes: [], longerPrefixes: [] }],
    ['a|b\\.c|api-.*', { literals: ['a', 'b.c'], prefixes: ['api-'], longerPrefixes: [] }],
    ['x.+|y', { literals: ['y'], prefixes: [], longerPrefixes: ['x'] }],
    ['日本|é', { literals: ['日本', 'é'], prefixes: [], longerPrefixes: [] }],
    ['a|', undefined],
    ['', undefined],
    ['.*', undefined],
    ['a.*b', undefined],
    ['sh.p', undefined],
    ['(?i)shop', undefined],
    ['(a|b)', undefined],
    ['a\\d', undefined],
    ['[ab]', undefined],
    ['ab?', undefined],
  ];
  for (const [pattern, want] of table) t.same(literalAlternatives(pattern), want, pattern);
});

t.test('matcher clauses: exact on built-in labels, a superset on pod labels', async (t) => {
  t.same(matcherClauses([{ name: 'namespace', op: '=', value: 'shop' }]), {
    filter: [{ term: { namespace: 'shop' } }],
    mustNot: [],
    exact: true,
  });
  t.same(matcherClauses([{ name: 'pod', op: '!~', value: 'a|b-.*' }]), {
    filter: [],
    mustNot: [
      { bool: { should: [{ terms: { pod: ['a'] } }, { prefix: { pod: { value: 'b-' } } }], minimum_should_match: 1 } },
    ],
    exact: true,
  });
  t.equal(matcherClauses([{ name: 'node', op: '=', value: '' }]).exact, false, 'an empty value stays in process');
  t.same(matcherClauses([{ name: 'pod', op: '!~', value: 'x.+' }]), { filter: [], mustNot: [], exact: false });
  t.same(matcherClauses([{ name: 'app', op: '=', value: 'api' }]), {
    filter: [{ term: { labels: 'api' } }],
    mustNot: [],
    exact: false,
  });
  t.same(matcherClauses([{ name: 'app', op: '!=', value: 'api' }]), {
    filter: [],
    mustNot: [{ term: { 'labels.app': 'api' } }],
    exact: false,
  });
});

const MIN = 60_000_000_000n;
const T = 1_800_000_000_000_000_000n; // a whole minute

function plan(query: string, steps: bigint[]) {
  const e = parseExpr(query) as VectorAggregationExpr;
  return planWindowAggregate(e.expr as RangeAggregationExpr, e.grouping, steps, 500);
}

t.test('planned for the store only where provably identical', async (t) => {
  const steps = [T, T + MIN, T + 2n * MIN];
  t.ok(plan('sum by (pod) (count_over_time({namespace="a"}[5m]))', steps));
  t.ok(plan('sum(bytes_rate({namespace="a"} |= "x" != "y" [1m] offset 30s))', steps));
  t.notOk(plan('sum by (app) (count_over_time({namespace="a"}[5m]))', steps), 'pod-label grouping');
  t.notOk(plan('sum without (pod) (count_over_time({namespace="a"}[5m]))', steps), 'without keeps pod labels');
  t.notOk(plan('sum by (pod) (count_over_time({namespace="a"} | json [5m]))', steps), 'parser');
  t.notOk(plan('sum by (pod) (count_over_time({namespace="a"} |~ "x" [5m]))', steps), 'regex filter');
  t.notOk(plan('sum by (pod) (count_over_time({namespace="a"} |= "x" or "y" [5m]))', steps), 'or filter');
  t.notOk(plan('sum by (pod) (sum_over_time({namespace="a"} | logfmt | unwrap n [5m]))', steps), 'unwrap');
  t.notOk(plan('sum by (pod) (count_over_time({namespace="a"}[5m]))', [T + 1n]), 'edge off the ms grid');
});

t.test('the grid: gcd(step, range), anchored on the edges', async (t) => {
  const g = windowGrid([T + 30_000_000_000n, T + 75_000_000_000n], 60_000_000_000n)!;
  t.equal(g.intervalMs, 15_000n, 'gcd(45 s, 60 s)');
  t.equal((T / 1_000_000n + 30_000n - g.offsetMs) % g.intervalMs, 0n, 'the first end is a bucket start');
  t.same(g.edgesNs, [T - 30_000_000_000n, T + 15_000_000_000n, T + 30_000_000_000n, T + 75_000_000_000n]);
});

t.test('window totals: (L, E] from buckets [k, k+w) and the records exactly on an edge', async (t) => {
  const ms = (ns: bigint) => ns / 1_000_000n;
  // Window (T-1m, T] and (T, T+1m] with w = 1 m: a record exactly at T belongs to the first.
  const raw = new Map([
    [ms(T - MIN), { count: 3, bytes: 30 }], // 1 of them exactly at T-1m (belongs to no window here)
    [ms(T), { count: 5, bytes: 50 }], // 2 of them exactly at T
  ]);
  const edges = new Map([
    [ms(T - MIN), { count: 1, bytes: 10 }],
    [ms(T), { count: 2, bytes: 20 }],
  ]);
  const got = windowTotals(raw, edges, [T, T + MIN], MIN);
  t.same(got, { counts: [3 - 1 + 2, 5 - 2], bytes: [30 - 10 + 20, 50 - 20] });
});
