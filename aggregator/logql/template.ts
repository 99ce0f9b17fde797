/**
 * Go `text/template`, as `line_format` and `label_format` run it in Loki: parsed once per
 * query, executed per line over the entry's labels (a `map[string]string` with
 * `missingkey=zero`: a missing label is ""), with Loki's function map (its own functions,
 * the documented Sprig subset, `__line__` and `__timestamp__`).
 *
 * Supported: text, `{{ }}` actions with `{{-`/`-}}` trimming, comments, pipelines with `|`,
 * fields (`.a`), `.`, `$`, variables (`$x := …`, `$x = …`), literals (strings, raw strings,
 * chars, ints, floats, bools, nil), parenthesised pipelines, `if`/`else if`/`else`, `with`,
 * `range` (over maps in key order, lists, ints), `break`/`continue`, the builtins (`and`,
 * `or`, `not`, `len`, `index`, `slice`, `print`, `printf`, `println`, `eq`…`ge`, `html`,
 * `js`, `urlquery`). Not supported (refused at parse): `define`, `template`, `block`.
 * Values: Go strings are strings, ints are bigints, floats are numbers, `time.Time` is GoTime.
 * Parse and execution errors read like Go's (`template: line:1: function "x" not defined`).
 * Known differences from Go: execution errors always report column 2; `toDate`/`toDateInZone`
 * parse with Date.parse (the layout and zone arguments are not used); times print in UTC;
 * `printf "%.Nf"` rounds a tie (2.25 → 2.3) up where Go rounds it to even.
 */
import { goFloat, parseBytes, parseGoDuration } from './go-format.ts';
import { compileRegex, replaceAll } from './regex.ts';

export class GoTime {
  readonly ns: bigint;
  constructor(ns: bigint) {
    this.ns = ns;
  }
  toString(): string {
    return formatGoTime(this.ns, '2006-01-02 15:04:05.999999999 -0700 MST');
  }
}

type Value =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | GoTime
  | Value[]
  | { [k: string]: Value }
  | Map<string, Value>;

// ---- parse tree -------------------------------------------------------------------

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipe; col: number; src: string }
  | { t: 'if' | 'with'; pipe: Pipe; list: Node[]; elseList?: Node[] }
  | { t: 'range'; pipe: Pipe; list: Node[]; elseList?: Node[] }
  | { t: 'break' | 'continue' };

interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Arg[][];
}

type Arg =
  | { t: 'field'; chain: string[]; base: 'dot' | { var: string } | { pipe: Pipe } }
  | { t: 'dot' }
  | { t: 'var'; name: string }
  | { t: 'lit'; v: Value }
  | { t: 'ident'; name: string }
  | { t: 'pipe'; pipe: Pipe };

export interface Template {
  nodes: Node[];
  name: string;
  /** `{{.x}}` alone: Loki copies the label without running the template. */
  simpleKey?: string;
}

class TemplateError extends Error {}

export interface TemplateContext {
  line: string;
  tsNs: bigint;
}

const BUILTINS = new Set([
  'and',
  'or',
  'not',
  'len',
  'index',
  'slice',
  'print',
  'printf',
  'println',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'html',
  'js',
  'urlquery',
  'call',
]);

export function parseTemplate(src: string, name = 'line'): Template {
  const p = new TemplateParser(src, name);
  const nodes = p.parseList(new Set());
  const t: Template = { nodes, name };
  if (nodes.length === 1 && nodes[0]!.t === 'action') {
    const { pipe } = nodes[0]!;
    const arg = pipe.cmds[0]?.[0];
    if (
      pipe.decl.length === 0 &&
      pipe.cmds.length === 1 &&
      pipe.cmds[0]!.length === 1 &&
      arg?.t === 'field' &&
      arg.base === 'dot' &&
      arg.chain.length === 1
    ) {
      t.simpleKey = arg.chain[0];
    }
  }
  return t;
}

class TemplateParser {
  readonly src: string;
  readonly name: string;
  pos = 0;
  /** Tokens of the current action. */
  toks: { k: string; v: string }[] = [];
  ti = 0;
  constructor(src: string, name: string) {
    this.src = src;
    this.name = name;
  }

  err(msg: string): never {
    const line = this.src.slice(0, this.pos).split('\n').length;
    throw new TemplateError(`template: ${this.name}:${line}: ${msg}`);
  }

  /** Parses nodes until one of `stops` (`end`, `else`) or the end; leaves the stop keyword in this.stopped. */
  stopped = '';
  parseList(stops: Set<string>): Node[] {
    const nodes: Node[] = [];
    for (;;) {
      const open = this.src.indexOf('{{', this.pos);
      let text = open < 0 ? this.src.slice(this.pos) : this.src.slice(this.pos, open);
      if (open < 0) {
        if (stops.size > 0) this.err(`unexpected EOF`);
        if (text) nodes.push({ t: 'text', text });
        this.pos = this.src.length;
        return nodes;
      }
      let start = open + 2;
      if (this.src[start] === '-' && /\s/.test(this.src[start + 1] ?? '')) {
        text = text.replace(/\s+$/, '');
        start += 1;
      }
      if (text) nodes.push({ t: 'text', text });
      // Comment?
      const afterSpace = start + (this.src.slice(start).match(/^\s*/)?.[0].length ?? 0);
      if (this.src.startsWith('/*', afterSpace)) {
        const endC = this.src.indexOf('*/', afterSpace);
        if (endC < 0) this.err('unclosed comment');
        // Go requires the comment to end right at the delimiter: `*/}}` or `*/ -}}`.
        const m = /^( -)?\}\}/.exec(this.src.slice(endC + 2));
        if (!m) this.err('comment ends before closing delimiter');
        this.pos = endC + 2 + m[0].length;
        if (m[1]) this.pos += this.src.slice(this.pos).match(/^\s*/)![0].length;
        continue;
      }
      this.pos = start;
      this.lexAction();
      const first = this.toks[0];
      const kw = first?.k === 'ident' ? first.v : '';
      const col = start;
      if (kw === 'end' || kw === 'else') {
        if (!stops.has(kw)) this.err(`unexpected {{${kw}}}`);
        this.stopped = kw;
        return nodes;
      }
      if (kw === 'if' || kw === 'with' || kw === 'range') {
        this.ti = 1;
        const pipe = this.parsePipe(kw === 'range');
        const list = this.parseList(new Set(['end', 'else']));
        let elseList: Node[] | undefined;
        if (this.stopped === 'else') {
          // `{{else if …}}` chains: the rest of this action is a nested if.
          if (
            this.toks.length > 1 &&
            this.toks[1]!.k === 'ident' &&
            (this.toks[1]!.v === 'if' || this.toks[1]!.v === 'with')
          ) {
            const nestedKw = this.toks[1]!.v as 'if' | 'with';
            this.ti = 2;
            const nestedPipe = this.parsePipe(false);
            const nestedList = this.parseList(new Set(['end', 'else']));
            let nestedElse: Node[] | undefined;
            if (this.stopped === 'else') nestedElse = this.parseElseChain();
            elseList = [
              { t: nestedKw, pipe: nestedPipe, list: nestedList, ...(nestedElse ? { elseList: nestedElse } : {}) },
            ];
          } else {
            elseList = this.parseList(new Set(['end']));
          }
        }
        nodes.push({ t: kw, pipe, list, ...(elseList ? { elseList } : {}) } as Node);
        continue;
      }
      if (kw === 'break' || kw === 'continue') {
        nodes.push({ t: kw });
        continue;
      }
      if (kw === 'define' || kw === 'template' || kw === 'block') this.err(`${kw} is not supported`);
      this.ti = 0;
      const pipe = this.parsePipe(false);
      nodes.push({ t: 'action', pipe, col, src: this.src.slice(start, this.pos - 2).trim() });
    }
  }

  /** After a nested `else if`'s list stopped at `else`: either another `else if` or a final list. */
  parseElseChain(): Node[] {
    if (
      this.toks.length > 1 &&
      this.toks[1]!.k === 'ident' &&
      (this.toks[1]!.v === 'if' || this.toks[1]!.v === 'with')
    ) {
      const kw = this.toks[1]!.v as 'if' | 'with';
      this.ti = 2;
      const pipe = this.parsePipe(false);
      const list = this.parseList(new Set(['end', 'else']));
      const elseList = this.stopped === 'else' ? this.parseElseChain() : undefined;
      return [{ t: kw, pipe, list, ...(elseList ? { elseList } : {}) }];
    }
    return this.parseList(new Set(['end']));
  }

  /** Tokenises from this.pos to the closing `}}` (honouring `-}}`), leaving pos after it. */
  lexAction(): void {
    const toks: { k: string; v: string }[] = [];
    const s = this.src;
    let i = this.pos;
    for (;;) {
      while (i < s.length && /\s/.test(s[i]!)) i++;
      if (i >= s.length) this.err('unclosed action');
      if (s[i] === '-' && s.startsWith('}}', i + 1) && /\s/.test(s[i - 1] ?? '')) {
        i += 3;
        while (i < s.length && /\s/.test(s[i]!)) i++;
        break;
      }
      if (s.startsWith('}}', i)) {
        i += 2;
        break;
      }
      const c = s[i]!;
      if (c === '"') {
        let j = i + 1;
        while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
        if (j >= s.length) this.err('unterminated quoted string');
        toks.push({ k: 'str', v: JSON.parse(s.slice(i, j + 1).replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1')) as string });
        i = j + 1;
      } else if (c === '`') {
        const j = s.indexOf('`', i + 1);
        if (j < 0) this.err('unterminated raw quoted string');
        toks.push({ k: 'str', v: s.slice(i + 1, j) });
        i = j + 1;
      } else if (c === "'") {
        const m = /^'(\\.|[^'\\])'/u.exec(s.slice(i));
        if (!m) this.err('unterminated character constant');
        const ch = m[1]!.startsWith('\\') ? (JSON.parse(`"${m[1]}"`) as string) : m[1]!;
        toks.push({ k: 'num', v: String(ch.codePointAt(0)) });
        i += m[0].length;
      } else if (/[0-9]/.test(c) || ((c === '-' || c === '+') && /[0-9.]/.test(s[i + 1] ?? ''))) {
        const m = /^[+-]?(0x[0-9a-fA-F_]+|[0-9_]*\.?[0-9_]*([eE][+-]?[0-9]+)?)/.exec(s.slice(i))!;
        toks.push({ k: 'num', v: m[0] });
        i += m[0].length;
      } else if (c === '.' && /[A-Za-z_]/.test(s[i + 1] ?? '')) {
        const m = /^(\.[A-Za-z_][A-Za-z0-9_]*)+/.exec(s.slice(i))!;
        toks.push({ k: 'field', v: m[0] });
        i += m[0].length;
      } else if (c === '.') {
        toks.push({ k: 'dot', v: '.' });
        i++;
      } else if (c === '$') {
        const m = /^\$[A-Za-z0-9_]*/.exec(s.slice(i))!;
        toks.push({ k: 'var', v: m[0] });
        i += m[0].length;
      } else if (/[A-Za-z_]/.test(c)) {
        const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i))!;
        toks.push({ k: 'ident', v: m[0] });
        i += m[0].length;
      } else if (s.startsWith(':=', i)) {
        toks.push({ k: ':=', v: ':=' });
        i += 2;
      } else if ('|()=,'.includes(c)) {
        toks.push({ k: c, v: c });
        i++;
      } else {
        this.pos = i;
        this.err(`unexpected ${JSON.stringify(c)} in command`);
      }
      // A field chain right after `)` or a variable: `(x).a`, `$v.a`.
      if (s[i] === '.' && /[A-Za-z_]/.test(s[i + 1] ?? '') && (toks.at(-1)!.k === ')' || toks.at(-1)!.k === 'var')) {
        const m = /^(\.[A-Za-z_][A-Za-z0-9_]*)+/.exec(s.slice(i))!;
        toks.push({ k: 'chain', v: m[0] });
        i += m[0].length;
      }
    }
    this.pos = i;
    this.toks = toks;
    this.ti = 0;
  }

  parsePipe(isRange: boolean): Pipe {
    const pipe: Pipe = { decl: [], assign: false, cmds: [] };
    const t = this.toks;
    // Declarations: `$x :=`, `$x =`, range's `$k, $v :=`.
    let j = this.ti;
    const vars: string[] = [];
    while (t[j]?.k === 'var') {
      vars.push(t[j]!.v);
      if (t[j + 1]?.k === ',' && isRange) {
        j += 2;
        continue;
      }
      break;
    }
    if (vars.length > 0 && (t[j + 1]?.k === ':=' || t[j + 1]?.k === '=')) {
      pipe.decl = vars;
      pipe.assign = t[j + 1]!.k === '=';
      this.ti = j + 2;
    }
    let cmd: Arg[] = [];
    const end = () => {
      if (cmd.length === 0) this.err('missing value for command');
      pipe.cmds.push(cmd);
      cmd = [];
    };
    while (this.ti < t.length) {
      const tok = t[this.ti]!;
      if (tok.k === ')') break;
      if (tok.k === '|') {
        this.ti++;
        end();
        continue;
      }
      cmd.push(this.parseOperand());
    }
    if (cmd.length > 0 || pipe.cmds.length > 0) end();
    else if (pipe.cmds.length === 0) this.err('missing value for command');
    return pipe;
  }

  parseOperand(): Arg {
    const tok = this.toks[this.ti++]!;
    let arg: Arg;
    switch (tok.k) {
      case 'str':
        arg = { t: 'lit', v: tok.v };
        break;
      case 'num':
        arg = { t: 'lit', v: parseNumber(tok.v) ?? this.err(`bad number syntax: "${tok.v}"`) };
        break;
      case 'field':
        arg = { t: 'field', chain: tok.v.slice(1).split('.'), base: 'dot' };
        break;
      case 'dot':
        arg = { t: 'dot' };
        break;
      case 'var':
        arg = { t: 'var', name: tok.v };
        break;
      case 'ident':
        if (tok.v === 'true' || tok.v === 'false') arg = { t: 'lit', v: tok.v === 'true' };
        else if (tok.v === 'nil') arg = { t: 'lit', v: null };
        else {
          if (!BUILTINS.has(tok.v) && !(tok.v in FUNCTIONS)) this.err(`function "${tok.v}" not defined`);
          arg = { t: 'ident', name: tok.v };
        }
        break;
      case '(': {
        const pipe = this.parsePipe(false);
        if (this.toks[this.ti]?.k !== ')') this.err('unclosed left paren');
        this.ti++;
        arg = { t: 'pipe', pipe };
        break;
      }
      default:
        this.err(`unexpected "${tok.v}" in operand`);
    }
    const next = this.toks[this.ti];
    if (next?.k === 'chain') {
      this.ti++;
      const chain = next.v.slice(1).split('.');
      if (arg.t === 'var') arg = { t: 'field', chain, base: { var: arg.name } };
      else if (arg.t === 'pipe') arg = { t: 'field', chain, base: { pipe: arg.pipe } };
    }
    return arg;
  }
}

function parseNumber(s: string): Value | undefined {
  const t = s.replaceAll('_', '');
  if (/^[+-]?(0x[0-9a-fA-F]+|\d+)$/.test(t)) return BigInt(t.replace('+', ''));
  const f = Number(t);
  return t === '' || Number.isNaN(f) ? undefined : f;
}

// ---- execution --------------------------------------------------------------------

class Break {}
class Continue {}

interface Scope {
  vars: Map<string, Value>[];
  ctx: TemplateContext;
  name: string;
}

/** Runs a template over labels; throws an Error with Go's message on failure. */
export function executeTemplate(tmpl: Template, labels: Record<string, string>, ctx: TemplateContext): string {
  if (tmpl.simpleKey !== undefined) return labels[tmpl.simpleKey] ?? '';
  const scope: Scope = { vars: [new Map([['$', labels as Value]])], ctx, name: tmpl.name };
  const out: string[] = [];
  runList(tmpl.nodes, labels as Value, scope, out);
  return out.join('');
}

function runList(nodes: Node[], dot: Value, scope: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.text);
        break;
      case 'action': {
        const v = evalPipe(n.pipe, dot, scope, n.src);
        if (n.pipe.decl.length === 0) out.push(printValue(v));
        break;
      }
      case 'if':
      case 'with': {
        const v = evalPipe(n.pipe, dot, scope, n.t);
        if (truth(v)) {
          scope.vars.push(new Map());
          runList(n.list, n.t === 'with' ? v : dot, scope, out);
          scope.vars.pop();
        } else if (n.elseList) runList(n.elseList, dot, scope, out);
        break;
      }
      case 'range': {
        const v = evalPipe({ ...n.pipe, decl: [] }, dot, scope, 'range');
        const items: [Value, Value][] = [];
        if (Array.isArray(v)) v.forEach((x, i) => items.push([BigInt(i), x]));
        else if (v instanceof Map) [...v.keys()].sort().forEach((k) => items.push([k, v.get(k)]));
        else if (typeof v === 'bigint') for (let i = 0n; i < v; i++) items.push([i, i]);
        else if (v !== null && typeof v === 'object' && !(v instanceof GoTime))
          Object.keys(v)
            .sort()
            .forEach((k) => items.push([k, (v as Record<string, Value>)[k]]));
        else if (v !== null && v !== undefined) throw new Error(`range can't iterate over ${printValue(v)}`);
        if (items.length === 0) {
          if (n.elseList) runList(n.elseList, dot, scope, out);
          break;
        }
        for (const [k, item] of items) {
          const frame = new Map<string, Value>();
          if (n.pipe.decl.length === 1) frame.set(n.pipe.decl[0]!, item);
          if (n.pipe.decl.length === 2) {
            frame.set(n.pipe.decl[0]!, k);
            frame.set(n.pipe.decl[1]!, item);
          }
          scope.vars.push(frame);
          try {
            runList(n.list, item, scope, out);
          } catch (e) {
            if (e instanceof Break) {
              scope.vars.pop();
              break;
            }
            if (!(e instanceof Continue)) throw e;
          }
          scope.vars.pop();
        }
        break;
      }
      case 'break':
        throw new Break();
      case 'continue':
        throw new Continue();
    }
  }
}

function lookupVar(scope: Scope, name: string): Value {
  for (let i = scope.vars.length - 1; i >= 0; i--) if (scope.vars[i]!.has(name)) return scope.vars[i]!.get(name);
  throw new Error(`undefined variable: ${name}`);
}

function evalPipe(pipe: Pipe, dot: Value, scope: Scope, at: string): Value {
  let v: Value = undefined;
  let first = true;
  for (const cmd of pipe.cmds) {
    v = evalCommand(cmd, dot, scope, first ? undefined : { v }, at);
    first = false;
  }
  if (pipe.decl.length > 0) {
    const name = pipe.decl[0]!;
    if (pipe.assign) {
      for (let i = scope.vars.length - 1; i >= 0; i--) {
        if (scope.vars[i]!.has(name)) {
          scope.vars[i]!.set(name, v);
          return v;
        }
      }
      throw new Error(`undefined variable: ${name}`);
    }
    scope.vars.at(-1)!.set(name, v);
  }
  return v;
}

function field(base: Value, name: string): Value {
  if (base instanceof Map) return base.has(name) ? base.get(name) : undefined;
  if (base !== null && typeof base === 'object' && !Array.isArray(base) && !(base instanceof GoTime)) {
    const v = (base as Record<string, Value>)[name];
    return v === undefined ? '' : v;
  }
  if (base === null || base === undefined) throw new Error(`nil pointer evaluating interface {}.${name}`);
  throw new Error(`can't evaluate field ${name} in type ${goType(base)}`);
}

function evalArg(a: Arg, dot: Value, scope: Scope, at: string): Value {
  switch (a.t) {
    case 'lit':
      return a.v;
    case 'dot':
      return dot;
    case 'var':
      return lookupVar(scope, a.name);
    case 'pipe':
      return evalPipe(a.pipe, dot, scope, at);
    case 'field': {
      let v: Value =
        a.base === 'dot' ? dot : 'var' in a.base ? lookupVar(scope, a.base.var) : evalPipe(a.base.pipe, dot, scope, at);
      for (const f of a.chain) v = field(v, f);
      return v;
    }
    case 'ident':
      return callFunction(a.name, [], scope);
  }
}

function evalCommand(cmd: Arg[], dot: Value, scope: Scope, piped: { v: Value } | undefined, at: string): Value {
  const head = cmd[0]!;
  try {
    if (head.t === 'ident') {
      const args: Value[] = [];
      if (head.name === 'and' || head.name === 'or') {
        // Short-circuit: arguments are evaluated only as needed.
        const rest = cmd.slice(1);
        let v: Value = undefined;
        for (let i = 0; i < rest.length; i++) {
          v = evalArg(rest[i]!, dot, scope, at);
          if (head.name === 'and' ? !truth(v) : truth(v)) return v;
        }
        if (piped) v = piped.v;
        return v;
      }
      for (const a of cmd.slice(1)) args.push(evalArg(a, dot, scope, at));
      if (piped) args.push(piped.v);
      return callFunction(head.name, args, scope);
    }
    if (cmd.length > 1 || piped) throw new Error(`can't give argument to non-function ${describe(head)}`);
    return evalArg(head, dot, scope, at);
  } catch (e) {
    if (e instanceof Break || e instanceof Continue) throw e;
    const msg = (e as Error).message;
    if (msg.startsWith('template: ')) throw e;
    throw new Error(`template: ${scope.name}:1:2: executing "${scope.name}" at <${describe(head)}>: ${msg}`, {
      cause: e,
    });
  }
}

function describe(a: Arg): string {
  switch (a.t) {
    case 'field':
      return (a.base === 'dot' ? '' : 'var' in a.base ? a.base.var : '(…)') + '.' + a.chain.join('.');
    case 'dot':
      return '.';
    case 'var':
      return a.name;
    case 'ident':
      return a.name;
    case 'lit':
      return printValue(a.v);
    case 'pipe':
      return '(…)';
  }
}

function goType(v: Value): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof GoTime) return 'time.Time';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]string';
}

export function truth(v: Value): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === 'string') return v !== '';
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (v instanceof GoTime) return true;
  return Object.keys(v).length > 0;
}

export function printValue(v: Value): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return goFloat(v);
  if (typeof v === 'boolean') return String(v);
  if (v instanceof GoTime) return v.toString();
  if (Array.isArray(v)) return `[${v.map(printValue).join(' ')}]`;
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
  return `map[${entries
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, x]) => `${k}:${printValue(x)}`)
    .join(' ')}]`;
}

// ---- functions --------------------------------------------------------------------

function str(v: Value): string {
  if (typeof v === 'string') return v;
  throw new Error(`wrong type for value; expected string; got ${goType(v)}`);
}

function int(v: Value): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new Error(`wrong type for value; expected int; got ${goType(v)}`);
}

/** spf13/cast `ToInt64` (what Sprig's arithmetic uses): lenient, 0 when it cannot convert. */
function toInt64(v: Value): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string') {
    const t = v.trim();
    if (/^[+-]?\d+$/.test(t)) return BigInt(t);
    if (/^[+-]?0x[0-9a-f]+$/i.test(t)) return t.startsWith('-') ? -BigInt(t.slice(1)) : BigInt(t.replace('+', ''));
    return 0n;
  }
  return 0n;
}

function toFloat64(v: Value): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const f = Number(v.trim());
    return v.trim() === '' || Number.isNaN(f) ? 0 : f;
  }
  return 0;
}

function trimSet(s: string, cutset: string, left: boolean, right: boolean): string {
  const set = new Set(Array.from(cutset));
  const cps = Array.from(s);
  let a = 0;
  let b = cps.length;
  if (left) while (a < b && set.has(cps[a]!)) a++;
  if (right) while (b > a && set.has(cps[b - 1]!)) b--;
  return cps.slice(a, b).join('');
}

function goReplace(s: string, oldS: string, newS: string, n: number): string {
  if (n < 0) return s.split(oldS).join(newS);
  let out = s;
  let from = 0;
  for (let i = 0; i < n; i++) {
    const j = out.indexOf(oldS, from);
    if (j < 0) break;
    out = out.slice(0, j) + newS + out.slice(j + oldS.length);
    from = j + newS.length + (oldS === '' ? 1 : 0);
  }
  return out;
}

function urlEncode(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replaceAll('%20', '+');
}

function b64dec(s: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return '';
  return Buffer.from(s, 'base64').toString('utf8');
}

const FUNCTIONS: Record<string, (args: Value[], scope: Scope) => Value> = {
  ToLower: ([s]) => str(s).toLowerCase(),
  ToUpper: ([s]) => str(s).toUpperCase(),
  Replace: ([s, o, n, c]) => goReplace(str(s), str(o), str(n), int(c)),
  Trim: ([s, c]) => trimSet(str(s), str(c), true, true),
  TrimLeft: ([s, c]) => trimSet(str(s), str(c), true, false),
  TrimRight: ([s, c]) => trimSet(str(s), str(c), false, true),
  TrimPrefix: ([s, p]) => (str(s).startsWith(str(p)) ? str(s).slice(str(p).length) : str(s)),
  TrimSuffix: ([s, p]) => (str(s).endsWith(str(p)) && str(p) !== '' ? str(s).slice(0, -str(p).length) : str(s)),
  TrimSpace: ([s]) => str(s).trim(),
  regexReplaceAll: ([re, s, r]) => replaceAll(compileRegex(str(re)), str(s), str(r)),
  regexReplaceAllLiteral: ([re, s, r]) => replaceAll(compileRegex(str(re)), str(s), str(r), true),
  count: ([re, s]) => {
    const m = compileRegex(str(re)).matcher(str(s));
    let n = 0n;
    while (m.find()) n++;
    return n;
  },
  urldecode: ([s]) => {
    try {
      return decodeURIComponent(str(s).replaceAll('+', ' '));
    } catch {
      throw new Error(`invalid URL escape ${JSON.stringify(str(s))}`);
    }
  },
  urlencode: ([s]) => urlEncode(str(s)),
  bytes: ([s]) => parseBytes(str(s)),
  duration: ([s]) => parseGoDuration(str(s)) / 1e9,
  duration_seconds: ([s]) => parseGoDuration(str(s)) / 1e9,
  unixEpochMillis: ([t]) => String((t as GoTime).ns / 1_000_000n),
  unixEpochNanos: ([t]) => String((t as GoTime).ns),
  unixToTime: ([e]) => {
    const s = str(e);
    if (!/^\d+$/.test(s)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
    const n = BigInt(s);
    if (s.length <= 10) return new GoTime(n * 1_000_000_000n);
    if (s.length <= 13) return new GoTime(n * 1_000_000n);
    if (s.length <= 16) return new GoTime(n * 1000n);
    return new GoTime(n);
  },
  toDateInZone: ([, , s]) => parseDateLoose(str(s)),
  toDate: ([, s]) => parseDateLoose(str(s)),
  date: ([f, t]) => formatGoTime(t instanceof GoTime ? t.ns : BigInt(Date.now()) * 1_000_000n, str(f)),
  now: () => new GoTime(BigInt(Date.now()) * 1_000_000n),
  unixEpoch: ([t]) => String((t as GoTime).ns / 1_000_000_000n),
  alignLeft: ([c, s]) => {
    const cps = Array.from(str(s));
    const n = int(c);
    if (n < 0 || n === cps.length) return str(s);
    return n > cps.length ? str(s) + ' '.repeat(n - cps.length) : cps.slice(0, n).join('');
  },
  alignRight: ([c, s]) => {
    const cps = Array.from(str(s));
    const n = int(c);
    if (n < 0 || n === cps.length) return str(s);
    return n > cps.length ? ' '.repeat(n - cps.length) + str(s) : cps.slice(cps.length - n).join('');
  },
  b64dec: ([s]) => b64dec(str(s)),
  b64enc: ([s]) => Buffer.from(str(s), 'utf8').toString('base64'),
  lower: ([s]) => str(s).toLowerCase(),
  upper: ([s]) => str(s).toUpperCase(),
  title: ([s]) => str(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  trunc: ([c, s]) => {
    const cps = Array.from(str(s));
    const n = int(c);
    if (n < 0 && cps.length + n > 0) return cps.slice(cps.length + n).join('');
    if (n >= 0 && cps.length > n) return cps.slice(0, n).join('');
    return str(s);
  },
  substr: ([a, b, s]) => {
    const cps = Array.from(str(s));
    let start = int(a);
    let end = int(b);
    if (end > cps.length) end = cps.length;
    if (start > cps.length) start = cps.length;
    if (start < 0) return end < 0 ? '' : cps.slice(0, end).join('');
    if (end < 0) return cps.slice(start).join('');
    if (start > end) return '';
    return cps.slice(start, end).join('');
  },
  contains: ([sub, s]) => str(s).includes(str(sub)),
  hasPrefix: ([p, s]) => str(s).startsWith(str(p)),
  hasSuffix: ([p, s]) => str(s).endsWith(str(p)),
  indent: ([n, s]) => {
    const pad = ' '.repeat(int(n));
    return pad + str(s).replaceAll('\n', '\n' + pad);
  },
  nindent: ([n, s]) => {
    const pad = ' '.repeat(int(n));
    return '\n' + pad + str(s).replaceAll('\n', '\n' + pad);
  },
  replace: ([o, n, s]) => str(s).split(str(o)).join(str(n)),
  repeat: ([n, s]) => str(s).repeat(Math.max(0, int(n))),
  trim: ([s]) => str(s).trim(),
  trimAll: ([c, s]) => trimSet(str(s), str(c), true, true),
  trimSuffix: ([p, s]) => (str(s).endsWith(str(p)) && str(p) !== '' ? str(s).slice(0, -str(p).length) : str(s)),
  trimPrefix: ([p, s]) => (str(s).startsWith(str(p)) ? str(s).slice(str(p).length) : str(s)),
  int: ([v]) => toInt64(v),
  float64: ([v]) => toFloat64(v),
  add: (args) => args.reduce<bigint>((a, v) => a + toInt64(v), 0n),
  sub: ([a, b]) => toInt64(a) - toInt64(b),
  mul: (args) => args.reduce<bigint>((a, v) => a * toInt64(v), 1n),
  div: ([a, b]) => {
    const d = toInt64(b);
    if (d === 0n) throw new Error('runtime error: integer divide by zero');
    return toInt64(a) / d;
  },
  mod: ([a, b]) => {
    const d = toInt64(b);
    if (d === 0n) throw new Error('runtime error: integer divide by zero');
    return toInt64(a) % d;
  },
  addf: (args) => args.reduce<number>((a, v) => a + toFloat64(v), 0),
  subf: ([a, ...rest]) => rest.reduce<number>((x, v) => x - toFloat64(v), toFloat64(a)),
  mulf: ([a, ...rest]) => rest.reduce<number>((x, v) => x * toFloat64(v), toFloat64(a)),
  divf: ([a, ...rest]) => rest.reduce<number>((x, v) => x / toFloat64(v), toFloat64(a)),
  max: ([a, ...rest]) => rest.reduce<bigint>((x, v) => (toInt64(v) > x ? toInt64(v) : x), toInt64(a)),
  min: ([a, ...rest]) => rest.reduce<bigint>((x, v) => (toInt64(v) < x ? toInt64(v) : x), toInt64(a)),
  maxf: ([a, ...rest]) => rest.reduce<number>((x, v) => Math.max(x, toFloat64(v)), toFloat64(a)),
  minf: ([a, ...rest]) => rest.reduce<number>((x, v) => Math.min(x, toFloat64(v)), toFloat64(a)),
  ceil: ([v]) => Math.ceil(toFloat64(v)),
  floor: ([v]) => Math.floor(toFloat64(v)),
  round: ([v, p, r]) => {
    const prec = Number(toInt64(p));
    const roundOn = r === undefined ? 0.5 : toFloat64(r);
    const pow = 10 ** prec;
    const digit = toFloat64(v) * pow;
    const frac = digit - Math.trunc(digit);
    return (frac >= roundOn ? Math.ceil(digit) : Math.floor(digit)) / pow;
  },
  fromJson: ([s]) => {
    try {
      return jsonToValue(JSON.parse(str(s)));
    } catch {
      return {};
    }
  },
  default: ([d, ...given]) => (given.length > 0 && truth(given[0]) ? given[0] : d),
  __line__: (_a, scope) => scope.ctx.line,
  __timestamp__: (_a, scope) => new GoTime(scope.ctx.tsNs),
};

function jsonToValue(j: unknown): Value {
  if (j === null) return null;
  if (Array.isArray(j)) return j.map(jsonToValue);
  if (typeof j === 'object') return new Map(Object.entries(j as object).map(([k, v]) => [k, jsonToValue(v)]));
  return j as Value;
}

function parseDateLoose(s: string): GoTime {
  const ms = Date.parse(s);
  return new GoTime(Number.isNaN(ms) ? -62135596800000000000n : BigInt(ms) * 1_000_000n);
}

function eq(a: Value, b: Value): boolean {
  if (typeof a === 'bigint' && typeof b === 'number') return Number(a) === b;
  if (typeof a === 'number' && typeof b === 'bigint') return a === Number(b);
  if (a instanceof GoTime && b instanceof GoTime) return a.ns === b.ns;
  if (typeof a !== typeof b && !(a == null && b == null)) throw new Error('incompatible types for comparison');
  return a === b;
}

function lessThan(a: Value, b: Value): boolean {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    if (typeof a !== typeof b) throw new Error('incompatible types for comparison');
    return a < b;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b;
  throw new Error(`invalid type for comparison`);
}

function callFunction(name: string, args: Value[], scope: Scope): Value {
  switch (name) {
    case 'not':
      return !truth(args[0]);
    case 'len': {
      const v = args[0];
      if (typeof v === 'string') return BigInt(Buffer.byteLength(v));
      if (Array.isArray(v)) return BigInt(v.length);
      if (v instanceof Map) return BigInt(v.size);
      if (v && typeof v === 'object' && !(v instanceof GoTime)) return BigInt(Object.keys(v).length);
      throw new Error(`len of type ${goType(v)}`);
    }
    case 'index': {
      let v = args[0];
      for (const k of args.slice(1)) {
        if (Array.isArray(v)) v = v[int(k)];
        else if (v instanceof Map) v = v.get(str(k));
        else if (v && typeof v === 'object' && !(v instanceof GoTime)) v = (v as Record<string, Value>)[str(k)] ?? '';
        else throw new Error(`can't index item of type ${goType(v)}`);
      }
      return v;
    }
    case 'slice': {
      const s = str(args[0]);
      const a = args[1] === undefined ? 0 : int(args[1]);
      const b = args[2] === undefined ? s.length : int(args[2]);
      return s.slice(a, b);
    }
    case 'print':
      return args
        .map((v, i) => (i > 0 && typeof v !== 'string' && typeof args[i - 1] !== 'string' ? ' ' : '') + printValue(v))
        .join('');
    case 'println':
      return args.map(printValue).join(' ') + '\n';
    case 'printf':
      return goSprintf(str(args[0]), args.slice(1));
    case 'eq':
      return args.slice(1).some((b) => eq(args[0], b));
    case 'ne':
      return !eq(args[0], args[1]);
    case 'lt':
      return lessThan(args[0], args[1]);
    case 'le':
      return lessThan(args[0], args[1]) || eq(args[0], args[1]);
    case 'gt':
      return !lessThan(args[0], args[1]) && !eq(args[0], args[1]);
    case 'ge':
      return !lessThan(args[0], args[1]);
    case 'html':
      return args
        .map(printValue)
        .join('')
        .replace(
          /[&<>"'\0]/g,
          (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;', '\0': '\uFFFD' })[c]!,
        );
    case 'js':
      return args
        .map(printValue)
        .join('')
        .replace(
          /[\\'"<>&=\n\r\t]/g,
          (c) =>
            ({
              '\\': '\\\\',
              "'": "\\'",
              '"': '\\"',
              '<': '\\u003C',
              '>': '\\u003E',
              '&': '\\u0026',
              '=': '\\u003D',
              '\n': '\\n',
              '\r': '\\r',
              '\t': '\\t',
            })[c]!,
        );
    case 'urlquery':
      return urlEncode(args.map(printValue).join(''));
    case 'call':
      throw new Error('call is not supported');
  }
  const fn = FUNCTIONS[name];
  if (!fn) throw new Error(`function "${name}" not defined`);
  return fn(args, scope);
}

/** Go's `fmt.Sprintf` for the verbs templates use: %s %q %v %d %f %e %g %x %X %t %c %%, width, precision, `-`, `0`, `+`. */
export function goSprintf(format: string, args: Value[]): string {
  let out = '';
  let ai = 0;
  const re = /%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*))?([a-zA-Z%])/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    out += format.slice(last, m.index);
    last = re.lastIndex;
    const [, flags = '', w, p, verb] = m;
    if (verb === '%') {
      out += '%';
      continue;
    }
    const width = w === '*' ? int(args[ai++]) : w ? Number(w) : undefined;
    const prec = p === '*' ? int(args[ai++]) : p !== undefined ? Number(p) : undefined;
    if (ai >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const v = args[ai++];
    let s: string;
    switch (verb) {
      case 'd':
        s = typeof v === 'bigint' ? v.toString() : `%!d(${goType(v)}=${printValue(v)})`;
        if (flags.includes('+') && typeof v === 'bigint' && v >= 0n) s = '+' + s;
        break;
      case 'f':
      case 'F':
        s =
          typeof v === 'number'
            ? v.toFixed(prec ?? 6)
            : typeof v === 'bigint'
              ? `%!f(int=${v})`
              : `%!f(${goType(v)}=${printValue(v)})`;
        break;
      case 'e':
        s =
          typeof v === 'number'
            ? v.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2')
            : `%!e(${goType(v)}=${printValue(v)})`;
        break;
      case 'g':
        s =
          typeof v === 'number'
            ? prec !== undefined
              ? String(Number(v.toPrecision(prec)))
              : goFloat(v)
            : `%!g(${goType(v)}=${printValue(v)})`;
        break;
      case 's':
      case 'v':
        s = printValue(v);
        if (prec !== undefined && verb === 's') s = Array.from(s).slice(0, prec).join('');
        break;
      case 'q':
        s = typeof v === 'string' ? JSON.stringify(v) : `%!q(${goType(v)}=${printValue(v)})`;
        break;
      case 't':
        s = typeof v === 'boolean' ? String(v) : `%!t(${goType(v)}=${printValue(v)})`;
        break;
      case 'x':
      case 'X': {
        s =
          typeof v === 'bigint'
            ? v.toString(16)
            : typeof v === 'string'
              ? Buffer.from(v).toString('hex')
              : `%!${verb}(${goType(v)}=${printValue(v)})`;
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      case 'c':
        s = typeof v === 'bigint' ? String.fromCodePoint(Number(v)) : `%!c(${goType(v)}=${printValue(v)})`;
        break;
      default:
        s = `%!${verb}(${goType(v)}=${printValue(v)})`;
    }
    if (width !== undefined && s.length < width) {
      const pad = width - Array.from(s).length;
      if (flags.includes('-')) s = s + ' '.repeat(pad);
      else if (flags.includes('0') && verb !== 's' && verb !== 'v')
        s = s.startsWith('-') ? '-' + '0'.repeat(pad) + s.slice(1) : '0'.repeat(pad) + s;
      else s = ' '.repeat(pad) + s;
    }
    out += s;
  }
  out += format.slice(last);
  if (ai < args.length)
    out += `%!(EXTRA ${args
      .slice(ai)
      .map((v) => `${goType(v)}=${printValue(v)}`)
      .join(', ')})`;
  return out;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Go's `Time.Format` in UTC for the layout elements logs use. */
export function formatGoTime(ns: bigint, layout: string): string {
  const ms = Number(ns / 1_000_000n);
  const nanos = Number(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n);
  const d = new Date(ms);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const h12 = d.getUTCHours() % 12 === 0 ? 12 : d.getUTCHours() % 12;
  const tokens: [string, () => string][] = [
    ['January', () => MONTHS[d.getUTCMonth()]!],
    ['Jan', () => MONTHS[d.getUTCMonth()]!.slice(0, 3)],
    ['Monday', () => DAYS[d.getUTCDay()]!],
    ['Mon', () => DAYS[d.getUTCDay()]!.slice(0, 3)],
    ['2006', () => String(d.getUTCFullYear()).padStart(4, '0')],
    ['-07:00', () => '+00:00'],
    ['-0700', () => '+0000'],
    ['Z07:00', () => 'Z'],
    ['Z0700', () => 'Z'],
    ['MST', () => 'UTC'],
    ['01', () => p2(d.getUTCMonth() + 1)],
    ['02', () => p2(d.getUTCDate())],
    ['_2', () => String(d.getUTCDate()).padStart(2, ' ')],
    ['15', () => p2(d.getUTCHours())],
    ['03', () => p2(h12)],
    ['04', () => p2(d.getUTCMinutes())],
    ['05', () => p2(d.getUTCSeconds())],
    ['06', () => p2(d.getUTCFullYear() % 100)],
    ['PM', () => (d.getUTCHours() >= 12 ? 'PM' : 'AM')],
    ['pm', () => (d.getUTCHours() >= 12 ? 'pm' : 'am')],
    ['.000000000', () => '.' + String(nanos).padStart(9, '0')],
    ['.000000', () => '.' + String(nanos).padStart(9, '0').slice(0, 6)],
    ['.000', () => '.' + String(nanos).padStart(9, '0').slice(0, 3)],
    ['.999999999', () => (nanos ? '.' + String(nanos).padStart(9, '0').replace(/0+$/, '') : '')],
    ['.999999', () => (nanos ? ('.' + String(nanos).padStart(9, '0').slice(0, 6)).replace(/\.?0+$/, '') : '')],
    ['.999', () => (nanos ? ('.' + String(nanos).padStart(9, '0').slice(0, 3)).replace(/\.?0+$/, '') : '')],
    ['1', () => String(d.getUTCMonth() + 1)],
    ['2', () => String(d.getUTCDate())],
    ['3', () => String(h12)],
    ['4', () => String(d.getUTCMinutes())],
    ['5', () => String(d.getUTCSeconds())],
  ];
  let out = '';
  for (let i = 0; i < layout.length;) {
    const hit = tokens.find(([t]) => layout.startsWith(t, i));
    if (hit) {
      out += hit[1]();
      i += hit[0].length;
    } else out += layout[i++];
  }
  return out;
}

export { TemplateError };
