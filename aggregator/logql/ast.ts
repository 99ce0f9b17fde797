/**
 * The LogQL syntax tree, as the parser builds it and the printer and the evaluator read it.
 * Plain immutable data (no methods, no compiled regexes): a tree can be printed, compared in
 * tests and compiled more than once. Durations are nanoseconds.
 *
 * Shapes follow Loki's `pkg/logql/syntax` so that semantics and the canonical form carry
 * over: a run of line filters with `or` is one `LineFilterStage` of and-ed groups, label
 * filters are a binary tree, an unwrap and its post-filters live on the range.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
}

// ---- line filters ---------------------------------------------------------------

export type LineFilterOp = '|=' | '!=' | '|~' | '!~' | '|>' | '!>';

/** One operand of a line filter: a literal / regex / pattern, or `ip("…")`. */
export interface LineFilterTerm {
  ip: boolean;
  value: string;
}

/**
 * `|= "a" or "b"`: a positive operator keeps a line matching ANY term; a negative one
 * (`!=`, `!~`, `!>`) keeps a line matching NONE (Loki turns `!= "a" or "b"` into
 * `!= "a" != "b"`, and so does the parser here).
 */
export interface LineFilter {
  op: LineFilterOp;
  terms: LineFilterTerm[];
}

// ---- label filters --------------------------------------------------------------

export type CmpOp = '==' | '!=' | '>' | '>=' | '<' | '<=';

export type LabelFilter =
  | { kind: 'string'; matcher: Matcher }
  | { kind: 'ip'; name: string; op: '=' | '!='; pattern: string }
  | { kind: 'number'; name: string; op: CmpOp; value: number }
  | { kind: 'duration'; name: string; op: CmpOp; ns: number }
  | { kind: 'bytes'; name: string; op: CmpOp; bytes: number }
  | { kind: 'and' | 'or'; left: LabelFilter; right: LabelFilter };

// ---- pipeline stages ------------------------------------------------------------

/** `name="expression"` in `| json a="b.c"` / `| logfmt a="b"`; a bare `name` is `name="name"`. */
export interface Extraction {
  name: string;
  expr: string;
}

/** An item of `| drop` / `| keep`: a bare label name, or a matcher on its value. */
export type NamedMatcher = { name: string; matcher?: undefined } | { name?: undefined; matcher: Matcher };

/** `dst=src` (rename) or `dst="{{template}}"`. */
export interface LabelFormat {
  name: string;
  value: string;
  rename: boolean;
}

export type Stage =
  | { kind: 'lineFilter'; filters: LineFilter[] }
  | { kind: 'json'; extractions: Extraction[] }
  | { kind: 'logfmt'; strict: boolean; keepEmpty: boolean; extractions: Extraction[] }
  | { kind: 'regexp'; pattern: string }
  | { kind: 'pattern'; pattern: string }
  | { kind: 'unpack' }
  | { kind: 'labelFilter'; filter: LabelFilter }
  | { kind: 'lineFormat'; template: string }
  | { kind: 'labelFormat'; formats: LabelFormat[] }
  | { kind: 'decolorize' }
  | { kind: 'drop' | 'keep'; items: NamedMatcher[] };

// ---- expressions ----------------------------------------------------------------

export interface LogSelectorExpr {
  kind: 'log';
  matchers: Matcher[];
  stages: Stage[];
}

export type UnwrapConv = '' | 'bytes' | 'duration' | 'duration_seconds';

export interface Unwrap {
  label: string;
  conv: UnwrapConv;
  postFilters: LabelFilter[];
}

export interface LogRange {
  selector: LogSelectorExpr;
  rangeNs: number;
  offsetNs: number;
  unwrap?: Unwrap;
}

export const RANGE_OPS = [
  'count_over_time',
  'rate',
  'rate_counter',
  'bytes_over_time',
  'bytes_rate',
  'avg_over_time',
  'sum_over_time',
  'min_over_time',
  'max_over_time',
  'stdvar_over_time',
  'stddev_over_time',
  'quantile_over_time',
  'first_over_time',
  'last_over_time',
  'absent_over_time',
] as const;
export type RangeOp = (typeof RANGE_OPS)[number];

export const VECTOR_OPS = [
  'sum',
  'avg',
  'count',
  'max',
  'min',
  'stddev',
  'stdvar',
  'bottomk',
  'topk',
  'sort',
  'sort_desc',
  'approx_topk',
] as const;
export type VectorOp = (typeof VECTOR_OPS)[number];

export interface Grouping {
  without: boolean;
  labels: string[];
}

export interface RangeAggregationExpr {
  kind: 'range';
  op: RangeOp;
  range: LogRange;
  /** quantile_over_time's φ. */
  param?: number;
  grouping?: Grouping;
}

export interface VectorAggregationExpr {
  kind: 'vector_agg';
  op: VectorOp;
  expr: SampleExpr;
  /** topk/bottomk's k (0 when not applicable). */
  param: number;
  /** Always present: no `by`/`without` is `by ()`, as in Loki. */
  grouping: Grouping;
}

export type BinaryOp =
  'or' | 'and' | 'unless' | '+' | '-' | '*' | '/' | '%' | '^' | '==' | '!=' | '>' | '>=' | '<' | '<=';

export interface VectorMatching {
  card: 'one-to-one' | 'many-to-one' | 'one-to-many';
  /** `on (…)` when true, else `ignoring (…)` (an empty ignoring is the default). */
  on: boolean;
  /** undefined: neither `on` nor `ignoring` was written with labels (see the printer). */
  labels?: string[];
  /** `group_left (…)` / `group_right (…)` extra labels; undefined when none were listed. */
  include?: string[];
}

export interface BinaryExpr {
  kind: 'binary';
  op: BinaryOp;
  left: SampleExpr;
  right: SampleExpr;
  returnBool: boolean;
  matching: VectorMatching;
}

export interface LiteralExpr {
  kind: 'literal';
  value: number;
}

export interface VectorExpr {
  kind: 'vector';
  value: number;
}

export interface LabelReplaceExpr {
  kind: 'label_replace';
  expr: SampleExpr;
  dst: string;
  replacement: string;
  src: string;
  regex: string;
}

export type SampleExpr =
  RangeAggregationExpr | VectorAggregationExpr | BinaryExpr | LiteralExpr | VectorExpr | LabelReplaceExpr;

export type Expr = LogSelectorExpr | SampleExpr;

export function isLogExpr(e: Expr): e is LogSelectorExpr {
  return e.kind === 'log';
}

export const ERROR_LABEL = '__error__';
export const ERROR_DETAILS_LABEL = '__error_details__';
