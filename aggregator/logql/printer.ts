/**
 * Canonical form of a query: what Loki's `Expr.String()` prints (and so what its
 * `format_query` endpoint, query-frontend cache keys and error messages show), reproduced
 * character for character, quirks included: `sum by (a)(…)`, a range printed right after
 * its pipeline (`{a="b"} |= "x"[5m]`), offsets as Go durations (`offset 5m0s`), label filters
 * as `( a , b )`, literals as Go's `%v`, `vector(1.000000)`, binary operations parenthesised.
 * Pure; parse(print(e)) is e for every tree the parser builds.
 */
import type {
  Expr,
  Grouping,
  LabelFilter,
  LineFilter,
  LogRange,
  LogSelectorExpr,
  Matcher,
  SampleExpr,
  Stage,
} from './ast.ts';
import { goDuration, goFloat, goFloatFixed, goQuote, humanizeBytes, promDuration } from './go-format.ts';
import { compileRegex } from './regex.ts';

export function printExpr(e: Expr): string {
  switch (e.kind) {
    case 'log':
      return printLogSelector(e);
    default:
      return printSample(e);
  }
}

export function printMatcher(m: Matcher): string {
  return `${m.name}${m.op}${goQuote(m.value)}`;
}

export function printMatchers(ms: Matcher[]): string {
  return `{${ms.map(printMatcher).join(', ')}}`;
}

function printLogSelector(e: LogSelectorExpr): string {
  const sel = printMatchers(e.matchers);
  return e.stages.length === 0 ? sel : `${sel} ${e.stages.map(printStage).join(' ')}`;
}

function printLineFilter(f: LineFilter): string {
  const term = (t: { ip: boolean; value: string }) => (t.ip ? `ip(${goQuote(t.value)})` : goQuote(t.value));
  return `${f.op} ${f.terms.map(term).join(' or ')}`;
}

// What Loki's regex simplifier turns into literal filters (pkg/logql/log/filter.go): a literal,
// literals or'ed, `.*`, `.+`, `.*lit.*` around a literal, a literal then a group of literals,
// optionally `(?i)`. Checked on RE2 (the pattern is the user's).
const LIT = String.raw`(?:[^.+*?()\[\]{}|^$\\]|\\[^a-zA-Z0-9])+`;
const ALT = `${LIT}(?:\\|${LIT})*`;
const SIMPLIFIABLE = compileRegex(
  `^(?:\\(\\?i\\))?(?:|\\.\\*|\\.\\+|\\(?${ALT}\\)?|(?:\\.\\*)?${LIT}(?:\\.\\*)?|(?:\\.\\*)?${LIT}\\((?:${ALT})\\)(?:\\.\\*)?)$`,
);

export function printLabelFilter(f: LabelFilter): string {
  switch (f.kind) {
    case 'string':
      // A regex Loki keeps as a regex prints in backticks (or quoted when it holds one).
      if (f.matcher.op === '=~' && !SIMPLIFIABLE.testExact(f.matcher.value)) {
        const v = f.matcher.value;
        return `${f.matcher.name}=~${v.includes('`') ? goQuote(v) : '`' + v + '`'}`;
      }
      return printMatcher(f.matcher);
    case 'ip':
      return `${f.name}${f.op}ip(${goQuote(f.pattern)})`;
    case 'number':
      return `${f.name}${f.op}${goFloatFixed(f.value)}`;
    case 'duration':
      return `${f.name}${f.op}${goDuration(f.ns)}`;
    case 'bytes':
      return `${f.name}${f.op}${humanizeBytes(f.bytes).replaceAll(' ', '')}`;
    case 'and':
      return `( ${printLabelFilter(f.left)} , ${printLabelFilter(f.right)} )`;
    case 'or':
      return `( ${printLabelFilter(f.left)} or ${printLabelFilter(f.right)} )`;
  }
}

function printStage(s: Stage): string {
  switch (s.kind) {
    case 'lineFilter':
      return s.filters.map(printLineFilter).join(' ');
    case 'json':
      return s.extractions.length === 0
        ? '| json'
        : `| json ${s.extractions.map((x) => `${x.name}=${goQuote(x.expr)}`).join(',')}`;
    case 'logfmt': {
      if (s.extractions.length === 0)
        return `| logfmt${s.strict ? ' --strict' : ''}${s.keepEmpty ? ' --keep-empty' : ''}`;
      return `| logfmt ${s.strict ? '--strict ' : ''}${s.keepEmpty ? '--keep-empty ' : ''}${s.extractions.map((x) => `${x.name}=${goQuote(x.expr)}`).join(',')}`;
    }
    case 'regexp':
      return `| regexp ${goQuote(s.pattern)}`;
    case 'pattern':
      return `| pattern ${goQuote(s.pattern)}`;
    case 'unpack':
      return '| unpack';
    case 'labelFilter':
      return `| ${printLabelFilter(s.filter)}`;
    case 'lineFormat':
      return `| line_format ${goQuote(s.template)}`;
    case 'labelFormat':
      return `| label_format ${s.formats.map((f) => `${f.name}=${f.rename ? f.value : goQuote(f.value)}`).join(',')}`;
    case 'decolorize':
      return '| decolorize';
    case 'drop':
    case 'keep':
      return `| ${s.kind} ${s.items.map((i) => (i.matcher ? printMatcher(i.matcher) : i.name)).join(',')}`;
  }
}

function printRange(r: LogRange): string {
  let out = printLogSelector(r.selector);
  if (r.unwrap) {
    const u = r.unwrap;
    out += u.conv ? ` | unwrap ${u.conv}(${u.label})` : ` | unwrap ${u.label}`;
    for (const f of u.postFilters) out += ` | ${printLabelFilter(f)}`;
  }
  out += `[${promDuration(r.rangeNs)}]`;
  if (r.offsetNs !== 0) out += ` offset ${goDuration(r.offsetNs)}`;
  return out;
}

function printGrouping(g: Grouping): string {
  return ` ${g.without ? 'without' : 'by'} (${g.labels.join(',')})`;
}

function printSample(e: SampleExpr): string {
  switch (e.kind) {
    case 'range':
      return `${e.op}(${e.param !== undefined ? goFloatFixed(e.param) + ',' : ''}${printRange(e.range)})${e.grouping ? printGrouping(e.grouping) : ''}`;
    case 'vector_agg': {
      const params =
        e.op === 'topk' || e.op === 'bottomk' || e.op === 'approx_topk'
          ? `${e.param},${printSample(e.expr)}`
          : printSample(e.expr);
      // Loki omits `by ()` (its "singleton" grouping) but keeps `without ()`.
      const grouping = !e.grouping.without && e.grouping.labels.length === 0 ? '' : printGrouping(e.grouping);
      return `${e.op}${grouping}(${params})`;
    }
    case 'binary': {
      let op: string = e.op;
      if (e.returnBool) op += ' bool';
      const m = e.matching;
      let group = m.card === 'many-to-one' ? 'group_left' : m.card === 'one-to-many' ? 'group_right' : '';
      if (m.include !== undefined) group = `${group} (${m.include.join(',')})`;
      if (m.on || m.labels !== undefined)
        op = `${op} ${m.on ? 'on' : 'ignoring'} (${(m.labels ?? []).join(',')}) ${group}`;
      return `(${printSample(e.left)} ${op} ${printSample(e.right)})`;
    }
    case 'literal':
      return goFloat(e.value);
    case 'vector':
      return `vector(${e.value.toFixed(6)})`;
    case 'label_replace':
      return `label_replace(${printSample(e.expr)},${goQuote(e.dst)},${goQuote(e.replacement)},${goQuote(e.src)},${goQuote(e.regex)})`;
  }
}
