/**
 * LogQL parser: tokens (lexer.ts) → syntax tree (ast.ts), then Loki's validation.
 * A hand-written recursive descent over the grammar of Loki's `syntax.y`; where yacc's
 * conflict resolution decides a shape (label filter `,`/juxtaposition binding everything to
 * its right, `and` above `or`; `^` right-associative), the same shape is built here.
 *
 * Errors are `LogqlParseError`s with Loki's wording: syntax errors carry the line and column
 * of the offending token (`syntax error: unexpected X`); semantic ones (`grouping not allowed
 * for sum_over_time aggregation`, the all-matching selector …) carry none, as in Loki.
 * Pure: `parseExpr` never touches I/O; regexes are only compiled to be checked.
 */
import type {
  BinaryExpr,
  BinaryOp,
  CmpOp,
  Expr,
  Extraction,
  Grouping,
  LabelFilter,
  LabelFormat,
  LineFilter,
  LineFilterOp,
  LogRange,
  LogSelectorExpr,
  Matcher,
  MatchOp,
  NamedMatcher,
  RangeOp,
  SampleExpr,
  Stage,
  Unwrap,
  UnwrapConv,
  VectorMatching,
  VectorOp,
} from './ast.ts';
import { ERROR_LABEL, RANGE_OPS, VECTOR_OPS } from './ast.ts';
import { LogqlParseError } from './errors.ts';
import { tokenize, type Token } from './lexer.ts';
import { checkRegex, compileRegex } from './regex.ts';
import { parsePattern } from './pattern.ts';
import { parseTemplate } from './template.ts';

/** Loki refuses longer queries (`maxInputSize`). */
export const MAX_QUERY_LENGTH = 131072;

const ALL_MATCHING_SELECTOR =
  'queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will';

const RANGE_TOKEN: Record<string, RangeOp> = Object.fromEntries(RANGE_OPS.map((op) => [op.toUpperCase(), op]));
const VECTOR_TOKEN: Record<string, VectorOp> = Object.fromEntries(VECTOR_OPS.map((op) => [op.toUpperCase(), op]));
const LINE_FILTER_OPS = new Set<string>(['|=', '!=', '|~', '!~', '|>', '!>']);
const CMP_TOKENS: Record<string, CmpOp> = {
  '>': '>',
  '>=': '>=',
  '<': '<',
  '<=': '<=',
  '!=': '!=',
  '=': '==',
  '==': '==',
};

/** Binary operator precedence, lowest first (Loki's %left/%right list). */
const BIN_PREC: Record<string, number> = {
  or: 1,
  and: 2,
  unless: 2,
  '==': 3,
  '!=': 3,
  '<': 3,
  '<=': 3,
  '>': 3,
  '>=': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  '^': 6,
};

/** Parses and validates a query (Loki's `ParseExpr`). */
export function parseExpr(input: string): Expr {
  const expr = parseExprWithoutValidation(input);
  validateExpr(expr);
  return expr;
}

export function parseExprWithoutValidation(input: string): Expr {
  if (input.length >= MAX_QUERY_LENGTH) {
    throw new LogqlParseError(`input size too long (${input.length} > ${MAX_QUERY_LENGTH})`);
  }
  return new Parser(tokenize(input)).parseRoot();
}

/** Parses a bare selector such as `{app="x"}` (Loki's `ParseMatchers`). */
export function parseMatchers(input: string, validate = true): Matcher[] {
  const expr = validate ? parseExpr(input) : parseExprWithoutValidation(input);
  if (expr.kind !== 'log' || expr.stages.length > 0) throw new LogqlParseError('only label matchers are supported');
  return expr.matchers;
}

/** The Go type name Loki prints for a log expression used where a sample is needed. */
function goTypeName(e: Expr): string {
  if (e.kind === 'log') return e.stages.length > 0 ? '*syntax.PipelineExpr' : '*syntax.MatchersExpr';
  return (
    '*syntax.' +
    {
      range: 'RangeAggregationExpr',
      vector_agg: 'VectorAggregationExpr',
      binary: 'BinOpExpr',
      literal: 'LiteralExpr',
      vector: 'VectorExpr',
      label_replace: 'LabelReplaceExpr',
    }[e.kind]
  );
}

class Parser {
  readonly #toks: Token[];
  #pos = 0;

  constructor(tokens: Token[]) {
    this.#toks = tokens;
  }

  get #peek(): Token {
    return this.#toks[this.#pos]!;
  }

  #peekAt(n: number): Token {
    return this.#toks[Math.min(this.#pos + n, this.#toks.length - 1)]!;
  }

  #next(): Token {
    const t = this.#toks[this.#pos]!;
    if (this.#pos < this.#toks.length - 1) this.#pos++;
    return t;
  }

  #is(type: string): boolean {
    return this.#peek.type === type;
  }

  #accept(type: string): Token | undefined {
    return this.#is(type) ? this.#next() : undefined;
  }

  #fail(expecting?: string[]): never {
    const t = this.#peek;
    const exp = expecting && expecting.length > 0 ? `, expecting ${expecting.join(' or ')}` : '';
    throw new LogqlParseError(`syntax error: unexpected ${t.type}${exp}`, t.line, t.col);
  }

  #expect(type: string, expecting: string[] = [type]): Token {
    if (!this.#is(type)) this.#fail(expecting);
    return this.#next();
  }

  parseRoot(): Expr {
    if (this.#is('$end')) this.#fail();
    const e = this.#expr(0);
    if (!this.#is('$end')) this.#fail();
    return e;
  }

  // ---- expressions -------------------------------------------------------------

  #expr(minPrec: number): Expr {
    let left = this.#unary();
    for (;;) {
      const op = this.#peek.type;
      const prec = BIN_PREC[op];
      if (prec === undefined || prec < minPrec) return left;
      this.#next();
      const { returnBool, matching } = this.#binOpModifier();
      // `^` is right-associative; every other operator left-associative.
      const right = this.#expr(op === '^' ? prec : prec + 1);
      left = makeBinary(op as BinaryOp, returnBool, matching, left, right);
    }
  }

  #binOpModifier(): { returnBool: boolean; matching: VectorMatching } {
    const returnBool = this.#accept('bool') !== undefined;
    const matching: VectorMatching = { card: 'one-to-one', on: false };
    const onTok = this.#accept('on') ?? this.#accept('ignoring');
    if (!onTok) return { returnBool, matching };
    matching.on = onTok.type === 'on';
    this.#expect('(');
    const labels = this.#labelList();
    if (labels.length > 0) matching.labels = labels;
    else if (matching.on) matching.labels = [];
    const group = this.#accept('group_left') ?? this.#accept('group_right');
    if (group) {
      matching.card = group.type === 'group_left' ? 'many-to-one' : 'one-to-many';
      if (this.#accept('(')) {
        const include = this.#labelList();
        if (include.length > 0) matching.include = include;
      }
    }
    return { returnBool, matching };
  }

  /** `a, b, c )` — consumes the closing parenthesis. */
  #labelList(): string[] {
    const labels: string[] = [];
    if (this.#accept(')')) return labels;
    for (;;) {
      labels.push(this.#expect('IDENTIFIER', labels.length === 0 ? ['IDENTIFIER', ')'] : ['IDENTIFIER']).text);
      if (this.#accept(')')) return labels;
      this.#expect(',', [')', ',']);
    }
  }

  #unary(): Expr {
    const t = this.#peek;
    if (t.type === 'NUMBER') return this.#literal(false);
    if ((t.type === '+' || t.type === '-') && this.#peekAt(1).type === 'NUMBER') {
      this.#next();
      return this.#literal(t.type === '-');
    }
    if (t.type === '{') return this.#logExpr();
    if (t.type === '(') {
      this.#next();
      const inner = this.#expr(0);
      this.#expect(')');
      return inner;
    }
    const rangeOp = RANGE_TOKEN[t.type];
    if (rangeOp) return this.#rangeAggregation(rangeOp);
    const vectorOp = VECTOR_TOKEN[t.type];
    if (vectorOp) return this.#vectorAggregation(vectorOp);
    if (t.type === 'label_replace') return this.#labelReplace();
    if (t.type === 'VECTOR') {
      this.#next();
      this.#expect('(');
      const n = this.#expect('NUMBER');
      this.#expect(')');
      return { kind: 'vector', value: parseFloatLiteral(n.text, 'vectorExpr') };
    }
    this.#fail();
  }

  #literal(negate: boolean): SampleExpr {
    const v = parseFloatLiteral(this.#next().text, 'literal');
    return { kind: 'literal', value: negate ? -v : v };
  }

  #logExpr(): LogSelectorExpr {
    const matchers = this.#selector();
    const stages = this.#pipeline();
    if (this.#is('RANGE')) this.#fail();
    return { kind: 'log', matchers, stages };
  }

  #selector(): Matcher[] {
    this.#expect('{');
    const matchers: Matcher[] = [];
    if (this.#accept('}')) return matchers;
    for (;;) {
      matchers.push(this.#matcher());
      if (this.#accept('}')) return matchers;
      this.#expect(',', ['}', ',']);
    }
  }

  #matcher(): Matcher {
    const name = this.#expect('IDENTIFIER').text;
    return this.#matcherAfterName(name);
  }

  #matcherAfterName(name: string): Matcher {
    const op = this.#peek.type;
    if (op !== '=' && op !== '!=' && op !== '=~' && op !== '!~') this.#fail(['=', '!=', '=~', '!~']);
    this.#next();
    const value = this.#expect('STRING').text;
    return newMatcher(name, op, value);
  }

  // ---- pipelines ---------------------------------------------------------------

  /** Pipeline stages up to (not including) `| unwrap`, a RANGE, or anything that is not a stage. */
  #pipeline(): Stage[] {
    const stages: Stage[] = [];
    for (;;) {
      const t = this.#peek;
      if (LINE_FILTER_OPS.has(t.type)) {
        const filters: LineFilter[] = [];
        while (LINE_FILTER_OPS.has(this.#peek.type)) filters.push(...this.#lineFilter());
        stages.push({ kind: 'lineFilter', filters });
        continue;
      }
      if (t.type !== '|' || this.#peekAt(1).type === 'unwrap') return stages;
      this.#next();
      stages.push(this.#stage());
    }
  }

  /** One `op term (or term)*`; a negative operator's `or` becomes separate filters (Loki's rewrite). */
  #lineFilter(): LineFilter[] {
    const op = this.#next().type as LineFilterOp;
    const terms = [this.#lineFilterTerm()];
    while (this.#is('or')) {
      this.#next();
      terms.push(this.#lineFilterTerm());
    }
    if (op === '|=' || op === '|~' || op === '|>') return [{ op, terms }];
    return terms.map((term) => ({ op, terms: [term] }));
  }

  #lineFilterTerm(): { ip: boolean; value: string } {
    if (this.#accept('ip')) {
      this.#expect('(');
      const value = this.#expect('STRING').text;
      this.#expect(')');
      return { ip: true, value };
    }
    return { ip: false, value: this.#expect('STRING', ['STRING', 'ip']).text };
  }

  #stage(): Stage {
    const t = this.#peek;
    switch (t.type) {
      case 'json':
        this.#next();
        return { kind: 'json', extractions: this.#is('IDENTIFIER') ? this.#extractions() : [] };
      case 'logfmt': {
        this.#next();
        let strict = false;
        let keepEmpty = false;
        while (this.#is('FUNCTION_FLAG')) {
          const f = this.#next().text;
          if (f === '--strict') strict = true;
          else keepEmpty = true;
        }
        return { kind: 'logfmt', strict, keepEmpty, extractions: this.#is('IDENTIFIER') ? this.#extractions() : [] };
      }
      case 'regexp': {
        this.#next();
        const pattern = this.#expect('STRING').text;
        checkRegexpParser(pattern);
        return { kind: 'regexp', pattern };
      }
      case 'pattern': {
        this.#next();
        const pattern = this.#expect('STRING').text;
        try {
          parsePattern(pattern);
        } catch (e) {
          throw new LogqlParseError(`invalid pattern parser: ${(e as Error).message}`);
        }
        return { kind: 'pattern', pattern };
      }
      case 'unpack':
        this.#next();
        return { kind: 'unpack' };
      case 'line_format': {
        this.#next();
        const template = this.#expect('STRING').text;
        return { kind: 'lineFormat', template };
      }
      case 'label_format':
        this.#next();
        return { kind: 'labelFormat', formats: this.#labelFormats() };
      case 'decolorize':
        this.#next();
        return { kind: 'decolorize' };
      case 'drop':
      case 'keep': {
        this.#next();
        const items: NamedMatcher[] = [];
        do {
          const name = this.#expect('IDENTIFIER').text;
          if (['=', '!=', '=~', '!~'].includes(this.#peek.type)) items.push({ matcher: this.#matcherAfterName(name) });
          else items.push({ name });
        } while (this.#accept(','));
        return { kind: t.type, items };
      }
      case 'IDENTIFIER':
      case '(':
        return { kind: 'labelFilter', filter: this.#labelFilter() };
      default:
        this.#fail();
    }
  }

  #extractions(): Extraction[] {
    const out: Extraction[] = [];
    do {
      const name = this.#expect('IDENTIFIER').text;
      if (this.#accept('=')) out.push({ name, expr: this.#expect('STRING').text });
      else out.push({ name, expr: name });
    } while (this.#accept(','));
    return out;
  }

  #labelFormats(): LabelFormat[] {
    const formats: LabelFormat[] = [];
    do {
      const name = this.#expect('IDENTIFIER').text;
      this.#expect('=');
      const v = this.#next();
      if (v.type === 'IDENTIFIER') formats.push({ name, value: v.text, rename: true });
      else if (v.type === 'STRING') formats.push({ name, value: v.text, rename: false });
      else {
        this.#pos--;
        this.#fail(['IDENTIFIER', 'STRING']);
      }
    } while (this.#accept(','));
    const seen = new Set<string>();
    for (const f of formats) {
      if (f.name === ERROR_LABEL) throw new LogqlParseError(`${f.name} cannot be formatted`);
      if (seen.has(f.name))
        throw new LogqlParseError(`multiple label name '${f.name}' not allowed in a single format operation`);
      seen.add(f.name);
      if (!f.rename) {
        try {
          parseTemplate(f.value);
        } catch (e) {
          throw new LogqlParseError(`invalid template for label '${f.name}': ${(e as Error).message}`);
        }
      }
    }
    return formats;
  }

  // label filters: `or` lowest, then `and`; `,` and juxtaposition take everything to their right.
  #labelFilter(): LabelFilter {
    let left = this.#labelFilterAnd();
    while (this.#accept('or')) left = { kind: 'or', left, right: this.#labelFilterAnd() };
    return left;
  }

  #labelFilterAnd(): LabelFilter {
    let left = this.#labelFilterSeq();
    while (this.#accept('and')) left = { kind: 'and', left, right: this.#labelFilterSeq() };
    return left;
  }

  #labelFilterSeq(): LabelFilter {
    const first = this.#labelFilterPrimary();
    if (this.#accept(',')) return { kind: 'and', left: first, right: this.#labelFilter() };
    if (this.#is('IDENTIFIER') || this.#is('(')) return { kind: 'and', left: first, right: this.#labelFilter() };
    return first;
  }

  #labelFilterPrimary(): LabelFilter {
    if (this.#accept('(')) {
      const f = this.#labelFilter();
      this.#expect(')');
      return f;
    }
    const name = this.#expect('IDENTIFIER').text;
    const opTok = this.#peek;
    const op = opTok.type;
    const value = this.#peekAt(1);
    if ((op === '=' || op === '!=') && value.type === 'ip') {
      this.#next();
      this.#next();
      this.#expect('(');
      const pattern = this.#expect('STRING').text;
      this.#expect(')');
      return { kind: 'ip', name, op, pattern };
    }
    if ((op === '=' || op === '!=' || op === '=~' || op === '!~') && value.type === 'STRING') {
      return { kind: 'string', matcher: this.#matcherAfterName(name) };
    }
    const cmp = CMP_TOKENS[op];
    if (cmp === undefined) this.#fail(['=', '!=', '=~', '!~', '>', '>=', '<', '<=', '==']);
    this.#next();
    const v = this.#peek;
    if (v.type === 'DURATION') {
      this.#next();
      return { kind: 'duration', name, op: cmp, ns: v.num };
    }
    if (v.type === 'BYTES') {
      this.#next();
      return { kind: 'bytes', name, op: cmp, bytes: v.num };
    }
    if (v.type === 'NUMBER') {
      this.#next();
      return { kind: 'number', name, op: cmp, value: parseFloatLiteral(v.text, 'literal') };
    }
    if ((v.type === '+' || v.type === '-') && this.#peekAt(1).type === 'NUMBER') {
      this.#next();
      const n = parseFloatLiteral(this.#next().text, 'literal');
      return { kind: 'number', name, op: cmp, value: v.type === '-' ? -n : n };
    }
    this.#fail();
  }

  // ---- metric expressions ------------------------------------------------------

  #rangeAggregation(op: RangeOp): SampleExpr {
    this.#next();
    this.#expect('(');
    let paramText: string | undefined;
    if (this.#is('NUMBER')) {
      paramText = this.#next().text;
      this.#expect(',');
    } else if (!this.#is('{') && !this.#is('(')) this.#fail(['NUMBER', '{', '(']);
    const range = this.#logRange();
    this.#expect(')');
    const grouping = this.#is('by') || this.#is('without') ? this.#grouping() : undefined;
    let param: number | undefined;
    if (paramText !== undefined) {
      if (op !== 'quantile_over_time')
        throw new LogqlParseError(`parameter ${paramText} not supported for operation ${op}`);
      param = Number(paramText);
      if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(paramText)) {
        throw new LogqlParseError(
          `invalid parameter for operation ${op}: strconv.ParseFloat: parsing "${paramText}": invalid syntax`,
        );
      }
    } else if (op === 'quantile_over_time') throw new LogqlParseError(`parameter required for operation ${op}`);
    validateRangeAggregation(op, grouping, range);
    return { kind: 'range', op, range, ...(param !== undefined ? { param } : {}), ...(grouping ? { grouping } : {}) };
  }

  /** Every placement Loki accepts: `sel |… [r] offset o`, `sel [r] offset o |…`, `(sel |…)[r]`, unwrap on either side. */
  #logRange(): LogRange {
    if (this.#is('(')) {
      // `(logRange)` or `(selector pipeline unwrap?) [range]`.
      this.#next();
      if (!this.#is('{')) {
        const inner = this.#logRange();
        this.#expect(')');
        return inner;
      }
      const matchers = this.#selector();
      const stages = this.#pipeline();
      const unwrap = this.#unwrapOpt();
      if (this.#is('RANGE')) {
        // `(sel [r])` — the whole range inside the parentheses.
        const r = this.#rangeTail(matchers, stages, unwrap);
        this.#expect(')');
        return r;
      }
      this.#expect(')');
      return this.#rangeTail(matchers, stages, unwrap);
    }
    const matchers = this.#selector();
    const stages = this.#pipeline();
    const unwrap = this.#unwrapOpt();
    return this.#rangeTail(matchers, stages, unwrap);
  }

  #rangeTail(matchers: Matcher[], stages: Stage[], unwrap: Unwrap | undefined): LogRange {
    const rangeTok = this.#expect('RANGE');
    let offsetNs = 0;
    if (this.#accept('offset')) offsetNs = this.#expect('DURATION').num;
    if (stages.length === 0 && unwrap === undefined) {
      stages = this.#pipeline();
      unwrap = this.#unwrapOpt();
    } else if (unwrap === undefined && (this.#is('|') || LINE_FILTER_OPS.has(this.#peek.type))) {
      this.#fail();
    }
    return {
      selector: { kind: 'log', matchers, stages },
      rangeNs: rangeTok.num,
      offsetNs,
      ...(unwrap ? { unwrap } : {}),
    };
  }

  #unwrapOpt(): Unwrap | undefined {
    if (!(this.#is('|') && this.#peekAt(1).type === 'unwrap')) return undefined;
    this.#next();
    this.#next();
    let conv: UnwrapConv = '';
    let label: string;
    const t = this.#peek;
    if (t.type === 'BYTES_CONV' || t.type === 'DURATION_CONV' || t.type === 'DURATION_SECONDS_CONV') {
      this.#next();
      conv = t.type === 'BYTES_CONV' ? 'bytes' : t.type === 'DURATION_CONV' ? 'duration' : 'duration_seconds';
      this.#expect('(');
      label = this.#expect('IDENTIFIER').text;
      this.#expect(')');
    } else {
      label = this.#expect('IDENTIFIER').text;
    }
    const postFilters: LabelFilter[] = [];
    while (this.#is('|') && (this.#peekAt(1).type === 'IDENTIFIER' || this.#peekAt(1).type === '(')) {
      this.#next();
      postFilters.push(this.#labelFilter());
    }
    return { label, conv, postFilters };
  }

  #grouping(): Grouping {
    const without = this.#next().type === 'without';
    this.#expect('(');
    return { without, labels: this.#labelList() };
  }

  #vectorAggregation(op: VectorOp): SampleExpr {
    this.#next();
    let grouping = this.#is('by') || this.#is('without') ? this.#grouping() : undefined;
    this.#expect('(');
    let paramText: string | undefined;
    if (this.#is('NUMBER') && this.#peekAt(1).type === ',') {
      paramText = this.#next().text;
      this.#next();
    }
    const inner = this.#expr(0);
    // A log selector is no sample expression: yacc stops at the token after it.
    if (inner.kind === 'log') this.#fail();
    this.#expect(')');
    if (!grouping && (this.#is('by') || this.#is('without'))) grouping = this.#grouping();
    let param = 0;
    if (op === 'topk' || op === 'bottomk' || op === 'approx_topk') {
      if (paramText === undefined) throw new LogqlParseError(`parameter required for operation ${op}`);
      if (!/^[+-]?\d+$/.test(paramText)) throw new LogqlParseError(`invalid parameter ${op}(${paramText},`);
      param = Number(paramText);
      if (param <= 0) throw new LogqlParseError(`invalid parameter (must be greater than 0) ${op}(${paramText}`);
      if (op === 'approx_topk' && grouping) throw new LogqlParseError(`grouping not allowed for ${op} aggregation`);
    } else if (paramText !== undefined) {
      throw new LogqlParseError(`unsupported parameter for operation ${op}(${paramText},`);
    }
    return { kind: 'vector_agg', op, expr: inner, param, grouping: grouping ?? { without: false, labels: [] } };
  }

  #labelReplace(): SampleExpr {
    this.#next();
    this.#expect('(');
    const inner = this.#expr(0);
    if (inner.kind === 'log') this.#fail();
    const args: string[] = [];
    for (let k = 0; k < 4; k++) {
      this.#expect(',');
      args.push(this.#expect('STRING').text);
    }
    this.#expect(')');
    const [dst, replacement, src, regex] = args as [string, string, string, string];
    const err = checkRegex(`^(?:${regex})$`);
    if (err) throw new LogqlParseError(`invalid regex in label_replace: ${err}`);
    return { kind: 'label_replace', expr: inner, dst, replacement, src, regex };
  }
}

function parseFloatLiteral(text: string, what: 'literal' | 'vectorExpr'): number {
  if (!/^(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) {
    throw new LogqlParseError(
      `unable to parse ${what} as a float: strconv.ParseFloat: parsing "${text}": invalid syntax`,
    );
  }
  return Number(text.replaceAll('_', ''));
}

function newMatcher(name: string, op: MatchOp, value: string): Matcher {
  if (op === '=~' || op === '!~') {
    const err = checkRegex(`^(?s:${value})$`);
    if (err) throw new LogqlParseError(err);
  }
  return { name, op, value };
}

function checkRegexpParser(pattern: string): void {
  const err = checkRegex(pattern, { requireNamedGroup: true });
  if (err) throw new LogqlParseError(`invalid regexp parser: ${err}`);
}

function makeBinary(op: BinaryOp, returnBool: boolean, matching: VectorMatching, left: Expr, right: Expr): SampleExpr {
  if (left.kind === 'log')
    throw new LogqlParseError(`unexpected type for left leg of binary operation (${op}): ${goTypeName(left)}`);
  if (right.kind === 'log')
    throw new LogqlParseError(`unexpected type for right leg of binary operation (${op}): ${goTypeName(right)}`);
  const logical = op === 'or' || op === 'and' || op === 'unless';
  if (logical && left.kind === 'literal') {
    throw new LogqlParseError(
      `unexpected literal for left leg of logical/set binary operation (${op}): ${left.value.toFixed(6)}`,
    );
  }
  if (logical && right.kind === 'literal') {
    throw new LogqlParseError(
      `unexpected literal for right leg of logical/set binary operation (${op}): ${right.value.toFixed(6)}`,
    );
  }
  if (left.kind === 'literal' && right.kind === 'literal') {
    // Loki folds `1 + 1` into one literal (comparisons fold to 0/1).
    return { kind: 'literal', value: foldScalar(op, left.value, right.value) };
  }
  const e: BinaryExpr = { kind: 'binary', op, left, right, returnBool, matching };
  return e;
}

/** Scalar arithmetic and comparison as Loki's MergeBinOp does it (x/0 and x%0 are NaN). */
export function foldScalar(op: BinaryOp, l: number, r: number): number {
  switch (op) {
    case '+':
      return l + r;
    case '-':
      return l - r;
    case '*':
      return l * r;
    case '/':
      return r === 0 ? NaN : l / r;
    case '%':
      return r === 0 ? NaN : l % r;
    case '^':
      return Math.pow(l, r);
    case '==':
      return l === r ? 1 : 0;
    case '!=':
      return l !== r ? 1 : 0;
    case '>':
      return l > r ? 1 : 0;
    case '>=':
      return l >= r ? 1 : 0;
    case '<':
      return l < r ? 1 : 0;
    case '<=':
      return l <= r ? 1 : 0;
    default:
      throw new LogqlParseError(`unexpected operation: (${op})`);
  }
}

function validateRangeAggregation(op: RangeOp, grouping: Grouping | undefined, range: LogRange): void {
  if (grouping) {
    const allowed = [
      'avg_over_time',
      'stddev_over_time',
      'stdvar_over_time',
      'quantile_over_time',
      'max_over_time',
      'min_over_time',
      'first_over_time',
      'last_over_time',
    ];
    if (!allowed.includes(op)) throw new LogqlParseError(`grouping not allowed for ${op} aggregation`);
  }
  if (range.unwrap) {
    const allowed = [
      'avg_over_time',
      'sum_over_time',
      'max_over_time',
      'min_over_time',
      'stddev_over_time',
      'stdvar_over_time',
      'quantile_over_time',
      'rate',
      'rate_counter',
      'absent_over_time',
      'first_over_time',
      'last_over_time',
    ];
    if (!allowed.includes(op)) throw new LogqlParseError(`invalid aggregation ${op} with unwrap`);
    return;
  }
  if (!['bytes_over_time', 'bytes_rate', 'count_over_time', 'rate', 'absent_over_time'].includes(op)) {
    throw new LogqlParseError(`invalid aggregation ${op} without unwrap`);
  }
}

/** Does the matcher accept the empty value (then it only filters, it does not select)? */
export function matchesEmpty(m: Matcher): boolean {
  switch (m.op) {
    case '=':
      return m.value === '';
    case '!=':
      return m.value !== '';
    case '=~':
    case '!~': {
      const hit = checkRegexMatchesEmpty(m.value);
      return m.op === '=~' ? hit : !hit;
    }
  }
}

function checkRegexMatchesEmpty(value: string): boolean {
  return compileRegex(`^(?s:${value})$`).test('');
}

/** Loki's validation after parsing: every selector must select (not only filter), sort takes no grouping. */
export function validateExpr(e: Expr): void {
  switch (e.kind) {
    case 'log':
      if (!e.matchers.some((m) => !matchesEmpty(m))) throw new LogqlParseError(ALL_MATCHING_SELECTOR);
      return;
    case 'range':
      validateExpr(e.range.selector);
      return;
    case 'vector_agg':
      if ((e.op === 'sort' || e.op === 'sort_desc') && e.grouping.labels.length > 0) {
        throw new LogqlParseError("sort and sort_desc doesn't allow grouping by ");
      }
      validateExpr(e.expr);
      return;
    case 'binary':
      validateExpr(e.left);
      validateExpr(e.right);
      return;
    case 'label_replace':
      validateExpr(e.expr);
      return;
    case 'literal':
    case 'vector':
      return;
  }
}
