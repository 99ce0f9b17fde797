/**
 * Checks a user's regular expression against the Lucene RegExp grammar (the syntax the
 * `regexp` query on the `message` wildcard field runs, with all optional operators on)
 * and turns it into the pattern to send. Pure, table-tested.
 *
 * Why here and not in OpenSearch: a bad pattern should be a 400 that says what is wrong
 * and where, before the store sees it; the store's own rejection is only a backstop.
 *
 * Semantics offered to API users, like grep: the pattern matches anywhere in the message
 * unless anchored. `^` as the first character and `$` as the last anchor the whole pattern
 * (Lucene itself has no anchors: its patterns always match the whole value). Anywhere else
 * an unescaped `^` or `$` is refused, because Lucene would silently take it literally.
 *
 * Case-insensitive matching is done by rewriting (`foldCase`: `a` → `[aA]`), because the
 * store ignores `case_insensitive` on regexp queries against wildcard fields (seen on
 * OpenSearch 2.19: `.*(err=5 ).*` with case_insensitive does not match "ERR=5 ").
 *
 * Grammar (Lucene RegExp, flags ALL):
 *   union  := inter ('|' inter)*          inter := concat ('&' concat)*
 *   concat := repeat+                      repeat := compl ('?' | '*' | '+' | '{n}' | '{n,}' | '{n,m}')*
 *   compl  := '~' compl | class            class  := '[' '^'? item+ ']' | simple
 *   item   := char ('-' char)?             simple := '.' | '#' | '@' | '"' text '"' | '(' union? ')' | '<' n '-' m '>' | char
 *   char   := '\' any | any
 */

export class RegexError extends Error {
  override readonly name = 'RegexError';
}

/** Largest repetition bound accepted in `{n,m}`; bigger ones only blow up the automaton. */
export const MAX_REPEAT = 1000;

const CLASS_ESCAPES = new Set(['d', 'D', 's', 'S', 'w', 'W']);

/** Both cases of a character, when it has them as single code points; else undefined. */
function caseVariants(c: string): string[] | undefined {
  const set = new Set([c.toLowerCase(), c.toUpperCase(), c].filter((v) => Array.from(v).length === 1));
  return set.size > 1 ? [...set] : undefined;
}

/** A character written so Lucene reads it literally anywhere outside a class. */
function literal(c: string): string {
  return /^[\p{L}\p{N}]$/u.test(c) ? c : `\\${c}`;
}

class Parser {
  readonly #cp: string[];
  readonly #fold: boolean;
  #pos = 0;
  readonly #out: string[] = [];

  constructor(pattern: string, fold = false) {
    this.#cp = Array.from(pattern);
    this.#fold = fold;
  }

  /** Parses the whole pattern; returns it, case-folded when asked. */
  parseAll(): string {
    if (this.#cp.length === 0) return '';
    this.#union();
    if (this.#pos < this.#cp.length) this.#fail(`unexpected "${this.#cp[this.#pos]}"`);
    return this.#out.join('');
  }

  #emit(text: string): void {
    this.#out.push(text);
  }

  #since(start: number): string {
    return this.#cp.slice(start, this.#pos).join('');
  }

  #fail(message: string): never {
    throw new RegexError(`${message} at position ${this.#pos}`);
  }

  #more(): boolean {
    return this.#pos < this.#cp.length;
  }

  #peek(chars: string): boolean {
    return this.#more() && chars.includes(this.#cp[this.#pos]!);
  }

  #match(ch: string): boolean {
    if (this.#more() && this.#cp[this.#pos] === ch) {
      this.#pos++;
      return true;
    }
    return false;
  }

  #next(): string {
    if (!this.#more()) this.#fail('unexpected end of pattern');
    return this.#cp[this.#pos++]!;
  }

  #union(): void {
    this.#inter();
    while (this.#match('|')) {
      this.#emit('|');
      this.#inter();
    }
  }

  #inter(): void {
    this.#concat();
    while (this.#match('&')) {
      this.#emit('&');
      this.#concat();
    }
  }

  #concat(): void {
    this.#repeat();
    while (this.#more() && !this.#peek(')|&')) this.#repeat();
  }

  #repeat(): void {
    this.#compl();
    while (this.#peek('?*+{')) {
      const start = this.#pos;
      if (this.#next() !== '{') {
        this.#emit(this.#since(start));
        continue;
      }
      const min = this.#integer();
      let max: number | undefined = min;
      if (this.#match(',')) max = this.#peek('0123456789') ? this.#integer() : undefined;
      if (!this.#match('}')) this.#fail('expected "}"');
      if (max !== undefined && min > max) this.#fail(`repetition {${min},${max}} has its minimum above its maximum`);
      this.#emit(this.#since(start));
    }
  }

  #integer(): number {
    const start = this.#pos;
    while (this.#peek('0123456789')) this.#pos++;
    if (start === this.#pos) this.#fail('expected a number');
    const n = Number(this.#cp.slice(start, this.#pos).join(''));
    if (n > MAX_REPEAT) this.#fail(`repetition bound ${n} is above ${MAX_REPEAT}`);
    return n;
  }

  #compl(): void {
    if (this.#match('~')) {
      this.#emit('~');
      this.#compl();
    } else {
      this.#charClass();
    }
  }

  #charClass(): void {
    if (!this.#match('[')) return this.#simple();
    const open = this.#pos - 1;
    this.#emit(this.#match('^') ? '[^' : '[');
    do this.#classItem();
    while (this.#more() && !this.#peek(']'));
    if (!this.#match(']')) {
      this.#pos = open;
      this.#fail('unclosed "["');
    }
    this.#emit(']');
  }

  #classItem(): void {
    let start = this.#pos;
    const from = this.#char(true);
    this.#emit(this.#since(start));
    if (from === undefined) return; // \d and friends cannot start a range
    if (!this.#match('-')) {
      if (this.#fold) for (const v of caseVariants(from) ?? []) if (v !== from) this.#emit(v);
      return;
    }
    start = this.#pos;
    const to = this.#char(true);
    if (to === undefined) this.#fail('a class escape cannot end a range');
    if (from.codePointAt(0)! > to.codePointAt(0)!) this.#fail(`invalid range ${from}-${to}`);
    this.#emit(`-${this.#since(start)}`);
    if (this.#fold) this.#emit(foldRange(from.codePointAt(0)!, to.codePointAt(0)!));
  }

  #simple(): void {
    const start = this.#pos;
    if (this.#match('.') || this.#match('#') || this.#match('@')) {
      this.#emit(this.#since(start));
      return;
    }
    if (this.#match('"')) {
      while (this.#more() && !this.#peek('"')) this.#pos++;
      if (!this.#match('"')) {
        this.#pos = start;
        this.#fail('unclosed \'"\'');
      }
      const text = this.#cp.slice(start + 1, this.#pos - 1);
      this.#emit(this.#fold ? `(${text.map((c) => this.#foldChar(c) ?? literal(c)).join('')})` : this.#since(start));
      return;
    }
    if (this.#match('(')) {
      this.#emit('(');
      if (this.#match(')')) {
        this.#emit(')');
        return;
      }
      this.#union();
      if (!this.#match(')')) {
        this.#pos = start;
        this.#fail('unclosed "("');
      }
      this.#emit(')');
      return;
    }
    if (this.#match('<')) {
      const from = this.#pos;
      while (this.#more() && !this.#peek('>')) this.#pos++;
      const body = this.#cp.slice(from, this.#pos).join('');
      if (!this.#match('>')) {
        this.#pos = start;
        this.#fail('unclosed "<"');
      }
      if (!/^[0-9]+-[0-9]+$/.test(body)) {
        this.#pos = start;
        this.#fail(`"<${body}>" is not a numeric interval <n-m> (use \\< for a literal "<")`);
      }
      this.#emit(this.#since(start));
      return;
    }
    const c = this.#char(false);
    this.#emit((c !== undefined ? this.#foldChar(c) : undefined) ?? this.#since(start));
  }

  /** `[aA]` for a letter when folding; undefined when the character stays as written. */
  #foldChar(c: string): string | undefined {
    if (!this.#fold) return undefined;
    const variants = caseVariants(c);
    return variants ? `[${variants.join('')}]` : undefined;
  }

  /** One (possibly escaped) character; undefined for a class escape like \d. */
  #char(inClass: boolean): string | undefined {
    if (this.#match('\\')) {
      if (!this.#more()) this.#fail('pattern ends with an unfinished "\\" escape');
      const c = this.#next();
      return CLASS_ESCAPES.has(c) ? undefined : c;
    }
    const c = this.#next();
    if (!inClass && (c === '^' || c === '$')) {
      this.#pos--;
      this.#fail(`"${c}" anchors only at the ${c === '^' ? 'start' : 'end'} of the pattern; escape it (\\${c}) to match the character`);
    }
    return c;
  }
}

/** The other-case counterparts of the ASCII letters in a class range, as class items. */
function foldRange(from: number, to: number): string {
  const part = (lo: number, hi: number, shift: number) => {
    const a = Math.max(from, lo);
    const b = Math.min(to, hi);
    return a <= b ? `${String.fromCodePoint(a + shift)}-${String.fromCodePoint(b + shift)}` : '';
  };
  return part(97, 122, -32) + part(65, 90, 32);
}

/** Throws RegexError when the pattern is not valid Lucene RegExp syntax. */
export function checkLuceneRegex(pattern: string): void {
  new Parser(pattern).parseAll();
}

/**
 * A Lucene pattern that matches what `pattern` matches, ignoring case: letters become
 * `[aA]`, class items gain their other case. Throws RegexError for an invalid pattern.
 */
export function foldCase(pattern: string): string {
  return new Parser(pattern, true).parseAll();
}

function endsWithUnescaped(pattern: string, ch: string): boolean {
  if (!pattern.endsWith(ch)) return false;
  let backslashes = 0;
  for (let i = pattern.length - 2; i >= 0 && pattern[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}

/**
 * User pattern (grep-like, optional ^…$) → the Lucene pattern for a whole-message match.
 * Throws RegexError, with the position in the user's pattern, when it is invalid.
 */
export function toLuceneRegex(pattern: string, opts: { caseInsensitive?: boolean } = {}): string {
  const anchoredStart = pattern.startsWith('^');
  let body = anchoredStart ? pattern.slice(1) : pattern;
  const anchoredEnd = endsWithUnescaped(body, '$');
  if (anchoredEnd) body = body.slice(0, -1);
  try {
    body = new Parser(body, opts.caseInsensitive === true).parseAll();
  } catch (err) {
    if (err instanceof RegexError && anchoredStart) {
      throw new RegexError(err.message.replace(/at position (\d+)$/, (_m, p: string) => `at position ${Number(p) + 1}`));
    }
    throw err;
  }
  return `${anchoredStart ? '' : '.*'}(${body})${anchoredEnd ? '' : '.*'}`;
}
