/**
 * Go text/template as line_format / label_format run it: a table of templates, labels and
 * the text Go (with Loki's function map) prints, and the parse errors Go reports. Pure.
 */
import t from 'tap';
import { executeTemplate, goSprintf, parseTemplate } from '../../../aggregator/logql/template.ts';

const ctx = { line: 'the line', tsNs: 1_700_000_000_123_000_000n };
const cases: [string, Record<string, string>, string][] = [
  ['plain text', {}, 'plain text'],
  ['{{.a}}-{{.missing}}', { a: 'x' }, 'x-'],
  ['{{ .a | ToUpper | ToLower }}', { a: 'MiXed' }, 'mixed'],
  ['{{ if .a }}yes{{ else }}no{{ end }}', { a: '' }, 'no'],
  ['{{ if eq .s "500" }}5xx{{ else if eq .s "404" }}4xx{{ else }}ok{{ end }}', { s: '404' }, '4xx'],
  ['{{ with .a }}[{{.}}]{{ else }}none{{ end }}', { a: 'v' }, '[v]'],
  ['{{ with .zz }}[{{.}}]{{ else }}none{{ end }}', {}, 'none'],
  ['{{ $x := "a" }}{{ $x = "b" }}{{ $x }}', {}, 'b'],
  ['{{ and .a .b }}|{{ or .zz .b }}|{{ not .zz }}', { a: '1', b: '2' }, '2|2|true'],
  ['{{ range $k, $v := fromJson .j }}{{$k}}={{$v}};{{ end }}', { j: '{"b":2,"a":"x"}' }, 'a=x;b=2;'],
  ['{{ range $i, $e := fromJson .j }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $e }}{{ end }}', { j: '[5,6,7]' }, '5'],
  ['{{ range fromJson .j }}{{ else }}empty{{ end }}', { j: '[]' }, 'empty'],
  ['{{ index (fromJson .j) "a" }}', { j: '{"a":[1,2]}' }, '[1 2]'],
  ['{{ printf "%d-%s-%v-%q-%x" 42 "s" true "q" 255 }}', {}, '42-s-true-"q"-ff'],
  ['{{ printf "%6.2f|%-4s|%04d" 3.14159 "ab" 7 }}', {}, '  3.14|ab  |0007'],
  ['{{ .a | printf "%s!" }}', { a: 'hi' }, 'hi!'],
  ['{{ "a,b" | replace "," ";" }} {{ "  x " | trim }} {{ trimAll "-" "--x--" }}', {}, 'a;b x x'],
  ['{{ if and (gt (len .a) 2) (hasPrefix "ab" .a) }}yes{{ end }}', { a: 'abc' }, 'yes'],
  ['{{- " x " -}}  y', {}, ' x y'],
  ['a {{- /* c */}} b', {}, 'a b'],
  ['a {{- /* c */ -}} b', {}, 'ab'],
  ['{{ eq .a "1" "2" }} {{ ne .a "1" }} {{ lt 1 2 }} {{ ge 2.5 2.5 }}', { a: '2' }, 'true true true true'],
  ['{{ 1.5 }} {{ 1e6 }} {{ 3 }} {{ nil }}', {}, '1.5 1e+06 3 <no value>'],
  [
    '{{ urldecode "a%20b+c" }} {{ count "a" "banana" }} {{ regexReplaceAllLiteral "a" "banana" "$1" }}',
    {},
    'a b c 3 b$1n$1n$1',
  ],
  ['{{ regexReplaceAll "a(n)" "banana" "<$1>" }}', {}, 'b<n><n>a'],
  [
    '{{ ceil 1.2 }} {{ floor 1.8 }} {{ round 2.345 2 }} {{ maxf 1 2.5 }} {{ min 3 1 2 }} {{ sub 10 3 }} {{ mod 7 3 }}',
    {},
    '2 1 2.35 2.5 1 7 1',
  ],
  [
    '{{ int "42" | add 1 }} {{ float64 "1.5" | addf 1 }} {{ "x" | default "d" }} {{ "" | default "d" }}',
    {},
    '43 2.5 x d',
  ],
  ['{{ mul 2 3 4 }} {{ div 7 2 }} {{ divf 7 2 }} {{ mulf 1.5 2 }} {{ subf 1 0.25 }}', {}, '24 3 3.5 3 0.75'],
  ['{{ unixToTime "1700000000" }}', {}, '2023-11-14 22:13:20 +0000 UTC'],
  ['{{ toDateInZone "2006-01-02" "UTC" "2024-03-01" | unixEpoch }}', {}, '1709251200'],
  ['{{ __timestamp__ }}', {}, '2023-11-14 22:13:20.123 +0000 UTC'],
  [
    '{{ __timestamp__ | unixEpochNanos }} {{ __timestamp__ | date "15:04:05.000 Jan 2" }}',
    {},
    '1700000000123000000 22:13:20.123 Nov 14',
  ],
  ['{{ __line__ }} {{ __line__ | len }}', {}, 'the line 8'],
  ['{{ Replace .a "o" "0" -1 }} {{ Replace .a "o" "0" 1 }}', { a: 'foo boo' }, 'f00 b00 f0o boo'],
  [
    '{{ TrimPrefix .a "x-" }} {{ TrimSuffix .a "-y" }} {{ Trim .a "xy" }} {{ TrimSpace "  s " }}',
    { a: 'x-m-y' },
    'm-y x-m -m- s',
  ],
  [
    '{{ .a | trunc 3 }} {{ .a | trunc -2 }} {{ substr 1 3 .a }} {{ contains "ell" .a }} {{ hasSuffix "lo" .a }}',
    { a: 'hello' },
    'hel lo el true true',
  ],
  ['{{ indent 2 .a }}|{{ nindent 1 .a }}', { a: 'x\ny' }, '  x\n  y|\n x\n y'],
  ['{{ .a | b64enc }} {{ .a | b64enc | b64dec }} {{ "!!" | b64dec }}', { a: 'hi' }, 'aGk= hi '],
  ['{{ alignLeft 4 .a }}|{{ alignRight 4 .a }}|{{ alignLeft 1 .a }}', { a: 'ab' }, 'ab  |  ab|a'],
  ['{{ .size | bytes }} {{ .d | duration }} {{ .d | duration_seconds }}', { size: '2KiB', d: '1m30s' }, '2048 90 90'],
  ['{{ html "<a&b>" }} {{ js "it\'s" }} {{ urlquery "a b&c" }}', {}, "&lt;a&amp;b&gt; it\\'s a+b%26c"],
  ['{{ print "a" 1 2 "b" }} {{ println "x" }}', {}, 'a1 2b x\n'],
];

t.test('templates print what Go prints', async (t) => {
  for (const [src, labels, want] of cases) {
    let got: string;
    try {
      got = executeTemplate(parseTemplate(src), labels, ctx);
    } catch (e) {
      t.fail(`${src}: ${(e as Error).message}`);
      continue;
    }
    t.equal(got, want, src);
  }
});

t.test('parse errors read like Go', async (t) => {
  const bad: [string, string][] = [
    ['{{ .a ', 'template: line:1: unclosed action'],
    ['{{ nofn .a }}', 'template: line:1: function "nofn" not defined'],
    ['{{ if .a }}x', 'template: line:1: unexpected EOF'],
    ['{{ end }}', 'template: line:1: unexpected {{end}}'],
    ['{{ .a | }}', 'template: line:1: missing value for command'],
    ['{{ define "x" }}{{ end }}', 'template: line:1: define is not supported'],
  ];
  for (const [src, msg] of bad) t.throws(() => parseTemplate(src), { message: msg }, src);
});

t.test('execution errors name the failing node', async (t) => {
  t.throws(() => executeTemplate(parseTemplate('{{ .a.b }}'), { a: 'x' }, ctx), {
    message: 'template: line:1:2: executing "line" at <.a.b>: can\'t evaluate field b in type string',
  });
  t.throws(() => executeTemplate(parseTemplate('{{ div 1 0 }}'), {}, ctx), { message: /integer divide by zero/ });
});

t.test('a lone field is copied without running the template (Loki fast path)', async (t) => {
  const tmpl = parseTemplate('{{.message}}');
  t.equal(tmpl.simpleKey, 'message');
  t.equal(executeTemplate(tmpl, { message: 'm' }, ctx), 'm');
  t.equal(executeTemplate(tmpl, {}, ctx), '');
});

t.test('printf verbs', async (t) => {
  t.equal(
    goSprintf('%s %d %5.1f %e %t %c %%', ['a', 3n, 2.24, 1234.5, false, 65n]),
    'a 3   2.2 1.234500e+03 false A %',
  );
  t.equal(goSprintf('%d', ['x']), '%!d(string=x)');
  t.equal(goSprintf('%s %s', ['only']), 'only %!s(MISSING)');
  t.equal(goSprintf('%s', ['a', 'b']), 'a%!(EXTRA string=b)');
});
