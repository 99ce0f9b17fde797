/**
 * Evaluates a parsed query over a LogStore (store.ts), in process, with Loki's semantics:
 *
 * - Log queries: entries in [start, end) in the query's direction through the pipeline,
 *   grouped into streams by their final labels, at most `limit` entries in all.
 * - Metric queries: steps t = start, start+step, … ≤ end (one step at `end` for an instant
 *   query). A range aggregation at t sees the samples with t-offset-range < ts ≤ t-offset.
 *   Entries stream in time order through per-series windows: memory holds one range of
 *   samples per series, never the whole time span of raw entries.
 * - Vector aggregations, binary operations (vector matching, `bool`, `on`/`ignoring`,
 *   `group_left`/`group_right`, set operators), `label_replace`, `vector()`, literals, per step.
 * - An `__error__` label left on a series of a metric query is a LogqlPipelineError, as in
 *   Loki (drop it or filter `__error__=""`).
 *
 * Bounds (EvalLimits): series per range aggregation, entries and bytes scanned, an abort
 * signal for the query timeout; each raises a LogqlLimitError (a 4xx), never runs out of memory.
 */
import type {
  BinaryExpr,
  Expr,
  Grouping,
  LogSelectorExpr,
  RangeAggregationExpr,
  SampleExpr,
  Stage,
  VectorAggregationExpr,
} from './ast.ts';
import { LogqlError, LogqlLimitError, LogqlPipelineError } from './errors.ts';
import { labelsKey, compileUnwrap, filterLabelNames, Pipeline, type LabelsBuilder } from './pipeline.ts';
import { foldScalar } from './parser.ts';
import { compileRegex, expandTemplate } from './regex.ts';
import type { LogStore, PreFilterHint, StorePosition } from './store.ts';
import { planWindowAggregate } from './metric-push-down.ts';

export interface QueryParams {
  startNs: bigint;
  endNs: bigint;
  /** 0 for an instant query (evaluated at endNs). */
  stepNs: bigint;
  /** Log queries: most entries returned (Loki's default 100). */
  limit: number;
  direction: 'forward' | 'backward';
  /** Log queries: resume strictly past this store position (a cursor's page boundary). */
  after?: StorePosition | undefined;
}

export interface EvalLimits {
  /** Most series one range aggregation may hold at once. */
  maxSeries: number;
  /** Most entries read from the store in all (log and metric queries). */
  maxEntriesScanned: number;
  /** Most line bytes read from the store in all. */
  maxBytesScanned: number;
  /** Aborts the evaluation (query timeout, client gone). */
  signal?: AbortSignal | undefined;
}

export const DEFAULT_LIMITS: EvalLimits = {
  maxSeries: 500,
  maxEntriesScanned: 50_000_000,
  maxBytesScanned: 10 * 1024 ** 3,
};

export interface Sample {
  labels: [string, string][];
  key: string;
  value: number;
}

export interface StreamResult {
  labels: Record<string, string>;
  key: string;
  entries: { tsNs: bigint; line: string }[];
}

export interface SeriesResult {
  labels: Record<string, string>;
  key: string;
  points: { tNs: bigint; value: number }[];
}

export interface Stats {
  entriesScanned: number;
  /** Line lengths in UTF-16 code units (bytes for ASCII lines): cheap to count per line. */
  bytesScanned: number;
  /** Entries that passed the pipeline (log queries) or became samples (metric queries). */
  entriesProcessed: number;
  /** Range aggregations the store answered with its own aggregations (metric-push-down.ts). */
  pushedDown: number;
}

export type QueryResult = (
  | {
      type: 'streams';
      streams: StreamResult[];
      /** Store position of the last entry returned (in the query's direction): where the next page resumes. */
      last?: StorePosition | undefined;
    }
  | { type: 'matrix'; series: SeriesResult[] }
  | { type: 'vector'; tNs: bigint; samples: (Sample & { labelsMap: Record<string, string> })[] }
  | { type: 'scalar'; tNs: bigint; value: number }
) & { stats: Stats };

/** Range aggregations whose per-series values add up: a `sum` above them may group first. */
const ADDITIVE_RANGE_OPS = new Set(['bytes_over_time', 'bytes_rate', 'sum_over_time', 'rate', 'count_over_time']);

const INSTANT_LOG_QUERY =
  'log queries are not supported as an instant query type, please change your query to a range query type';

type Evaluated = { kind: 'scalar'; value: number } | { kind: 'vectors'; steps: Sample[][] };

/** Literals the store may use to skip lines: `|= "x"` / `!= "x"` before any stage rewrites the line. */
export function preFilterHint(stages: readonly Stage[]): PreFilterHint {
  const hint: PreFilterHint = { lineContains: [], lineExcludes: [] };
  for (const s of stages) {
    if (s.kind === 'lineFormat' || s.kind === 'decolorize' || s.kind === 'unpack') break;
    if (s.kind !== 'lineFilter') continue;
    for (const f of s.filters) {
      if (f.terms.length !== 1 || f.terms[0]!.ip || f.terms[0]!.value === '') continue;
      if (f.op === '|=') hint.lineContains.push(f.terms[0]!.value);
      else if (f.op === '!=') hint.lineExcludes.push(f.terms[0]!.value);
    }
  }
  return hint;
}

function toMap(entries: readonly [string, string][]): Record<string, string> {
  const m: Record<string, string> = {};
  for (const [k, v] of entries) m[k] = v;
  return m;
}

function stepTimes(p: QueryParams): bigint[] {
  if (p.stepNs <= 0n) return [p.endNs];
  const out: bigint[] = [];
  for (let t = p.startNs; t <= p.endNs; t += p.stepNs) out.push(t);
  return out;
}

export class Evaluator {
  readonly #store: LogStore;
  readonly #limits: EvalLimits;
  readonly stats: Stats = { entriesScanned: 0, bytesScanned: 0, entriesProcessed: 0, pushedDown: 0 };

  constructor(store: LogStore, limits: Partial<EvalLimits> = {}) {
    this.#store = store;
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
  }

  async run(expr: Expr, p: QueryParams): Promise<QueryResult> {
    this.#checkAborted();
    if (expr.kind === 'log') {
      if (p.stepNs <= 0n && p.startNs === p.endNs) throw new LogqlError('AGG_ERR_LOGQL_EXEC', INSTANT_LOG_QUERY);
      const { streams, last } = await this.#logs(expr, p);
      return { type: 'streams', streams, last, stats: this.stats };
    }
    const steps = stepTimes(p);
    if (steps.length === 0) return { type: 'matrix', series: [], stats: this.stats };
    const ev = await this.#sample(expr, steps);
    const instant = p.stepNs <= 0n;
    if (ev.kind === 'scalar') {
      if (instant) return { type: 'scalar', tNs: steps[0]!, value: ev.value, stats: this.stats };
      return {
        type: 'matrix',
        series: [{ labels: {}, key: '{}', points: steps.map((tNs) => ({ tNs, value: ev.value })) }],
        stats: this.stats,
      };
    }
    if (instant) {
      let samples = ev.steps[0]!.map((s) => ({ ...s, labelsMap: toMap(s.labels) }));
      const ordered =
        expr.kind === 'vector_agg' &&
        (expr.op === 'sort' || expr.op === 'sort_desc' || expr.op === 'topk' || expr.op === 'bottomk');
      if (!ordered) samples = samples.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return { type: 'vector', tNs: steps[0]!, samples, stats: this.stats };
    }
    const series = new Map<string, SeriesResult>();
    ev.steps.forEach((vec, i) => {
      for (const s of vec) {
        let r = series.get(s.key);
        if (!r) series.set(s.key, (r = { labels: toMap(s.labels), key: s.key, points: [] }));
        r.points.push({ tNs: steps[i]!, value: s.value });
      }
    });
    return {
      type: 'matrix',
      series: [...series.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      stats: this.stats,
    };
  }

  #checkAborted(): void {
    if (this.#limits.signal?.aborted) throw new LogqlLimitError('entries', 'the query was cancelled (timeout)');
  }

  #account(line: string): void {
    const st = this.stats;
    st.entriesScanned++;
    st.bytesScanned += line.length;
    if (st.entriesScanned > this.#limits.maxEntriesScanned) {
      throw new LogqlLimitError(
        'entries',
        `the query would read too many entries (limit ${this.#limits.maxEntriesScanned})`,
      );
    }
    if (st.bytesScanned > this.#limits.maxBytesScanned) {
      throw new LogqlLimitError('bytes', `the query would read too many bytes (limit ${this.#limits.maxBytesScanned})`);
    }
    // Checked on the first entry and every 1024th after: cheap, and a timeout is seen within a batch.
    if ((st.entriesScanned & 1023) === 1) this.#checkAborted();
  }

  async #logs(e: LogSelectorExpr, p: QueryParams): Promise<{ streams: StreamResult[]; last?: StorePosition }> {
    const pipeline = new Pipeline(e.stages);
    const streams = new Map<string, StreamResult>();
    let returned = 0;
    let last: StorePosition | undefined;
    if (p.limit <= 0) return { streams: [] };
    for await (const entry of this.#store.select({
      matchers: e.matchers,
      startNs: p.startNs,
      endNs: p.endNs,
      direction: p.direction,
      hint: preFilterHint(e.stages),
      after: p.after,
      signal: this.#limits.signal,
    })) {
      this.#account(entry.line);
      const out = pipeline.process(entry.tsNs, entry.line, entry.labels, entry.meta);
      if (!out) continue;
      const labels = out.labels.entries();
      const key = labelsKey(labels);
      let s = streams.get(key);
      if (!s) {
        if (streams.size >= this.#limits.maxSeries) throw seriesLimit(this.#limits.maxSeries);
        streams.set(key, (s = { labels: toMap(labels), key, entries: [] }));
      }
      s.entries.push({ tsNs: entry.tsNs, line: out.line });
      last = entry.position;
      this.stats.entriesProcessed++;
      if (++returned >= p.limit) break;
    }
    const sorted = [...streams.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return last ? { streams: sorted, last } : { streams: sorted };
  }

  async #sample(e: SampleExpr, steps: bigint[]): Promise<Evaluated> {
    switch (e.kind) {
      case 'literal':
        return { kind: 'scalar', value: e.value };
      case 'vector':
        return { kind: 'vectors', steps: steps.map(() => [{ labels: [], key: '{}', value: e.value }]) };
      case 'range':
        return { kind: 'vectors', steps: await this.#range(e, steps) };
      case 'vector_agg': {
        // Loki's grouping push-down: `sum by (x)` over an additive range aggregation groups the
        // samples before the windows (same result, one series per group instead of per label set).
        if (e.op === 'sum' && e.expr.kind === 'range' && !e.expr.grouping && ADDITIVE_RANGE_OPS.has(e.expr.op)) {
          const grouped =
            (await this.#pushDown(e.expr, steps, e.grouping)) ?? (await this.#range(e.expr, steps, e.grouping));
          return { kind: 'vectors', steps: grouped.map((v) => vectorAggregate(e, v)) };
        }
        const inner = await this.#sample(e.expr, steps);
        const vecs =
          inner.kind === 'scalar'
            ? steps.map(() => [{ labels: [] as [string, string][], key: '{}', value: inner.value }])
            : inner.steps;
        return { kind: 'vectors', steps: vecs.map((v) => vectorAggregate(e, v)) };
      }
      case 'binary':
        return this.#binary(e, steps);
      case 'label_replace': {
        const inner = await this.#sample(e.expr, steps);
        if (inner.kind === 'scalar') return inner;
        const re = compileRegex(`^(?s:${e.regex})$`);
        const names = re.namedGroups();
        return {
          kind: 'vectors',
          steps: inner.steps.map((vec) =>
            vec.map((s) => {
              const src = s.labels.find(([k]) => k === e.src)?.[1] ?? '';
              const m = re.matcher(src);
              if (!m.matches()) return s;
              const groups: (string | undefined)[] = [];
              for (let g = 0; g <= re.groupCount(); g++) groups.push(m.group(g) ?? undefined);
              const res = expandTemplate(e.replacement, groups, names);
              const labels = s.labels.filter(([k]) => k !== e.dst);
              if (res !== '') labels.push([e.dst, res]);
              labels.sort((a, b) => (a[0] < b[0] ? -1 : 1));
              return { labels, key: labelsKey(labels), value: s.value };
            }),
          ),
        };
      }
    }
  }

  async #binary(e: BinaryExpr, steps: bigint[]): Promise<Evaluated> {
    // Legs run one after the other: a query never holds two store scans open at once.
    const l = await this.#sample(e.left, steps);
    const r = await this.#sample(e.right, steps);
    if (l.kind === 'scalar' && r.kind === 'scalar')
      return { kind: 'scalar', value: foldScalar(e.op, l.value, r.value) };
    if (l.kind === 'scalar' || r.kind === 'scalar') {
      const vec = (l.kind === 'vectors' ? l : (r as { steps: Sample[][] })).steps;
      const lit = l.kind === 'scalar' ? l.value : (r as { value: number }).value;
      const literalLeft = l.kind === 'scalar';
      return { kind: 'vectors', steps: vec.map((v) => literalBinop(e, v, lit, literalLeft)) };
    }
    return { kind: 'vectors', steps: l.steps.map((lv, i) => vectorBinop(e, lv, r.steps[i]!)) };
  }

  /**
   * `sum <grouping> (e)`'s grouped range vectors from the store's own aggregations, or
   * undefined when the shape, the alignment or the store does not allow an exact answer.
   * Values are computed as rangeValue computes them from the same counts and byte sums.
   */
  async #pushDown(e: RangeAggregationExpr, steps: bigint[], grouping: Grouping): Promise<Sample[][] | undefined> {
    if (!this.#store.aggregateWindows) return undefined;
    const req = planWindowAggregate(e, grouping, steps, this.#limits.maxSeries, this.#limits.signal);
    if (!req) return undefined;
    const res = await this.#store.aggregateWindows(req);
    if (!res) return undefined;
    this.#checkAborted();
    this.stats.pushedDown++;
    const rangeSec = e.range.rangeNs / 1e9;
    const out: Sample[][] = steps.map(() => []);
    for (const s of res.series) {
      const key = labelsKey(s.labels);
      s.counts.forEach((n, i) => {
        if (n === 0) return;
        const b = s.bytes[i] ?? 0;
        const value =
          e.op === 'count_over_time'
            ? n
            : e.op === 'rate'
              ? n / rangeSec
              : e.op === 'bytes_over_time'
                ? b
                : b / rangeSec;
        out[i]!.push({ labels: s.labels, key, value });
      });
    }
    return out;
  }

  async #range(e: RangeAggregationExpr, steps: bigint[], pushedGrouping?: Grouping): Promise<Sample[][]> {
    const rangeNs = BigInt(e.range.rangeNs);
    const offNs = BigInt(e.range.offsetNs);
    const rangeSec = e.range.rangeNs / 1e9;
    const sel = e.range.selector;
    const pipeline = new Pipeline(sel.stages, parserHints(e, pushedGrouping));
    const unwrap = e.range.unwrap ? compileUnwrap(e.range.unwrap) : undefined;
    const bytes = e.op === 'bytes_over_time' || e.op === 'bytes_rate';
    const group = seriesLabeller(e, pushedGrouping);
    const series = new Map<string, { labels: [string, string][]; ts: bigint[]; vs: number[]; head: number }>();
    const out: Sample[][] = steps.map(() => []);
    const absent = e.op === 'absent_over_time' ? absentLabels(sel) : undefined;
    let k = 0;

    const emit = (i: number) => {
      const t = steps[i]! - offNs;
      const from = t - rangeNs;
      const vec = out[i]!;
      for (const [key, s] of series) {
        while (s.head < s.ts.length && s.ts[s.head]! <= from) s.head++;
        if (s.head >= s.ts.length) {
          series.delete(key);
          continue;
        }
        if (s.head > 1024 && s.head * 2 > s.ts.length) {
          s.ts = s.ts.slice(s.head);
          s.vs = s.vs.slice(s.head);
          s.head = 0;
        }
        let n = 0;
        for (let j = s.head; j < s.ts.length && s.ts[j]! <= t; j++) n++;
        if (n === 0) continue;
        const errLabel = s.labels.find(([name]) => name === '__error__');
        if (errLabel) throw new LogqlPipelineError(errLabel[1], key);
        if (absent) continue;
        vec.push({
          labels: s.labels,
          key,
          value: rangeValue(e, s.vs.slice(s.head, s.head + n), s.ts.slice(s.head, s.head + n), rangeSec, t),
        });
      }
      if (absent && vec.length === 0 && ![...series.values()].some((s) => s.head < s.ts.length && s.ts[s.head]! <= t)) {
        vec.push({ labels: absent, key: labelsKey(absent), value: 1 });
      }
    };

    const startNs = steps[0]! - offNs - rangeNs + 1n;
    const endNs = steps[steps.length - 1]! - offNs + 1n;
    for await (const entry of this.#store.select({
      matchers: sel.matchers,
      startNs,
      endNs,
      direction: 'forward',
      hint: preFilterHint(sel.stages),
      signal: this.#limits.signal,
    })) {
      this.#account(entry.line);
      while (k < steps.length && entry.tsNs > steps[k]! - offNs) emit(k++);
      const r = pipeline.process(entry.tsNs, entry.line, entry.labels, entry.meta);
      if (!r) continue;
      let value: number;
      if (unwrap) {
        const v = unwrap(r.labels);
        if (v === undefined) continue;
        value = v;
      } else value = bytes ? Buffer.byteLength(r.line) : 1;
      const labels = group(r.labels);
      const key = labelsKey(labels);
      let s = series.get(key);
      if (!s) {
        if (series.size >= this.#limits.maxSeries) throw seriesLimit(this.#limits.maxSeries);
        series.set(key, (s = { labels, ts: [], vs: [], head: 0 }));
      }
      s.ts.push(entry.tsNs);
      s.vs.push(value);
      this.stats.entriesProcessed++;
    }
    while (k < steps.length) emit(k++);
    return out;
  }
}

function seriesLimit(n: number): LogqlLimitError {
  return new LogqlLimitError(
    'series',
    `maximum number of series (${n}) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()`,
  );
}

/**
 * The only labels a metric pipeline needs to extract, or undefined for all of them: when the
 * series are grouped `by (…)` and every stage is a filter or a plain parser, a label outside
 * the grouping, the filters and the unwrap is never read and then dropped, so parsers may
 * skip it (Loki's parser hints; the result is the same, bench/aggregator/logql-pipeline.bench.ts).
 */
function parserHints(e: RangeAggregationExpr, pushed?: Grouping): Set<string> | undefined {
  const g = e.grouping ?? pushed;
  if (!g || g.without) return undefined;
  const wanted = new Set(g.labels);
  for (const s of e.range.selector.stages) {
    if (s.kind === 'labelFilter') filterLabelNames(s.filter, wanted);
    else if (s.kind === 'json' || s.kind === 'logfmt') {
      if (s.extractions.length > 0) return undefined;
    } else if (s.kind !== 'lineFilter' && s.kind !== 'decolorize' && s.kind !== 'regexp' && s.kind !== 'pattern')
      return undefined;
  }
  const u = e.range.unwrap;
  if (u) {
    wanted.add(u.label);
    for (const f of u.postFilters) filterLabelNames(f, wanted);
  }
  return wanted;
}

/**
 * The series labels of a sample: all labels (less the unwrapped one), or the range
 * aggregation's grouping. A sample with an `__error__` keeps every label, the unwrapped one
 * included, as Loki's `LabelsBuilder.GroupedLabels` does ("before applying grouping otherwise
 * the error might get lost"): the pipeline error then names the whole series.
 */
function seriesLabeller(e: RangeAggregationExpr, pushed?: Grouping): (lbs: LabelsBuilder) => [string, string][] {
  const unwrapped = e.range.unwrap?.label;
  const g = e.grouping ?? pushed;
  if (g && !g.without) {
    const names = [...new Set(g.labels)].sort();
    return (lbs) => (lbs.err ? lbs.entries() : lbs.only(names));
  }
  const drop = new Set(g?.labels ?? []);
  if (unwrapped !== undefined) drop.add(unwrapped);
  if (drop.size === 0) return (lbs) => lbs.entries();
  return (lbs) => (lbs.err ? lbs.entries() : lbs.entries().filter(([k]) => !drop.has(k)));
}

/** absent_over_time's series: the selector's equality matchers (a label matched twice or otherwise is left out). */
function absentLabels(sel: LogSelectorExpr): [string, string][] {
  const eq = new Map<string, string>();
  const other = new Set<string>();
  for (const m of sel.matchers) {
    if (m.op === '=' && !eq.has(m.name)) eq.set(m.name, m.value);
    else other.add(m.name);
  }
  for (const n of other) eq.delete(n);
  return [...eq.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

function rangeValue(e: RangeAggregationExpr, vs: number[], ts: bigint[], rangeSec: number, endNs: bigint): number {
  switch (e.op) {
    case 'count_over_time':
      return vs.length;
    case 'rate':
      return e.range.unwrap ? sum(vs) / rangeSec : vs.length / rangeSec;
    case 'rate_counter':
      return extrapolatedRate(vs, ts, e.range.rangeNs, endNs);
    case 'bytes_over_time':
    case 'sum_over_time':
      return sum(vs);
    case 'bytes_rate':
      return sum(vs) / rangeSec;
    case 'avg_over_time': {
      let mean = 0;
      let count = 0;
      for (const v of vs) {
        count++;
        if (!Number.isFinite(mean) && !Number.isNaN(mean)) {
          if (!Number.isFinite(v) && !Number.isNaN(v) && mean > 0 === v > 0) continue;
          if (Number.isFinite(v)) continue;
        }
        mean += v / count - mean / count;
      }
      return mean;
    }
    case 'max_over_time': {
      let m = vs[0]!;
      for (const v of vs) if (v > m || Number.isNaN(m)) m = v;
      return m;
    }
    case 'min_over_time': {
      let m = vs[0]!;
      for (const v of vs) if (v < m || Number.isNaN(m)) m = v;
      return m;
    }
    case 'stdvar_over_time':
    case 'stddev_over_time': {
      let aux = 0;
      let count = 0;
      let mean = 0;
      for (const v of vs) {
        count++;
        const delta = v - mean;
        mean += delta / count;
        aux += delta * (v - mean);
      }
      return e.op === 'stdvar_over_time' ? aux / count : Math.sqrt(aux / count);
    }
    case 'quantile_over_time':
      return quantile(e.param!, vs);
    case 'first_over_time':
      return vs[0]!;
    case 'last_over_time':
      return vs[vs.length - 1]!;
    case 'absent_over_time':
      return 1;
  }
}

function sum(vs: number[]): number {
  let s = 0;
  for (const v of vs) s += v;
  return s;
}

/** Loki's Quantile: sorted values, linear interpolation; q<0 → -Inf, q>1 → +Inf, none → NaN. */
export function quantile(q: number, values: number[]): number {
  if (values.length === 0) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight;
}

/** Prometheus' counter rate, on the query's window boundaries (Loki's extrapolatedRate). */
function extrapolatedRate(vs: number[], ts: bigint[], rangeNs: number, endNs: bigint): number {
  if (vs.length < 2) return 0;
  const rangeStart = endNs - BigInt(rangeNs);
  let result = vs[vs.length - 1]! - vs[0]!;
  let last = 0;
  for (const v of vs) {
    if (v < last) result += last;
    last = v;
  }
  let toStart = Number(ts[0]! - rangeStart) / 1e9;
  let toEnd = Number(endNs - ts[ts.length - 1]!) / 1e9;
  const sampled = Number(ts[ts.length - 1]! - ts[0]!) / 1e9;
  const avg = sampled / (vs.length - 1);
  const threshold = avg * 1.1;
  if (toStart >= threshold) toStart = avg / 2;
  let toZero = toStart;
  if (result > 0 && vs[0]! >= 0) toZero = sampled * (vs[0]! / result);
  if (toZero < toStart) toStart = toZero;
  if (toEnd >= threshold) toEnd = avg / 2;
  result = result * ((sampled + toStart + toEnd) / sampled);
  return result / (rangeNs / 1e9);
}

// ---- vector aggregation -----------------------------------------------------------

function groupLabels(labels: [string, string][], without: boolean, names: Set<string>): [string, string][] {
  return labels.filter(([k]) => (without ? !names.has(k) : names.has(k)));
}

export function vectorAggregate(e: VectorAggregationExpr, vec: Sample[]): Sample[] {
  if ((e.op === 'topk' || e.op === 'bottomk') && e.param < 1) return [];
  const names = new Set(e.grouping.labels);
  const groups = new Map<string, { labels: [string, string][]; samples: Sample[] }>();
  for (const s of vec) {
    const gl = groupLabels(s.labels, e.grouping.without, names);
    const gk = labelsKey(gl);
    let g = groups.get(gk);
    if (!g) groups.set(gk, (g = { labels: gl, samples: [] }));
    g.samples.push(s);
  }
  const out: Sample[] = [];
  for (const [gk, g] of groups) {
    const vals = g.samples.map((s) => s.value);
    const push = (value: number) => out.push({ labels: g.labels, key: gk, value });
    switch (e.op) {
      case 'sum':
        push(sum(vals));
        break;
      case 'avg': {
        let mean = vals[0]!;
        let count = 1;
        for (const v of vals.slice(1)) {
          count++;
          if (!Number.isFinite(mean) && !Number.isNaN(mean)) {
            if (!Number.isFinite(v) && !Number.isNaN(v) && mean > 0 === v > 0) continue;
            if (Number.isFinite(v)) continue;
          }
          mean += (v - mean) / count;
        }
        push(mean);
        break;
      }
      case 'count':
        push(vals.length);
        break;
      case 'max': {
        let m = vals[0]!;
        for (const v of vals) if (m < v || Number.isNaN(m)) m = v;
        push(m);
        break;
      }
      case 'min': {
        let m = vals[0]!;
        for (const v of vals) if (m > v || Number.isNaN(m)) m = v;
        push(m);
        break;
      }
      case 'stddev':
      case 'stdvar': {
        let mean = 0;
        let aux = 0;
        let count = 0;
        for (const v of vals) {
          count++;
          const delta = v - mean;
          mean += delta / count;
          aux += delta * (v - mean);
        }
        push(e.op === 'stdvar' ? aux / count : Math.sqrt(aux / count));
        break;
      }
      case 'topk':
      case 'bottomk':
      case 'approx_topk': {
        const desc = e.op !== 'bottomk';
        // NaN sorts last in both directions (Prometheus' heaps treat it as the worst value).
        const sorted = [...g.samples].sort(
          (a, b) => orderValues(a.value, b.value, desc) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
        );
        out.push(...sorted.slice(0, e.param));
        break;
      }
      case 'sort':
      case 'sort_desc': {
        const sorted = [...g.samples].sort(
          (a, b) => orderValues(a.value, b.value, e.op === 'sort_desc') || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
        );
        out.push(...sorted);
        break;
      }
    }
  }
  return out;
}

function orderValues(a: number, b: number, desc: boolean): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) === Number.isNaN(b) ? 0 : Number.isNaN(a) ? 1 : -1;
  return desc ? b - a || 0 : a - b || 0;
}

// ---- binary operations ------------------------------------------------------------

const COMPARISON = new Set(['==', '!=', '>', '>=', '<', '<=']);

function signature(labels: [string, string][], e: BinaryExpr): string {
  const m = e.matching;
  if (m.on) {
    const on = new Set(m.labels ?? []);
    return labelsKey(labels.filter(([k]) => on.has(k)));
  }
  if (m.labels && m.labels.length > 0) {
    const ign = new Set(m.labels);
    return labelsKey(labels.filter(([k]) => !ign.has(k)));
  }
  return labelsKey(labels);
}

function literalBinop(e: BinaryExpr, vec: Sample[], lit: number, literalLeft: boolean): Sample[] {
  const out: Sample[] = [];
  const cmp = COMPARISON.has(e.op);
  for (const s of vec) {
    const l = literalLeft ? lit : s.value;
    const r = literalLeft ? s.value : lit;
    const v = foldScalar(e.op, l, r);
    if (cmp && !e.returnBool) {
      if (v === 1) out.push(s);
      continue;
    }
    out.push({ labels: s.labels, key: s.key, value: v });
  }
  return out;
}

function resultLabels(lhs: [string, string][], rhs: [string, string][], e: BinaryExpr): [string, string][] {
  const m = e.matching;
  let labels = lhs;
  if (m.card === 'one-to-one') {
    if (m.on) {
      const on = new Set(m.labels ?? []);
      labels = labels.filter(([k]) => on.has(k));
    } else if (m.labels) {
      const ign = new Set(m.labels);
      labels = labels.filter(([k]) => !ign.has(k));
    }
  }
  if (m.include && m.include.length > 0) {
    const map = new Map(labels);
    for (const name of m.include) {
      const v = rhs.find(([k]) => k === name)?.[1];
      if (v !== undefined && v !== '') map.set(name, v);
      else map.delete(name);
    }
    labels = [...map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }
  return labels;
}

function vectorBinop(e: BinaryExpr, lhs: Sample[], rhs: Sample[]): Sample[] {
  const lsig = lhs.map((s) => signature(s.labels, e));
  const rsig = rhs.map((s) => signature(s.labels, e));
  if (e.op === 'and') {
    if (lhs.length === 0 || rhs.length === 0) return [];
    const rs = new Set(rsig);
    return lhs.filter((_s, i) => rs.has(lsig[i]!));
  }
  if (e.op === 'or') {
    if (lhs.length === 0) return rhs;
    if (rhs.length === 0) return lhs;
    const ls = new Set(lsig);
    return [...lhs, ...rhs.filter((_s, i) => !ls.has(rsig[i]!))];
  }
  if (e.op === 'unless') {
    if (lhs.length === 0 || rhs.length === 0) return lhs;
    const rs = new Set(rsig);
    return lhs.filter((_s, i) => !rs.has(lsig[i]!));
  }
  let [one, many, oneSig, manySig] = [rhs, lhs, rsig, lsig];
  const swapped = e.matching.card === 'one-to-many';
  if (swapped) [one, many, oneSig, manySig] = [lhs, rhs, lsig, rsig];
  const right = new Map<string, Sample>();
  one.forEach((s, i) => {
    if (right.has(oneSig[i]!)) {
      throw new LogqlError(
        'AGG_ERR_LOGQL_EXEC',
        `found duplicate series on the ${swapped ? 'left' : 'right'} hand-side;many-to-many matching not allowed: matching labels must be unique on one side`,
      );
    }
    right.set(oneSig[i]!, s);
  });
  const matched = new Map<string, Set<string>>();
  const out: Sample[] = [];
  const cmp = COMPARISON.has(e.op);
  many.forEach((ms, i) => {
    const sig = manySig[i]!;
    const os = right.get(sig);
    if (!os) return;
    const labels = resultLabels(ms.labels, os.labels, e);
    const key = labelsKey(labels);
    const seen = matched.get(sig);
    if (e.matching.card === 'one-to-one') {
      if (seen)
        throw new LogqlError(
          'AGG_ERR_LOGQL_EXEC',
          'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
        );
      matched.set(sig, new Set());
    } else {
      if (seen?.has(key))
        throw new LogqlError(
          'AGG_ERR_LOGQL_EXEC',
          'multiple matches for labels: grouping labels must ensure unique matches',
        );
      (seen ?? matched.set(sig, new Set()).get(sig)!).add(key);
    }
    const [l, r] = swapped ? [os, ms] : [ms, os];
    const v = foldScalar(e.op, l.value, r.value);
    if (cmp && !e.returnBool) {
      if (v === 1) out.push({ labels, key, value: l.value });
      return;
    }
    out.push({ labels, key, value: v });
  });
  return out;
}
