import t from 'tap';
import { checkLuceneRegex, foldCase, toLuceneRegex, RegexError } from '../../../aggregator/query/lucene-regex.ts';

t.test('valid Lucene patterns pass', async (t) => {
  const ok = [
    'abc', 'a.c', 'a*', 'a+b?', 'a{2}', 'a{2,}', 'a{2,5}', '(ab)|(cd)', 'a|b|c', '[a-z0-9_]+', '[^x]', '[\\]]', '\\d+\\s\\w',
    '[\\d\\-]', 'err=5', '"exact.string"', '<1-100>', '~a', 'a&b', '#', '@', '()', 'a\\.b', '\\(', '*leading', '{literal', 'x)?'.slice(0, 1),
    '[$^]', 'ü+', '😀.', '\\$', '\\^',
  ];
  for (const p of ok) t.doesNotThrow(() => checkLuceneRegex(p), p);
});

t.test('invalid patterns are refused with a position', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['(abc', /unclosed "\(" at position 0/],
    ['abc)', /unexpected "\)" at position 3/],
    ['[abc', /unclosed "\[" at position 0/],
    ['a{', /expected a number at position 2/],
    ['a{2', /expected "}" at position 3/],
    ['a{3,1}', /minimum above its maximum/],
    ['a{5000}', /above 1000/],
    ['[z-a]', /invalid range z-a/],
    ['abc\\', /unfinished "\\" escape/],
    ['a|', /unexpected end of pattern/],
    ['"abc', /unclosed '"'/],
    ['<foo>', /not a numeric interval/],
    ['<1-2', /unclosed "<"/],
    ['a^b', /anchors only at the start/],
    ['a$b', /anchors only at the end/],
    ['~', /unexpected end of pattern/],
  ];
  for (const [p, msg] of bad) t.throws(() => checkLuceneRegex(p), msg, p);
  t.throws(() => checkLuceneRegex('(a'), RegexError);
});

t.test('toLuceneRegex matches anywhere unless anchored', async (t) => {
  const cases: Array<[string, string]> = [
    ['err=5', '.*(err=5).*'],
    ['^GET', '(GET).*'],
    ['done$', '.*(done)'],
    ['^exact$', '(exact)'],
    ['a|b', '.*(a|b).*'],
    ['cost \\$', '.*(cost \\$).*'],
    ['cost \\\\$', '.*(cost \\\\)'],
  ];
  for (const [input, want] of cases) t.equal(toLuceneRegex(input), want, input);
  t.equal(toLuceneRegex('^Err=5$', { caseInsensitive: true }), '([eE][rR][rR]=5)');
  t.throws(() => toLuceneRegex('^(a'), /at position 1/, 'positions refer to the user pattern');
});

t.test('foldCase makes letters match either case and leaves the rest alone', async (t) => {
  const cases: Array<[string, string]> = [
    ['err=5', '[eE][rR][rR]=5'],
    ['a.b*', '[aA].[bB]*'],
    ['[a-f0-9]+', '[a-fA-F0-9]+'],
    ['[X-Z_]', '[X-Zx-z_]'],
    ['[!-~]', '[!-~A-Za-z]'],
    ['[^q]', '[^qQ]'],
    ['\\d+\\.x', '\\d+\\.[xX]'],
    ['\\a', '[aA]'],
    ['"Ab.c"', '([aA][bB]\\.[cC])'],
    ['(GET|post){2,3}', '([gG][eE][tT]|[pP][oO][sS][tT]){2,3}'],
    ['<1-20>~x', '<1-20>~[xX]'],
    ['ÄÖ', '[äÄ][öÖ]'],
    ['5%', '5%'],
  ];
  for (const [input, want] of cases) t.equal(foldCase(input), want, input);
  t.throws(() => foldCase('(a'), RegexError);
});
