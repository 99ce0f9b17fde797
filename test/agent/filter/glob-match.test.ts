import t from 'tap';
import { compileGlobs } from '../../../agent/filter/glob-match.ts';
import { ADVERSARIAL_BOUND_MS, BIG, bestMs } from '../../helpers/timing.ts';

/** The regex compilation the matcher replaced: the oracle for its semantics. */
function oldCompile(g: string): RegExp {
  return new RegExp(
    '^' +
      g
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
  );
}

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

t.test('name globs: table', async (t) => {
  t.equal(compileGlobs([]), null, 'no globs: no matcher');
  const cases: Array<[string[], string, boolean]> = [
    [['kube-*'], 'kube-system', true],
    [['kube-*'], 'kube', false],
    [['kube-*'], 'xkube-system', false],
    [['db-?'], 'db-1', true],
    [['db-?'], 'db-12', false],
    [['*'], '', true],
    [['?'], '', false],
    [['a.b'], 'axb', false],
    [['a.*'], 'a.b', true],
    [['a.*'], 'axb', false],
    [['[ab]*'], 'a-x', false],
    [['[ab]*'], '[ab]-x', true],
    [['(x)|y+*'], '(x)|y+z', true],
    [['*'], 'a\nb', false],
    [['a?b'], 'a\rb', false],
    [['a\nb*'], 'a\nbc', true],
    [['shop', 'web-*'], 'shop', true],
    [['shop', 'web-*'], 'web-1', true],
    [['shop', 'web-*'], 'db', false],
    [['*a*a*a*b'], 'xaayab', true],
  ];
  for (const [globs, name, want] of cases) {
    t.equal(compileGlobs(globs)!(name), want, `${JSON.stringify(globs)} ~ ${JSON.stringify(name)}`);
    t.equal(
      globs.some((g) => oldCompile(g).test(name)),
      want,
      `(oracle) ${JSON.stringify(globs)} ~ ${JSON.stringify(name)}`,
    );
  }
});

t.test('name globs: the same answers as the regexes they replaced, on random globs and names', async (t) => {
  const rand = rng(11);
  const globAlphabet = ['a', 'b', '*', '*', '?', '.', '[', ']', '\\', '\n', '-'];
  const nameAlphabet = ['a', 'b', '.', '[', ']', '\\', '\n', '\r', '\u2028', '-', '*', '?'];
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
    const m = compileGlobs([glob])!;
    const oracle = oldCompile(glob);
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
  t.ok(compared >= 60000, `${compared} comparisons agree`);
  t.ok(matched > 500, `${matched} of them match`);
});

t.test('name globs: adversarial globs and names finish in linear time', async (t) => {
  const a = 'a'.repeat(BIG);
  const cases: Array<[string, string]> = [
    ['a*a*a*a*b', a],
    ['*a*a*a*a*a*a*a*a*', a + 'b'],
    ['?*?*?*?*b', a],
    ['*' + 'a*'.repeat(50) + 'b', a],
    ['*aaaaaaaaaaaaaaaab', a],
    ['a*a*a*a*\n*b', a.slice(BIG / 2) + '\n' + a.slice(BIG / 2)],
  ];
  for (const [glob, name] of cases) {
    const m = compileGlobs([glob])!;
    const { ms } = bestMs(() => m(name));
    t.ok(
      ms < ADVERSARIAL_BOUND_MS,
      `${JSON.stringify(glob.slice(0, 30))} on ${name.length} chars: fastest ${ms.toFixed(1)} ms`,
    );
  }
});
