/**
 * LogQL selector completion (ui/src/lib/logql-completion.ts), table-driven. In each query
 * `‸` marks the cursor.
 */
import t from 'tap';
import {
  applyCompletion,
  completionAt,
  escapeValue,
  rankCompletions,
  type CompletionContext,
} from '../../ui/src/lib/logql-completion.ts';

function at(marked: string): { text: string; ctx: CompletionContext | undefined } {
  const cursor = marked.indexOf('‸');
  const text = marked.replace('‸', '');
  return { text, ctx: completionAt(text, cursor) };
}

t.test('the cursor in a label name, a value, or neither', async (t) => {
  const cases: Array<[string, Partial<CompletionContext> | undefined]> = [
    ['{‸', { kind: 'label-name', prefix: '', hasOperator: false, selector: undefined }],
    ['{}‸', undefined],
    ['{‸}', { kind: 'label-name', prefix: '' }],
    ['{name‸', { kind: 'label-name', prefix: 'name', from: 1, to: 5 }],
    ['{na‸me="x"}', { kind: 'label-name', prefix: 'na', from: 1, to: 5, hasOperator: true }],
    ['{namespace="shop", ‸', { kind: 'label-name', prefix: '', selector: '{namespace="shop"}' }],
    ['{namespace="shop",po‸}', { kind: 'label-name', prefix: 'po', selector: '{namespace="shop"}' }],
    ['{namespace="shop" ‸', undefined],
    ['{namespace="shop"‸}', undefined],
    ['{namespace="‸', { kind: 'label-value', label: 'namespace', op: '=', quote: '"', prefix: '', closed: false }],
    ['{namespace="sh‸', { kind: 'label-value', label: 'namespace', prefix: 'sh', from: 12, to: 14 }],
    ['{namespace="sh‸op"}', { kind: 'label-value', prefix: 'sh', from: 12, to: 16, closed: true }],
    ['{namespace=‸', { kind: 'label-value', label: 'namespace', op: '=', quote: undefined, prefix: '' }],
    ['{namespace != ‸', { kind: 'label-value', op: '!=', quote: undefined }],
    ['{app=~"‸', { kind: 'label-value', label: 'app', op: '=~', quote: '"', prefix: '' }],
    ['{app=~"web|ap‸"}', { kind: 'label-value', op: '=~', prefix: 'ap', from: 11, to: 13 }],
    ['{app=~"we‸|api"}', { kind: 'label-value', op: '=~', prefix: 'we', from: 7, to: 9 }],
    ['{app!~`a\\.‸`}', { kind: 'label-value', op: '!~', quote: '`', prefix: 'a.' }],
    ['{msg="say \\"hi‸', { kind: 'label-value', prefix: 'say "hi' }],
    ['{namespace="shop"} |= "x" ‸', undefined],
    ['{namespace="shop"} |= "{‸', undefined],
    ['{a="1"} |= "{" or {‸', { kind: 'label-name', prefix: '' }],
    ['sum(rate({job="x", ‸', { kind: 'label-name', selector: '{job="x"}' }],
    ['rate({job="x"}[5m]) / rate({pod=‸', { kind: 'label-value', label: 'pod', selector: undefined }],
    ['‸{a="b"}', undefined],
  ];
  for (const [marked, want] of cases) {
    const { ctx } = at(marked);
    if (want === undefined) t.equal(ctx, undefined, marked);
    else t.match(ctx, want, marked);
  }
});

t.test('the scope sent with a look-up: the other complete matchers, only when Loki would accept them', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['{namespace="shop", pod=~"web.*", ‸', '{namespace="shop", pod=~"web.*"}'],
    ['{namespace="shop", app="‸', '{namespace="shop"}'],
    ['{namespace="shop", app="‸", pod="p"}', '{namespace="shop", pod="p"}'],
    ['{namespace="sh‸"}', undefined],
    ['{namespace!="shop", ‸', undefined],
    ['{namespace="", ‸', undefined],
    ['{pod=~".*", ‸', undefined],
    ['{pod=~"(", ‸', undefined],
    ['{pod=~".+", ‸', '{pod=~".+"}'],
    ['{namespace="shop, ‸', undefined],
  ];
  for (const [marked, want] of cases) t.equal(at(marked).ctx?.selector, want, marked);
});

t.test('taking a suggestion: the text and where the caret lands', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['{‸', 'namespace', '{namespace=‸'],
    ['{na‸', 'namespace', '{namespace=‸'],
    ['{na‸me="x"}', 'namespace', '{namespace‸="x"}'],
    ['{namespace=‸', 'shop', '{namespace="shop"‸'],
    ['{namespace="‸', 'shop', '{namespace="shop"‸'],
    ['{namespace="sh‸', 'shop', '{namespace="shop"‸'],
    ['{namespace="sh‸op"} |= "x"', 'shipping', '{namespace="shipping"‸} |= "x"'],
    ['{app=~"‸', 'web.v2', '{app=~"web\\\\.v2"‸'],
    ['{app=~"api|we‸"}', 'web', '{app=~"api|web"‸}'],
    ['{app=~"we‸|api"}', 'web', '{app=~"web‸|api"}'],
    ['{app!~`‸`}', 'a.b', '{app!~`a\\.b`‸}'],
    ['{msg="‸', 'say "hi"', '{msg="say \\"hi\\""‸'],
  ];
  for (const [marked, value, wantMarked] of cases) {
    const { text, ctx } = at(marked);
    const got = applyCompletion(text, ctx!, value);
    t.equal(got.text.slice(0, got.cursor) + '‸' + got.text.slice(got.cursor), wantMarked, `${marked} + ${value}`);
  }
});

t.test('taking a name then a value builds a selector the next look-up is scoped by', async (t) => {
  let text = '{';
  let ctx = completionAt(text, 1)!;
  ({ text } = applyCompletion(text, ctx, 'namespace'));
  ctx = completionAt(text, text.length)!;
  t.match(ctx, { kind: 'label-value', label: 'namespace' });
  ({ text } = applyCompletion(text, ctx, 'shop'));
  text += ', ';
  ctx = completionAt(text, text.length)!;
  t.match(ctx, { kind: 'label-name', selector: '{namespace="shop"}' });
  ({ text } = applyCompletion(text, ctx, 'app'));
  t.equal(text, '{namespace="shop", app=');
});

t.test('values escaped for their operator and quote', async (t) => {
  t.equal(escapeValue('a"b\\c', '=', '"'), 'a\\"b\\\\c');
  t.equal(escapeValue('a.b', '=', '"'), 'a.b');
  t.equal(escapeValue('a.b+(c)', '=~', '"'), 'a\\\\.b\\\\+\\\\(c\\\\)');
  t.equal(escapeValue('a.b', '!~', '`'), 'a\\.b');
});

t.test('ranking: prefix matches first, then substring matches, case-insensitive, limited', async (t) => {
  const names = ['app', 'cluster', 'container', 'namespace', 'pod', 'pod_template_hash', 'tier'];
  t.same(rankCompletions(names, ''), names);
  t.same(rankCompletions(names, 'po'), ['pod', 'pod_template_hash']);
  t.same(rankCompletions(names, 'T'), ['tier', 'cluster', 'container', 'pod_template_hash']);
  t.same(rankCompletions(names, 'zz'), []);
  t.same(rankCompletions(names, 'a', 2), ['app', 'container']);
});
