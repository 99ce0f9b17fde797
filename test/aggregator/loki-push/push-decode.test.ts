/**
 * The pure parts of Loki push: the protobuf reader against bytes made by hand from
 * push.proto and against an independent writer, the JSON decoder, the label-string
 * parser, and the mapping of streams back to records (ids, levels, defaults, drops).
 */
import t from 'tap';
import { uncompress } from 'snappyjs';
import { decodePushProto } from '../../../aggregator/routes/loki-push/push-proto.ts';
import { decodePushJson, PushBodyError } from '../../../aggregator/routes/loki-push/push-body.ts';
import { parseLabelString } from '../../../aggregator/routes/loki-push/label-string.ts';
import { NO_NAME, NO_NAMESPACE, pushRecords } from '../../../aggregator/routes/loki-push/push-records.ts';
import { formatNanos } from '../../../shared/time.ts';
import {
  HANDMADE_PROTO,
  HANDMADE_SNAPPY,
  pushRequestJson,
  pushRequestProto,
  snappy,
  type FixtureStream,
} from './push-fixtures.ts';

t.test('decodes the hand-made PushRequest bytes (wire format, not our own encoder)', async (t) => {
  t.same(decodePushProto(HANDMADE_PROTO), [
    {
      labels: '{namespace="hand",pod="p1"}',
      entries: [{ tsNs: 1_764_000_000_000_000_005n, line: 'hi', metadata: { trace_id: 't1' } }],
    },
  ]);
  t.same(uncompress(HANDMADE_SNAPPY), HANDMADE_PROTO, 'the hand-made snappy block is what snappyjs reads');
});

t.test('decodes what an independent writer encodes, skipping unknown fields', async (t) => {
  const streams: FixtureStream[] = [
    {
      labels: { app: 'web', namespace: 'shop' },
      entries: [
        { tsNs: 1_700_000_000_123_456_789n, line: 'a' },
        { tsNs: 1n, line: 'ünï', metadata: { k: 'v', k2: '' } },
      ],
    },
    { labels: { job: 'x' }, entries: [] },
  ];
  const got = decodePushProto(pushRequestProto(streams));
  t.same(got, [
    { labels: '{app="web", namespace="shop"}', entries: streams[0]!.entries },
    { labels: '{job="x"}', entries: [] },
  ]);
  // An unknown top-level field (PushRequest.format = 2) and a fixed64 one are skipped.
  const extra = Buffer.concat([
    pushRequestProto(streams),
    Buffer.from([0x12, 0x04, 0x6c, 0x6f, 0x6b, 0x69, 0x39, 1, 2, 3, 4, 5, 6, 7, 8]),
  ]);
  t.equal(decodePushProto(extra).length, 2);
});

t.test('malformed protobuf is a PushBodyError', async (t) => {
  const good = pushRequestProto([{ labels: { a: 'b' }, entries: [{ tsNs: 5n, line: 'x' }] }]);
  const cases: Array<[string, Buffer]> = [
    ['truncated', good.subarray(0, good.length - 2)],
    ['length past the end', Buffer.from([0x0a, 0x7f, 0x00])],
    ['field number 0', Buffer.from([0x00, 0x01])],
    ['group wire type', Buffer.from([0x0b])],
    ['endless varint', Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
    [
      'nanos out of range',
      Buffer.from([0x0a, 0x0c, 0x12, 0x0a, 0x0a, 0x08, 0x08, 0x01, 0x10, 0x80, 0x94, 0xeb, 0xdc, 0x03]),
    ],
    ['json text as protobuf', Buffer.from('{"streams":[]}')],
  ];
  for (const [name, body] of cases) t.throws(() => decodePushProto(body), PushBodyError, name);
});

t.test('JSON bodies: Loki shapes, and every way to be wrong', async (t) => {
  const streams = [
    {
      labels: { app: 'web' },
      entries: [
        { tsNs: 1_700_000_000_000_000_001n, line: 'a' },
        { tsNs: 2n, line: 'b', metadata: { t: '1' } },
      ],
    },
  ];
  t.same(decodePushJson(pushRequestJson(streams).toString()), streams);
  t.same(decodePushJson('{"streams":[]}'), []);
  const bad: Array<[string, string]> = [
    ['not JSON', '{"streams":['],
    ['missing streams', '{}'],
    ['streams not an array', '{"streams":{}}'],
    ['array body', '[]'],
    ['numeric timestamp', '{"streams":[{"stream":{"a":"b"},"values":[[1700000000000000000,"x"]]}]}'],
    ['timestamp not digits', '{"streams":[{"stream":{"a":"b"},"values":[["yesterday","x"]]}]}'],
    ['timestamp past int64', '{"streams":[{"stream":{"a":"b"},"values":[["9999999999999999999","x"]]}]}'],
    ['line not a string', '{"streams":[{"stream":{"a":"b"},"values":[["1",5]]}]}'],
    ['label value not a string', '{"streams":[{"stream":{"a":1},"values":[["1","x"]]}]}'],
    ['metadata not strings', '{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":1}]]}]}'],
    ['entry of one element', '{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}'],
  ];
  for (const [name, body] of bad) t.throws(() => decodePushJson(body), PushBodyError, name);
});

t.test('label strings as Loki agents write them', async (t) => {
  const ok: Array<[string, Record<string, string>]> = [
    ['{}', {}],
    ['{a="b"}', { a: 'b' }],
    [' { a = "b" , _c2="d\\"e\\\\f\\n" , } ', { a: 'b', _c2: 'd"e\\f\n' }],
    ['{a=`raw\\n`}', { a: 'raw\\n' }],
    ['{a="\\u00e9\\x41"}', { a: 'éA' }],
    ['{a="", b="x"}', { b: 'x' }],
  ];
  for (const [text, labels] of ok) t.same(parseLabelString(text), { ok: true, labels }, text);
  for (const text of [
    '',
    'a="b"',
    '{a="b"',
    '{a=b}',
    '{1a="b"}',
    '{a="b" c="d"}',
    '{a="b"}x',
    '{a="b", a="c"}',
    '{a=~"b"}',
    '{a="\\q"}',
    '{a.b="c"}',
  ]) {
    t.equal(parseLabelString(text).ok, false, JSON.stringify(text));
  }
});

const WINDOW = {
  cluster: 'alpha',
  maxLineBytes: 100,
  oldest: '2025-01-01T00:00:00.000000000Z',
  newest: '2027-01-01T00:00:00.000000000Z',
};
const TS = 1_764_000_000_000_000_000n; // 2025-11-24T16:00:00Z

t.test('stream labels map back to record fields', async (t) => {
  const out = pushRecords(
    [
      {
        labels: {
          cluster: 'alpha',
          namespace: 'shop',
          pod: 'web-1',
          container: 'app',
          node: 'n1',
          stream: 'stderr',
          app: 'web',
          level: 'warning',
        },
        entries: [{ tsNs: TS, line: 'hello' }],
      },
      {
        labels: '{k8s_namespace_name="pay", pod_name="api-1", container_name="c", node_name="n2", job="j"}',
        entries: [{ tsNs: TS + 1n, line: '{"level":"error"}', metadata: { trace_id: 'x', detected_level: 'debug' } }],
      },
      { labels: { job: 'syslog', host: 'h1' }, entries: [{ tsNs: TS + 2n, line: 'ERROR boom' }] },
    ],
    WINDOW,
  );
  t.same(out.discarded, new Map());
  const [a, b, c] = out.records;
  t.match(a, {
    cluster: 'alpha',
    namespace: 'shop',
    pod: 'web-1',
    container: 'app',
    node: 'n1',
    stream: 'stderr',
    level: 'warn',
    message: 'hello',
    timestamp: '2025-11-24T16:00:00.000000000Z',
    labels: { app: 'web', level: 'warning' },
  });
  t.notOk(a && 'cluster' in (a.labels ?? {}), 'cluster is a field, not a label');
  t.match(b, {
    namespace: 'pay',
    pod: 'api-1',
    container: 'c',
    node: 'n2',
    stream: 'stdout',
    level: 'debug',
    fields: { trace_id: 'x' },
    labels: { k8s_namespace_name: 'pay', pod_name: 'api-1', job: 'j' },
  });
  t.match(c, {
    namespace: NO_NAMESPACE,
    pod: NO_NAME,
    container: NO_NAME,
    level: 'error',
    labels: { job: 'syslog', host: 'h1' },
  });
  t.equal(c?.node, undefined);
  t.same(out.lineBytes, [5, 17, 10]);
});

t.test('ids are deterministic, label-order free, and tell equal entries apart by position', async (t) => {
  const entries = [
    { tsNs: TS, line: 'same' },
    { tsNs: TS, line: 'same' },
    { tsNs: TS, line: 'other' },
  ];
  const one = pushRecords([{ labels: { a: '1', b: '2' }, entries }], WINDOW).records.map((r) => r.id);
  const two = pushRecords([{ labels: '{b="2", a="1", cluster="alpha"}', entries }], WINDOW).records.map((r) => r.id);
  t.same(one, two, 'JSON and protobuf, any label order, explicit cluster or not: the same ids');
  t.equal(new Set(one).size, 3, 'two equal entries get two ids');
  const otherStream = pushRecords([{ labels: { a: '1', b: '3' }, entries }], WINDOW).records.map((r) => r.id);
  t.equal(one.filter((id) => otherStream.includes(id)).length, 0);
  t.match(one[0], /^p[0-9a-f]{31}$/);
});

t.test('drops what Loki drops, keeping the rest', async (t) => {
  const out = pushRecords(
    [
      {
        labels: { a: '1' },
        entries: [
          { tsNs: TS, line: 'ok' },
          { tsNs: 1_000_000_000n, line: 'old' },
          { tsNs: 1_900_000_000_000_000_000n, line: 'new' },
          { tsNs: TS, line: 'x'.repeat(101) },
        ],
      },
      { labels: '{a="1"', entries: [{ tsNs: TS, line: 'bad labels' }] },
      { labels: {}, entries: [{ tsNs: TS, line: 'no labels' }] },
      { labels: { 'app.kubernetes.io/name': 'x' }, entries: [{ tsNs: TS, line: 'bad name' }] },
      { labels: { cluster: 'beta' }, entries: [{ tsNs: TS, line: 'other cluster' }] },
      { labels: { namespace: 'n'.repeat(300) }, entries: [{ tsNs: TS, line: 'too long' }] },
    ],
    WINDOW,
  );
  t.same(
    out.records.map((r) => r.message),
    ['ok'],
  );
  t.equal(out.received, 9);
  t.same(Object.fromEntries(out.discarded), {
    too_old: { lines: 1, bytes: 3 },
    too_new: { lines: 1, bytes: 3 },
    record_too_large: { lines: 1, bytes: 101 },
    invalid_record: { lines: 4, bytes: 10 + 9 + 8 + 8 },
    cluster_mismatch: { lines: 1, bytes: 13 },
  });
  t.match(out.messages.join('\n'), /timestamp too old.*\n.*timestamp too new.*\n.*Max entry size '100' bytes exceeded/);
  t.match(out.messages.join('\n'), /at least one label pair is required per stream/);
});

t.test('the snappy fixtures round-trip through snappyjs', async (t) => {
  const b = pushRequestProto([{ labels: { a: 'b' }, entries: [{ tsNs: TS, line: 'x'.repeat(1000) }] }]);
  t.same(uncompress(snappy(b)), b);
});

t.test('timestamps are canonical RFC 3339 with nanoseconds, whatever the minute cache holds', async (t) => {
  const ts = [
    0n,
    59_999_999_999n,
    60_000_000_000n,
    TS + 9n,
    TS + 61_000_000_123n,
    TS + 61_000_000_124n,
    TS - 1n,
    9_223_372_036_854_775_807n,
  ];
  const windowAll = { ...WINDOW, oldest: '1970-01-01T00:00:00.000000000Z', newest: '2262-12-31T00:00:00.000000000Z' };
  const got = pushRecords(
    [{ labels: { a: '1' }, entries: ts.map((tsNs, i) => ({ tsNs, line: String(i) })) }],
    windowAll,
  ).records.map((r) => r.timestamp);
  t.same(
    got,
    ts.map((n) => formatNanos(n)),
  );
});
