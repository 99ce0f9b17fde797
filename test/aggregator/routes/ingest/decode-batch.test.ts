import t from 'tap';
import { acceptanceWindow, decodeBatch, hasDuplicateKeys } from '../../../../aggregator/routes/ingest/decode-batch.ts';
import { buildBulkBody } from '../../../../aggregator/store/bulk-writer.ts';

const now = Date.parse('2026-11-25T12:00:00Z');
const limits = { maxRecordBytes: 1 << 20, ...acceptanceWindow(now, 7 * 86_400_000, 600_000) };
const line = (over: Record<string, unknown>) =>
  JSON.stringify({
    id: 'abcdefgh-1',
    timestamp: '2026-11-25T11:00:00.000000001Z',
    cluster: 'c1',
    namespace: 'n',
    pod: 'p',
    container: 'c',
    stream: 'stdout',
    level: 'info',
    message: 'm',
    ...over,
  });

t.test('the acceptance window is inclusive and in canonical form', async (t) => {
  t.same(acceptanceWindow(now, 7 * 86_400_000, 600_000), {
    oldest: '2026-11-18T12:00:00.000000000Z',
    newest: '2026-11-25T12:10:00.000999999Z',
  });
});

t.test('records outside the acceptance window are rejected as too_old / too_new', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['2026-11-18T12:00:00.000000000Z', undefined],
    ['2026-11-18T11:59:59.999999999Z', 'too_old'],
    ['2026-11-18T13:59:59+02:00', 'too_old'], // offsets are normalised before the comparison
    ['2020-01-01T00:00:00Z', 'too_old'],
    ['2026-11-25T12:10:00.000999999Z', undefined],
    ['2026-11-25T12:10:00.001000000Z', 'too_new'],
    ['2099-01-01T00:00:00.000000000Z', 'too_new'],
  ];
  for (const [ts, reason] of cases) {
    const out = decodeBatch(Buffer.from(line({ timestamp: ts }) + '\n'), 'c1', limits);
    if (reason === undefined) t.equal(out.records.length, 1, `${ts} accepted`);
    else t.match(out.rejections, [{ line: 1, id: 'abcdefgh-1', reason }], `${ts} → ${reason}`);
  }
});

t.test('duplicate keys are found at any depth, and only outside strings', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['{"a":1,"b":2}', false],
    ['{"a":1,"a":2}', true],
    ['{ "a" : 1 , "a"\t: 2 }', true],
    ['{"a":{"x":1,"x":2}}', true],
    ['{"a":[{"x":1},{"x":2}]}', false],
    ['{"a":[{"x":1,"x":2}]}', true],
    ['{"m":"\\"a\\":1,\\"a\\":2","a":3}', false],
    ['{"m":"ends with backslash \\\\","m2":"x"}', false],
    ['{"m":"ends with backslash \\\\","m":"x"}', true],
    ['{"k:":"v:","k":"v"}', false],
    ['{"__proto__":1,"b":2}', false],
    ['{"__proto__":1,"__proto__":2}', true],
    ['{}', false],
    // whitespace before a colon or strings opening with one: the exact count decides
    ['{"cluster":"evil", "cluster" :"alpha","x":1}', true],
    ['{"a" :1,"b":2}', false],
    ['{"m":":-)","m":"x"}', true],
    ['{"m":":-)","n":"x"}', false],
    ['{"m":[":a"],"m":1}', true],
    ['{":k":1,":k":2}', true],
    ['{"":1,"":2}', true],
    ['{"":1,"b":2}', false],
    ['{"a\\\\":1,"a\\\\":2}', true],
    ['{"a\\\\":{"b":"\\":\\"","c":1},"d":2}', false],
  ];
  for (const [text, dup] of cases) t.equal(hasDuplicateKeys(text, JSON.parse(text)), dup, text);
});

t.test('a record with a duplicated key is stored as validated, never as its text', async (t) => {
  // JSON.parse keeps the last "cluster", which matches the token; stored text would carry both.
  const text = line({ labels: { app: 'a' } })
    .replace('"cluster":"c1"', '"cluster":"other","cluster":"c1"')
    .replace('"app":"a"', '"app":"a","app":"b"');
  const out = decodeBatch(Buffer.from(`${text}\n${line({ id: 'abcdefgh-2' })}\n`), 'c1', limits);
  t.same(out.rejections, []);
  t.equal(out.raw[0], undefined, 'duplicated keys: re-serialised');
  t.type(out.raw[1], 'string', 'a clean record keeps the raw fast path');
  const doc = buildBulkBody('k8s-logs', out.records, 'x', out.raw).split('\n')[1]!;
  t.equal(doc.match(/"cluster"/g)?.length, 1, 'one cluster key in what is stored');
  t.match(JSON.parse(doc), { cluster: 'c1', labels: { app: 'b' } });
});

t.test(
  'duplicate-key detection agrees with the truth on generated JSON (keys and strings full of : " \\ and spaces)',
  async (t) => {
    let seed = 42; // mulberry32: reproducible
    const rand = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n);
    };
    const alphabet = ['a', 'b', ':', '"', '\\', ' ', ',', '{', '[', '-'];
    const str = () => JSON.stringify(Array.from({ length: rand(4) }, () => alphabet[rand(alphabet.length)]).join(''));
    const ws = () => [' ', '', '', '\t'][rand(4)]!;
    let dups = 0;
    // Returns [text, has a duplicated key anywhere].
    const gen = (depth: number): [string, boolean] => {
      const r = rand(depth > 2 ? 2 : 5);
      if (r === 0) return [str(), false];
      if (r === 1) return [String(rand(100)), false];
      if (r === 2) {
        const items = Array.from({ length: rand(3) }, () => gen(depth + 1));
        return [`[${items.map((i) => i[0]).join(',')}]`, items.some((i) => i[1])];
      }
      const pool = [str(), str(), str()];
      const keys = Array.from({ length: rand(4) }, () => pool[rand(3)]!);
      const values = keys.map(() => gen(depth + 1));
      const dup = new Set(keys.map((k) => JSON.parse(k) as string)).size !== keys.length || values.some((v) => v[1]);
      return [`{${keys.map((k, i) => `${ws()}${k}${ws()}:${ws()}${values[i]![0]}`).join(',')}}`, dup];
    };
    for (let i = 0; i < 5000; i++) {
      const [text, dup] = gen(0);
      if (!text.startsWith('{')) continue;
      if (dup) dups++;
      t.equal(hasDuplicateKeys(text, JSON.parse(text)), dup, text);
    }
    t.ok(dups > 100, `${dups} texts with duplicates among them`);
  },
);
