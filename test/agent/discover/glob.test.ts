import t from 'tap';
import { compileGlob, parseLogPattern } from '../../../agent/discover/glob.ts';
import { ADVERSARIAL_BOUND_MS, BIG, bestMs } from '../../helpers/timing.ts';

/** The regex compilation the matcher replaced: the oracle for its semantics. */
function oldGlobToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

/** Deterministic PRNG (mulberry32) so a failing case can be reproduced. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('log path globs: table', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['*.log', 'app_ns_c-1.log', true],
    ['*.log', 'app.log.1', false],
    ['*.log', '.log', true],
    ['*.log', 'a/b.log', false],
    ['app-?.log', 'app-1.log', true],
    ['app-?.log', 'app-12.log', false],
    ['app-?.log', 'app-/.log', false],
    ['[abc]*', 'beta', true],
    ['[abc]*', 'delta', false],
    ['[!abc]*', 'delta', true],
    ['[^abc]*', 'alpha', false],
    ['[a-c]x', 'bx', true],
    ['[a-c]x', 'dx', false],
    ['[a-]x', '-x', true],
    ['[-a]x', '-x', true],
    ['[a-b-d]', 'c', false],
    ['[a-b-d]', 'd', true],
    ['[a-b-d]', '-', true],
    ['[]', '', false],
    ['[]x', 'x', false],
    ['[!]', '/', true],
    ['[\\]', '\\', true],
    ['[*]', '*', true],
    ['[*]', 'a', false],
    ['[unclosed*', '[unclosed-file', true],
    ['a.b+c(d)|e$^{1}', 'a.b+c(d)|e$^{1}', true],
    ['a.b', 'axb', false],
    ['**', 'anything', true],
    ['a*a*a*a*b', 'aaaab', true],
    ['a*a*a*a*b', 'aaab', false],
  ];
  for (const [glob, name, want] of cases) {
    t.equal(compileGlob(glob)(name), want, `${glob} ~ ${JSON.stringify(name)}`);
    t.equal(oldGlobToRegExp(glob).test(name), want, `(oracle) ${glob} ~ ${JSON.stringify(name)}`);
  }
  t.equal(parseLogPattern('/var/log/containers/*.log', false).match('x.log'), true);
  t.equal(parseLogPattern('/var/log/containers/*.log', false).dir, '/var/log/containers');
  t.throws(() => parseLogPattern('/var/*/x.log', false), /only supported in the last path segment/);
});

t.test('log path globs: a range out of order is rejected, as the regex constructor did', async (t) => {
  t.throws(() => compileGlob('[z-a]'), SyntaxError);
  t.throws(() => oldGlobToRegExp('[z-a]'), SyntaxError);
});

t.test('log path globs: the same answers as the regexes they replaced, on random globs and names', async (t) => {
  const rand = rng(7);
  const globAlphabet = ['a', 'b', '/', '*', '*', '?', '[', ']', '!', '^', '-', '\\', '.', 'z'];
  const nameAlphabet = ['a', 'b', '/', '-', '\\', '.', '^', '!', '[', ']', 'z', '*'];
  const pick = (xs: string[], n: number) =>
    Array.from({ length: n }, () => xs[Math.floor(rand() * xs.length)]).join('');
  let compared = 0;
  let matched = 0;
  for (let g = 0; g < 3000; g++) {
    // Every fourth glob is long enough (31+ tokens) for the matcher's non-bit-parallel paths.
    const long = g % 4 === 0;
    const glob = long
      ? pick(['a', '*', '*', '*', '?', 'b', '/', '\n', '[!a]'], 31 + Math.floor(rand() * 6))
      : pick(globAlphabet, 1 + Math.floor(rand() * 8));
    let oracle: RegExp;
    try {
      oracle = oldGlobToRegExp(glob);
    } catch {
      t.throws(() => compileGlob(glob), SyntaxError, `invalid ${glob}`);
      continue;
    }
    const m = compileGlob(glob);
    for (let k = 0; k < 20; k++) {
      // Long globs: names built from the glob (so some match), then perhaps one character changed.
      let name = long
        ? glob.replace(/\[!a\]|\*|\?/g, (w) =>
            w === '*' ? pick(nameAlphabet, Math.floor(rand() * 3)) : pick(nameAlphabet, 1),
          )
        : pick(nameAlphabet, Math.floor(rand() * 8));
      if (long && rand() < 0.3) {
        const at = Math.floor(rand() * name.length);
        name = name.slice(0, at) + pick(nameAlphabet, 1) + name.slice(at + 1);
      }
      if (m(name) !== oracle.test(name)) t.fail(`${JSON.stringify(glob)} ~ ${JSON.stringify(name)}`);
      compared++;
      if (m(name)) matched++;
    }
  }
  t.ok(compared > 30000, `${compared} comparisons agree`);
  t.ok(matched > 500, `${matched} of them match`);
});

t.test('log path globs: adversarial globs and names finish in linear time', async (t) => {
  const a = 'a'.repeat(BIG);
  const cases: Array<[string, string]> = [
    ['a*a*a*a*b', a],
    ['*a*a*a*a*a*a*a*a*', a + 'b'],
    ['?*?*?*?*b', a],
    ['[a]*[a]*[a]*[a]*b', a],
    ['*' + 'a*'.repeat(50) + 'b', a],
  ];
  for (const [glob, name] of cases) {
    const m = compileGlob(glob);
    const { ms } = bestMs(() => m(name));
    t.ok(ms < ADVERSARIAL_BOUND_MS, `${glob.slice(0, 30)} on ${name.length} chars: fastest ${ms.toFixed(1)} ms`);
  }
});
