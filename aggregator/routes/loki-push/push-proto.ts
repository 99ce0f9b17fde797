/**
 * Decodes a Loki `logproto.PushRequest` (the body Promtail, Grafana Alloy, Fluent Bit's
 * `loki` output and Vector's `loki` sink send, after snappy) into {@link PushStream}s.
 * Pure; one pass over the buffer; throws {@link PushBodyError} on anything that is not
 * well-formed protobuf of this shape.
 *
 * Why a hand-written reader and not protobufjs: the message is five small types, we read
 * it only (never write), and a reader of the wire format is ~100 lines with no schema
 * compilation, no generated code and no dependency; protobufjs would add a runtime and a
 * .proto file to keep in step for the same four fields. Unknown fields are skipped, as
 * protobuf requires, so newer Loki fields (`PushRequest.format`, `EntryAdapter.parsed`,
 * `StreamAdapter.hash`) never break decoding.
 *
 * Field numbers (Loki pkg/push/push.proto, package `logproto`):
 *
 *   PushRequest       { repeated StreamAdapter streams = 1; string format = 2; }
 *   StreamAdapter     { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
 *   EntryAdapter      { google.protobuf.Timestamp timestamp = 1; string line = 2;
 *                       repeated LabelPairAdapter structuredMetadata = 3; repeated LabelPairAdapter parsed = 4; }
 *   LabelPairAdapter  { string name = 1; string value = 2; }
 *   Timestamp         { int64 seconds = 1; int32 nanos = 2; }
 *
 * `labels` is a Prometheus label string (`{app="web", namespace="shop"}`), parsed later per
 * stream (label-string.ts) so that one bad stream does not spoil the others.
 */
import { PushBodyError, type PushEntry, type PushStream } from './push-body.ts';

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** A cursor over one message's bytes `[pos, end)` of `buf`. Not shared between calls. */
interface Reader {
  buf: Buffer;
  pos: number;
}

export function decodePushProto(buf: Buffer): PushStream[] {
  const streams: PushStream[] = [];
  const r: Reader = { buf, pos: 0 };
  const end = buf.length;
  while (r.pos < end) {
    const [field, wire] = readTag(r, end);
    if (field === 1 && wire === WIRE_LEN) {
      const len = readLength(r, end);
      streams.push(readStream(r, r.pos + len));
    } else skip(r, wire, end);
  }
  return streams;
}

function readStream(r: Reader, end: number): PushStream {
  let labels = '';
  const entries: PushEntry[] = [];
  while (r.pos < end) {
    const [field, wire] = readTag(r, end);
    if (field === 1 && wire === WIRE_LEN) labels = readString(r, end);
    else if (field === 2 && wire === WIRE_LEN) {
      const len = readLength(r, end);
      entries.push(readEntry(r, r.pos + len));
    } else skip(r, wire, end);
  }
  return { labels, entries };
}

function readEntry(r: Reader, end: number): PushEntry {
  let tsNs = 0n;
  let line = '';
  let metadata: Record<string, string> | undefined;
  while (r.pos < end) {
    const [field, wire] = readTag(r, end);
    if (field === 1 && wire === WIRE_LEN) {
      const len = readLength(r, end);
      tsNs = readTimestamp(r, r.pos + len);
    } else if (field === 2 && wire === WIRE_LEN) line = readString(r, end);
    else if (field === 3 && wire === WIRE_LEN) {
      const len = readLength(r, end);
      const [name, value] = readLabelPair(r, r.pos + len);
      (metadata ??= {})[name] = value;
    } else skip(r, wire, end);
  }
  return metadata ? { tsNs, line, metadata } : { tsNs, line };
}

function readTimestamp(r: Reader, end: number): bigint {
  let seconds = 0n;
  let nanos = 0n;
  while (r.pos < end) {
    const [field, wire] = readTag(r, end);
    if (field === 1 && wire === WIRE_VARINT) seconds = BigInt.asIntN(64, readVarint(r, end));
    else if (field === 2 && wire === WIRE_VARINT) nanos = BigInt.asIntN(32, readVarint(r, end));
    else skip(r, wire, end);
  }
  if (nanos < 0n || nanos > 999_999_999n) throw new PushBodyError(`timestamp nanos ${nanos} is out of range`);
  return seconds * 1_000_000_000n + nanos;
}

function readLabelPair(r: Reader, end: number): [string, string] {
  let name = '';
  let value = '';
  while (r.pos < end) {
    const [field, wire] = readTag(r, end);
    if (field === 1 && wire === WIRE_LEN) name = readString(r, end);
    else if (field === 2 && wire === WIRE_LEN) value = readString(r, end);
    else skip(r, wire, end);
  }
  return [name, value];
}

function readTag(r: Reader, end: number): [number, number] {
  const tag = readVarint(r, end);
  const field = Number(tag >> 3n);
  const wire = Number(tag & 7n);
  if (field === 0) throw new PushBodyError(`invalid protobuf field number 0 at byte ${r.pos}`);
  return [field, wire];
}

/** A base-128 varint of at most 10 bytes, as an unsigned 64-bit bigint. */
function readVarint(r: Reader, end: number): bigint {
  const { buf } = r;
  // Fast path: the common one-byte varint (tags, short lengths).
  if (r.pos < end && buf[r.pos]! < 0x80) return BigInt(buf[r.pos++]!);
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (r.pos >= end) throw new PushBodyError('truncated protobuf varint');
    const b = buf[r.pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return BigInt.asUintN(64, result);
    shift += 7n;
  }
  throw new PushBodyError('protobuf varint longer than 10 bytes');
}

/** A length prefix, checked against what is left of the enclosing message. */
function readLength(r: Reader, end: number): number {
  const len = readVarint(r, end);
  if (len > BigInt(end - r.pos)) throw new PushBodyError(`protobuf length ${len} runs past the end of its message`);
  return Number(len);
}

function readString(r: Reader, end: number): string {
  const len = readLength(r, end);
  const s = r.buf.toString('utf8', r.pos, r.pos + len);
  r.pos += len;
  return s;
}

function skip(r: Reader, wire: number, end: number): void {
  switch (wire) {
    case WIRE_VARINT:
      readVarint(r, end);
      return;
    case WIRE_I64:
      advance(r, 8, end);
      return;
    case WIRE_LEN:
      advance(r, readLength(r, end), end);
      return;
    case WIRE_I32:
      advance(r, 4, end);
      return;
    default:
      throw new PushBodyError(`unsupported protobuf wire type ${wire}`);
  }
}

function advance(r: Reader, n: number, end: number): void {
  if (r.pos + n > end) throw new PushBodyError('truncated protobuf field');
  r.pos += n;
}
