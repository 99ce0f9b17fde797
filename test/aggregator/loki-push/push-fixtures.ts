/**
 * Loki push bodies for tests, built from push.proto's field numbers by a protobuf writer
 * of our own (not by the decoder under test), and a push client.
 */
import { compress } from 'snappyjs';

export interface FixtureEntry {
  tsNs: bigint;
  line: string;
  metadata?: Record<string, string>;
}
export interface FixtureStream {
  labels: Record<string, string>;
  entries: FixtureEntry[];
}

function varint(n: bigint): Buffer {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
const tag = (field: number, wire: number) => varint(BigInt((field << 3) | wire));
const len = (field: number, payload: Buffer) => Buffer.concat([tag(field, 2), varint(BigInt(payload.length)), payload]);
const str = (field: number, s: string) => len(field, Buffer.from(s, 'utf8'));
const uint = (field: number, n: bigint) => Buffer.concat([tag(field, 0), varint(n)]);

/** `{a="b", c="d"}` with Go-style quoting (JSON string escapes are a subset of Go's). */
export function labelString(labels: Record<string, string>): string {
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ')}}`;
}

/** Protobuf PushRequest: streams = 1 { labels = 1, entries = 2 { timestamp = 1 { seconds = 1, nanos = 2 }, line = 2, structuredMetadata = 3 { name = 1, value = 2 } }, hash = 3 }. */
export function pushRequestProto(streams: FixtureStream[]): Buffer {
  return Buffer.concat(
    streams.map((s) =>
      len(
        1,
        Buffer.concat([
          str(1, labelString(s.labels)),
          ...s.entries.map((e) =>
            len(
              2,
              Buffer.concat([
                len(1, Buffer.concat([uint(1, e.tsNs / 1_000_000_000n), uint(2, e.tsNs % 1_000_000_000n)])),
                str(2, e.line),
                ...Object.entries(e.metadata ?? {}).map(([k, v]) => len(3, Buffer.concat([str(1, k), str(2, v)]))),
              ]),
            ),
          ),
          uint(3, 12345n), // hash: unknown to us, must be skipped
        ]),
      ),
    ),
  );
}

export const snappy = (b: Buffer): Buffer => compress(b);

export function pushRequestJson(streams: FixtureStream[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      streams: streams.map((s) => ({
        stream: s.labels,
        values: s.entries.map((e) => (e.metadata ? [String(e.tsNs), e.line, e.metadata] : [String(e.tsNs), e.line])),
      })),
    }),
  );
}

/**
 * Made by hand from push.proto, byte by byte (no encoder involved), then wrapped in a
 * literal-only snappy block. One stream `{namespace="hand",pod="p1"}`, one entry at
 * 1764000000 s + 5 ns (2025-11-24T16:00:00.000000005Z), line "hi", structured metadata
 * trace_id="t1".
 */
export const HANDMADE_PROTO = Buffer.from(
  [
    '0a 3d', //                 PushRequest.streams (1, LEN) 61 bytes
    '0a 1b', //                   StreamAdapter.labels (1, LEN) 27 bytes
    '7b 6e 61 6d 65 73 70 61 63 65 3d 22 68 61 6e 64 22 2c 70 6f 64 3d 22 70 31 22 7d', // {namespace="hand",pod="p1"}
    '12 1e', //                   StreamAdapter.entries (2, LEN) 30 bytes
    '0a 08', //                     EntryAdapter.timestamp (1, LEN) 8 bytes
    '08 80 82 92 c9 06', //           Timestamp.seconds (1, VARINT) 1764000000
    '10 05', //                       Timestamp.nanos (2, VARINT) 5
    '12 02 68 69', //               EntryAdapter.line (2, LEN) "hi"
    '1a 0e', //                     EntryAdapter.structuredMetadata (3, LEN) 14 bytes
    '0a 08 74 72 61 63 65 5f 69 64', // LabelPairAdapter.name (1, LEN) "trace_id"
    '12 02 74 31', //                 LabelPairAdapter.value (2, LEN) "t1"
  ]
    .join(' ')
    .split(' ')
    .map((h) => parseInt(h, 16)),
);
/** Snappy raw block: varint length 63, literal tag (60 << 2: one length byte follows) with length-1 = 62, the bytes. */
export const HANDMADE_SNAPPY = Buffer.concat([Buffer.from([0x3f, 0xf0, 0x3e]), HANDMADE_PROTO]);

export async function push(url: string, token: string | null, body: Buffer, headers: Record<string, string>) {
  const res = await fetch(`${url}/loki/api/v1/push`, {
    method: 'POST',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
