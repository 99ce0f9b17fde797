/**
 * In-process LogQL throughput, lines per second, for a `| logfmt | label filter` pipeline
 * (issue 13 §5). No OpenSearch: lines come from memory, so this is the engine's CPU cost.
 *
 *   node bench/aggregator/logql-pipeline.bench.ts [--lines 200000] [--rounds 5]
 *
 * - `pipeline_lines_per_s`: `{…} | logfmt | status >= 500` through the compiled pipeline
 *   (aggregator/logql/pipeline.ts), the per-line work of any query using it;
 * - `metric_lines_per_s`: the whole evaluator on
 *   `sum by (level) (count_over_time({app="bench"} | logfmt | status >= 500 [1m]))` over
 *   an in-memory store, 60 steps (windows, series, aggregation included);
 * - `baseline_lines_per_s`: a hand-written loop doing the least the same answer needs (find
 *   `status=`, parse the number, compare), measured in the same run: the ratios say what the
 *   generality of the engine costs on this machine, whatever its load.
 * Medians over the rounds after one warm-up round.
 */
import { parseArgs } from 'node:util';
import { Evaluator } from '../../aggregator/logql/evaluator.ts';
import { parseExpr } from '../../aggregator/logql/parser.ts';
import { Pipeline } from '../../aggregator/logql/pipeline.ts';
import { InMemoryLogStore } from '../../aggregator/logql/store.ts';
import { emitResult, log, round } from './bench-services.ts';

const { values } = parseArgs({
  options: { lines: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
});
const LINES = Number(values.lines);
const ROUNDS = Number(values.rounds);

// Deterministic logfmt lines shaped like an HTTP service's access log (~130 bytes).
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const levels = ['info', 'info', 'info', 'warn', 'error', 'debug'] as const;
const statuses = [200, 200, 200, 201, 204, 301, 404, 500, 502, 503] as const;
const paths = ['/api/v1/orders', '/api/v1/cart', '/healthz', '/api/v1/users/42', '/static/app.js'] as const;
const lines: string[] = [];
for (let i = 0; i < LINES; i++) {
  lines.push(
    `ts=2026-12-01T10:${String(i % 60).padStart(2, '0')}:00.000Z level=${pick(levels)} method=${pick(['GET', 'POST', 'PUT'])} path=${pick(paths)} ` +
      `status=${pick(statuses)} duration=${Math.floor(rand() * 900)}ms bytes=${Math.floor(rand() * 20000)} msg="request done"`,
  );
}
const bytes = lines.reduce((n, l) => n + l.length, 0);
log(`${LINES} lines, ${round(bytes / 1e6)} MB`);

const streamLabels = {
  app: 'bench',
  namespace: 'prod',
  pod: 'bench-1',
  container: 'app',
  stream: 'stdout',
  cluster: 'c1',
};
const meta = { detected_level: 'info' };
const selector = parseExpr('{app="bench"} | logfmt | status >= 500');
if (selector.kind !== 'log') throw new Error('expected a log query');
const pipeline = new Pipeline(selector.stages);

const MINUTE = 60_000_000_000n;
const startNs = 1_700_000_000_000_000_000n;
const span = 60n * MINUTE;
const store = new InMemoryLogStore([
  {
    labels: streamLabels,
    entries: lines.map((line, i) => ({ tsNs: startNs + (BigInt(i) * span) / BigInt(LINES), line, meta })),
  },
]);
const metricQuery = parseExpr('sum by (level) (count_over_time({app="bench"} | logfmt | status >= 500 [1m]))');

/** The least work the answer needs: is `status=` ≥ 500? */
function baseline(line: string): boolean {
  const i = line.indexOf(' status=');
  if (i < 0) return false;
  let n = 0;
  for (let j = i + 8; j < line.length; j++) {
    const c = line.charCodeAt(j);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return n >= 500;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pipe: number[] = [];
const metric: number[] = [];
const base: number[] = [];
let expected = -1;
for (let r = 0; r <= ROUNDS; r++) {
  let t0 = performance.now();
  let kept = 0;
  for (let i = 0; i < lines.length; i++) if (pipeline.process(BigInt(i), lines[i]!, streamLabels, meta)) kept++;
  const p = performance.now() - t0;

  t0 = performance.now();
  let kb = 0;
  for (const l of lines) if (baseline(l)) kb++;
  const b = performance.now() - t0;
  if (kb !== kept) throw new Error(`pipeline kept ${kept} lines, baseline ${kb}`);

  t0 = performance.now();
  const ev = new Evaluator(store, { maxSeries: 100 });
  const res = await ev.run(metricQuery, {
    startNs: startNs + MINUTE,
    endNs: startNs + span,
    stepNs: MINUTE,
    limit: 0,
    direction: 'forward',
  });
  const m = performance.now() - t0;
  if (res.type !== 'matrix') throw new Error(`unexpected result ${res.type}`);
  const total = res.series.reduce((n, s) => n + s.points.reduce((a, pt) => a + pt.value, 0), 0);
  if (expected < 0) expected = total;
  if (total !== expected || total > kept) throw new Error(`metric query counted ${total}, ${kept} lines match`);

  if (r === 0) continue; // warm-up
  pipe.push(LINES / (p / 1000));
  base.push(LINES / (b / 1000));
  metric.push(ev.stats.entriesScanned / (m / 1000));
  log(
    `round ${r}: pipeline ${round(pipe.at(-1)! / 1e6, 2)} M lines/s, metric query ${round(metric.at(-1)! / 1e6, 2)} M lines/s, baseline ${round(base.at(-1)! / 1e6, 2)} M lines/s`,
  );
}

emitResult({
  bench: 'aggregator.logql-pipeline',
  lines: LINES,
  rounds: ROUNDS,
  query: '| logfmt | status >= 500',
  pipeline_lines_per_s: Math.round(median(pipe)),
  metric_lines_per_s: Math.round(median(metric)),
  baseline_lines_per_s: Math.round(median(base)),
  pipeline_vs_baseline: round(median(pipe) / median(base), 3),
  pipeline_mb_per_s: round((median(pipe) * bytes) / LINES / 1e6, 1),
});
