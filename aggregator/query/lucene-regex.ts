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

class Parser {
  readonly #cp: string[];
  #pos = 0;

  constructor(pattern: string) {
    this.#cp = Array.from(pattern);
  }

  parseAll(): void {
    if (this.#cp.length === 0) return;
    this.#union();
    if (this.#pos < this.#cp.length) this.#fail(`unexpected "${this.#cp[this.#pos]}"`);
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
    while (this.#match('|')) this.#inter();
  }

  #inter(): void {
    this.#concat();
    while (this.#match('&')) this.#concat();
  }

  #concat(): void {
    this.#repeat();
    while (this.#more() && !this.#peek(')|&')) this.#repeat();
  }

  #repeat(): void {
    this.#compl();
    while (this.#peek('?*+{')) {
      if (this.#next() !== '{') continue;
      const min = this.#integer();
      let max: number | undefined = min;
      if (this.#match(',')) max = this.#peek('0123456789') ? this.#integer() : undefined;
      if (!this.#match('}')) this.#fail('expected "}"');
      if (max !== undefined && min > max) this.#fail(`repetition {${min},${max}} has its minimum above its maximum`);
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
    if (this.#match('~')) this.#compl();
    else this.#charClass();
  }

  #charClass(): void {
    if (!this.#match('[')) return this.#simple();
    const open = this.#pos - 1;
    this.#match('^');
    do this.#classItem();
    while (this.#more() && !this.#peek(']'));
    if (!this.#match(']')) {
      this.#pos = open;
      this.#fail('unclosed "["');
    }
  }

  #classItem(): void {
    const from = this.#char(true);
    if (from === undefined) return; // \d and friends cannot start a range
    if (!this.#match('-')) return;
    const to = this.#char(true);
    if (to === undefined) this.#fail('a class escape cannot end a range');
    if (from.codePointAt(0)! > to.codePointAt(0)!) this.#fail(`invalid range ${from}-${to}`);
  }

  #simple(): void {
    const start = this.#pos;
    if (this.#match('.') || this.#match('#') || this.#match('@')) return;
    if (this.#match('"')) {
      while (this.#more() && !this.#peek('"')) this.#pos++;
      if (!this.#match('"')) {
        this.#pos = start;
        this.#fail('unclosed \'"\'');
      }
      return;
    }
    if (this.#match('(')) {
      if (this.#match(')')) return;
      this.#union();
      if (!this.#match(')')) {
        this.#pos = start;
        this.#fail('unclosed "("');
      }
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
      return;
    }
    this.#char(false);
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

/** Throws RegexError when the pattern is not valid Lucene RegExp syntax. */
export function checkLuceneRegex(pattern: string): void {
  new Parser(pattern).parseAll();
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
export function toLuceneRegex(pattern: string): string {
  const anchoredStart = pattern.startsWith('^');
  let body = anchoredStart ? pattern.slice(1) : pattern;
  const anchoredEnd = endsWithUnescaped(body, '$');
  if (anchoredEnd) body = body.slice(0, -1);
  try {
    checkLuceneRegex(body);
  } catch (err) {
    if (err instanceof RegexError && anchoredStart) {
      throw new RegexError(err.message.replace(/at position (\d+)$/, (_m, p: string) => `at position ${Number(p) + 1}`));
    }
    throw err;
  }
  return `${anchoredStart ? '' : '.*'}(${body})${anchoredEnd ? '' : '.*'}`;
}
