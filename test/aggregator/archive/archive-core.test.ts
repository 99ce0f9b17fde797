import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import t from 'tap';
import {
  decodePartitionValue,
  encodePartitionValue,
  isValidPrefix,
  manifestKey,
  parseKey,
  partKey,
} from '../../../aggregator/archive/object-keys.ts';
import { NdjsonParts, type FinishedPart } from '../../../aggregator/archive/ndjson-parts.ts';
import {
  archiveCutoffMs,
  isDayArchivable,
  partitionsFromBuckets,
  planAggregation,
} from '../../../aggregator/archive/archive-selection.ts';
import { buildManifest, parseManifest } from '../../../aggregator/archive/manifest.ts';

t.test('object keys: hive layout, zero-padded parts, manifest beside them', async (t) => {
  const p = { cluster: 'prod-eu', day: '2026-03-01', namespace: 'payments' };
  t.equal(
    partKey('archive/logs', p, 3, 'gzip'),
    'archive/logs/cluster=prod-eu/dt=2026-03-01/namespace=payments/part-00003.ndjson.gz',
  );
  t.equal(partKey('a', p, 0, 'zstd'), 'a/cluster=prod-eu/dt=2026-03-01/namespace=payments/part-00000.ndjson.zst');
  t.equal(manifestKey('a', p), 'a/cluster=prod-eu/dt=2026-03-01/namespace=payments/_manifest.json');
  t.throws(() => partKey('a', p, 100_000, 'gzip'), RangeError);
  t.throws(() => partKey('a', { ...p, day: '2026-02-30' }, 0, 'gzip'), RangeError);
  t.throws(() => partKey('/a', p, 0, 'gzip'), RangeError);
});

t.test('partition values are escaped injectively: no value adds a level or collides', async (t) => {
  const cases: Array<[string, string]> = [
    ['plain-ns_1.x', 'plain-ns_1.x'],
    ['a/b', 'a%2Fb'],
    ['k=v', 'k%3Dv'],
    ['100%', '100%25'],
    ['a%2Fb', 'a%252Fb'],
    ['..', '%2E%2E'],
    ['.', '%2E'],
    ['ünï cödé', '%C3%BCn%C3%AF%20c%C3%B6d%C3%A9'],
  ];
  for (const [value, want] of cases) {
    t.equal(encodePartitionValue(value), want, value);
    t.equal(decodePartitionValue(want), value, `${value} round-trips`);
    const key = partKey('pfx', { cluster: 'c', day: '2026-01-02', namespace: value }, 7, 'gzip');
    t.same(
      parseKey('pfx', key),
      { kind: 'part', partition: { cluster: 'c', day: '2026-01-02', namespace: value }, part: 7, compression: 'gzip' },
      `${value} parses back`,
    );
    t.equal(key.split('/').length, 5, `${value} stays one directory level`);
  }
  t.throws(() => encodePartitionValue(''));
});

t.test('parseKey rejects anything that is not a canonical archive key', async (t) => {
  for (const key of [
    'pfx/cluster=c/dt=2026-01-02/namespace=%41/part-00000.ndjson.gz', // non-canonical spelling of "A"
    'pfx/cluster=c/dt=2026-13-02/namespace=n/part-00000.ndjson.gz',
    'pfx/cluster=c/dt=2026-01-02/namespace=n/part-0.ndjson.gz',
    'pfx/cluster=c/dt=2026-01-02/namespace=n/x/part-00000.ndjson.gz',
    'other/cluster=c/dt=2026-01-02/namespace=n/part-00000.ndjson.gz',
    'pfx/cluster=c/dt=2026-01-02/namespace=%ZZ/part-00000.ndjson.gz',
  ]) {
    t.equal(parseKey('pfx', key), undefined, key);
  }
  t.same(parseKey('pfx', 'pfx/cluster=c/dt=2026-01-02/namespace=n/_manifest.json'), {
    kind: 'manifest',
    partition: { cluster: 'c', day: '2026-01-02', namespace: 'n' },
  });
  t.ok(isValidPrefix('a/b-c/d.e'));
  for (const bad of ['', '/a', 'a/', 'a//b', 'a/../b', 'a b']) t.notOk(isValidPrefix(bad), JSON.stringify(bad));
});

t.test('archivable days follow the retention rule: a day goes once its end is ageDays × 24 h ago', async (t) => {
  const now = Date.parse('2026-03-10T12:00:00Z');
  t.ok(isDayArchivable('2026-03-02', now, 7));
  t.notOk(isDayArchivable('2026-03-03', now, 7), 'ends 4 March 00:00, only 6.5 days ago');
  t.ok(isDayArchivable('2026-03-03', Date.parse('2026-03-11T00:00:00Z'), 7), 'exactly on the boundary');
  t.equal(new Date(archiveCutoffMs(now, 7)).toISOString(), '2026-03-03T00:00:00.000Z');
  t.equal(new Date(archiveCutoffMs(Date.parse('2026-03-11T00:00:00Z'), 7)).toISOString(), '2026-03-04T00:00:00.000Z');
  const body = planAggregation(
    { clusters: ['a'], namespaces: [], levels: ['error'], labels: { app: 'web' }, ageDays: 7 },
    now,
  ) as any;
  t.same(body.query.bool.filter, [
    { terms: { cluster: ['a'] } },
    { terms: { level: ['error'] } },
    { term: { 'labels.app': 'web' } },
    { range: { timestamp: { lt: '2026-03-03T00:00:00.000000000Z' } } },
  ]);
  t.same(
    partitionsFromBuckets([
      { key: { cluster: 'a', day: '2026-03-01', namespace: 'n1' }, doc_count: 3 },
      { key: { cluster: 'a', day: Date.parse('2026-03-02T00:00:00Z'), namespace: 'n1' }, doc_count: 1 },
      { key: { cluster: 'a', day: '2026-03-02', namespace: 'n2' }, doc_count: 0 },
    ]),
    [
      { cluster: 'a', day: '2026-03-01', namespace: 'n1', records: 3 },
      { cluster: 'a', day: '2026-03-02', namespace: 'n1', records: 1 },
    ],
  );
});

async function writeParts(
  lines: string[],
  compression: 'gzip' | 'zstd',
  targetObjectBytes: number,
  flushEveryRecords = 50,
) {
  const parts: FinishedPart[] = [];
  const w = new NdjsonParts({
    compression,
    targetObjectBytes,
    flushEveryRecords,
    onPart: async (p) => void parts.push(p),
  });
  for (const [i, l] of lines.entries()) await w.push(l, `ts${i}`);
  return { parts, totals: await w.end() };
}

function sampleLines(n: number): string[] {
  const out: string[] = [];
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out.push(JSON.stringify({ id: `rec-${i}`, message: `request ${x.toString(36)} took ${x % 997} ms`, seq: i }));
  }
  return out;
}

t.test(
  'NdjsonParts: cuts at the target size, every line exactly once, checksums right, output deterministic',
  async (t) => {
    const lines = sampleLines(5000);
    for (const compression of ['gzip', 'zstd'] as const) {
      const { parts, totals } = await writeParts(lines, compression, 16 * 1024);
      t.ok(parts.length > 2, `${compression}: several parts (${parts.length})`);
      const unzip = compression === 'gzip' ? gunzipSync : zstdDecompressSync;
      const all: string[] = [];
      for (const [i, p] of parts.entries()) {
        t.equal(p.part, i);
        if (i < parts.length - 1)
          t.ok(
            p.body.length >= 16 * 1024 && p.body.length < 32 * 1024,
            `${compression} part ${i}: ${p.body.length} bytes, at the target`,
          );
        const raw = unzip(p.body);
        t.equal(createHash('sha256').update(raw).digest('hex'), p.contentSha256);
        t.equal(createHash('sha256').update(p.body).digest('hex'), p.objectSha256);
        t.equal(p.objectBytes, p.body.length);
        t.equal(p.rawBytes, raw.length);
        const got = raw.toString().split('\n').slice(0, -1);
        t.equal(got.length, p.records);
        t.equal(p.firstTimestamp, `ts${all.length}`);
        all.push(...got);
        t.equal(p.lastTimestamp, `ts${all.length - 1}`);
      }
      t.same(all, lines, `${compression}: every line once, in order`);
      t.equal(totals.records, 5000);
      t.equal(
        totals.contentSha256,
        createHash('sha256')
          .update(lines.join('\n') + '\n')
          .digest('hex'),
      );
      const again = await writeParts(lines, compression, 16 * 1024);
      t.same(
        again.parts.map((p) => p.objectSha256),
        parts.map((p) => p.objectSha256),
        `${compression}: a rerun writes byte-identical objects`,
      );
    }
    const empty = await writeParts([], 'gzip', 4096);
    t.same(empty.parts, []);
    t.equal(empty.totals.records, 0);
  },
);

t.test('manifest: totals from the parts, validated on read', async (t) => {
  const { parts, totals } = await writeParts(sampleLines(500), 'gzip', 4096);
  const m = buildManifest({
    partition: { cluster: 'c', day: '2026-01-02', namespace: 'n' },
    compression: 'gzip',
    parts: parts.map(({ body: _b, ...p }) => ({ ...p, key: `k${p.part}` })).reverse(),
    contentSha256: totals.contentSha256,
    sealedParts: 0,
    jobId: 'job-1',
    policyId: 'pol-1',
    storageClass: 'STANDARD',
    writtenAt: '2026-01-09T00:00:00.000Z',
  });
  t.equal(m.records, 500);
  t.equal(m.objects[0]!.key, 'k0', 'objects in part order');
  t.equal(m.first_timestamp, 'ts0');
  t.equal(m.last_timestamp, 'ts499');
  t.equal(
    m.stored_bytes,
    parts.reduce((n, p) => n + p.body.length, 0),
  );
  t.same(parseManifest(JSON.stringify(m)), m);
  t.equal(parseManifest('{"format":"other"}'), undefined);
  t.equal(parseManifest('not json'), undefined);
});
