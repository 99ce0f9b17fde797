import t from 'tap';
import { isGoFrame, MultilineMerger, startsContinuation } from '../../../agent/filter/multiline.ts';
import type { LogicalLine } from '../../../agent/parse/logical-line.ts';
import { ADVERSARIAL_BOUND_MS, BIG, bestMs } from '../../helpers/timing.ts';

/** The Go frame regex the scanner replaced: the oracle for its semantics. */
const OLD_GO_FRAME = /^[\w./*()[\]-]+\(.*\)$/;

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

/** A test name for `s`: JSON, with U+2028/U+2029 escaped too (TAP would read them as line breaks). */
function label(s: string): string {
  return JSON.stringify(s).replace(/[\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16));
}

function line(message: string, offset: number): LogicalLine {
  return {
    offset,
    spanStart: offset,
    end: offset + message.length + 1,
    multi: false,
    timestamp: 't',
    stream: 'stdout',
    message,
    anomaly: null,
  };
}

/** Pushes `panic: boom` then `msg`; returns the records emitted, in order. */
function afterPanic(msg: string): string[] {
  const out: string[] = [];
  const m = new MultilineMerger({ maxLines: 500, maxBytes: 1 << 30 }, (l) => out.push(l.message));
  m.push(line('panic: boom', 0), 0);
  m.push(line(msg, 12), 0);
  m.flushAll();
  return out;
}

t.test('Go frames: table', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['main.handler(...)', true],
    ['main.main()', true],
    ['net/http.(*conn).serve(0xc000120000, {0x7d1e18, 0xc0000a6000})', true],
    ['github.com/x/y-z.(*T)[go.shape.int].m(0x1)', true],
    ['a()', true],
    ['()', false],
    ['(x)', false],
    ['a(', false],
    ['a)', false],
    ['a(b', false],
    ['a(b)c', false],
    ['a b(c)', false],
    ['a(b c)', true],
    ['a((', false],
    ['a(()', true],
    ['a(\n)', false],
    ['a(\u2028)', false],
    ['a()\n)', false],
    ['a(x)\r)', false],
    ['restarting', false],
    ['', false],
  ];
  for (const [msg, want] of cases) {
    t.equal(isGoFrame(msg), want, label(msg));
    t.equal(OLD_GO_FRAME.test(msg), want, `(oracle) ${label(msg)}`);
  }
});

t.test('Go frames: the same answers as the regex they replaced, on random lines', async (t) => {
  const rand = rng(3);
  const alphabet = [
    'a',
    'Z',
    '0',
    '_',
    '.',
    '/',
    '*',
    '(',
    '(',
    ')',
    ')',
    '[',
    ']',
    '-',
    ' ',
    '\n',
    '\r',
    '\u2028',
    ',',
    'é',
  ];
  let compared = 0;
  for (let k = 0; k < 100000; k++) {
    const n = Math.floor(rand() * 10);
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    if (isGoFrame(s) !== OLD_GO_FRAME.test(s)) t.fail(label(s));
    compared++;
  }
  t.equal(compared, 100000, 'all agree');
});

t.test('continuation starts: table', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['\tat com.example.App.main(App.java:10)', true],
    ['    at f (a.js:1:1)', true],
    [' ', false],
    ['Caused by: x', true],
    ['Suppressed: x', true],
    ['... 2 more', true],
    ['... 12 common frames omitted', true],
    ['... more', false],
    ['... 2 more!', false],
    ['next', false],
  ];
  for (const [msg, want] of cases) t.equal(startsContinuation(msg), want, JSON.stringify(msg));
});

t.test('multiline patterns: adversarial lines finish in linear time', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    // [name, line after `panic:`, whether it joins the panic group]
    ['256 KiB of `(`', '('.repeat(BIG), false],
    ['a name then 256 KiB of `(`', 'a' + '('.repeat(BIG), false],
    ['a name then 256 KiB of `(` and `)`', 'a' + '('.repeat(BIG) + ')', true],
    ['a frame-like line with 256 KiB of `()`', 'a' + '()'.repeat(BIG / 2), true],
    ['256 KiB of name characters', 'a.b/'.repeat(BIG / 4), false],
    ['256 KiB of spaces', ' '.repeat(BIG), true],
    ['256 KiB of tabs', '\t'.repeat(BIG), true],
    ['`at ` repeated', '\tat '.repeat(BIG / 4), true],
    ['`... ` and digits', '... ' + '1'.repeat(BIG), false],
    ['`goroutine ` repeated', 'goroutine '.repeat(BIG / 10), true],
  ];
  for (const [name, msg, joins] of cases) {
    const { ms, result } = bestMs(() => afterPanic(msg));
    t.equal((result as string[]).length, joins ? 1 : 2, `${name}: ${joins ? 'joins' : 'does not join'} the group`);
    t.ok(ms < ADVERSARIAL_BOUND_MS, `${name}: fastest ${ms.toFixed(1)} ms`);
  }
});
