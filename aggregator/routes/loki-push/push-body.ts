/**
 * The decoded Loki push body, shared by the JSON and protobuf decoders, and the JSON
 * decoder itself. Pure. A body that cannot be read as a whole throws
 * {@link PushBodyError} (answered 400, nothing stored, as Loki does); what is wrong with
 * one stream or entry only is judged later (push-records.ts).
 *
 * JSON (Loki `POST /loki/api/v1/push`, `Content-Type: application/json`):
 *
 *   {"streams":[{"stream":{"app":"web"},"values":[["<ns since epoch, string>","line"],
 *                                                  ["<ns>","line",{"trace_id":"…"}]]}]}
 *
 * As in Loki the timestamp is a decimal string of nanoseconds (a JSON number would lose
 * precision past 2^53, so it is refused), label and metadata values are strings, and
 * unknown members are ignored.
 */

export class PushBodyError extends Error {
  override readonly name = 'PushBodyError';
}

export interface PushEntry {
  /** Nanoseconds since the epoch. */
  tsNs: bigint;
  line: string;
  /** Loki 3 structured metadata of this entry. */
  metadata?: Record<string, string>;
}

export interface PushStream {
  /** A Prometheus label string (protobuf) or the label object (JSON). */
  labels: string | Record<string, string>;
  entries: PushEntry[];
}

const NANOS = /^[+-]?\d{1,19}$/;
const INT64_MAX = 9_223_372_036_854_775_807n;

export function decodePushJson(text: string): PushStream[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new PushBodyError('body is not valid JSON');
  }
  if (!isObject(body)) throw new PushBodyError('body must be a JSON object with "streams"');
  const streams = body['streams'];
  if (!Array.isArray(streams)) throw new PushBodyError('"streams" must be an array');
  const out: PushStream[] = [];
  for (let s = 0; s < streams.length; s++) {
    const stream: unknown = streams[s];
    if (!isObject(stream)) throw new PushBodyError(`streams[${s}] must be an object`);
    const labels = stringMap(stream['stream'] ?? {}, `streams[${s}].stream`);
    const values = stream['values'] ?? [];
    if (!Array.isArray(values)) throw new PushBodyError(`streams[${s}].values must be an array`);
    const entries: PushEntry[] = new Array(values.length);
    for (let v = 0; v < values.length; v++) {
      const where = `streams[${s}].values[${v}]`;
      const value: unknown = values[v];
      if (!Array.isArray(value) || value.length < 2 || value.length > 3) {
        throw new PushBodyError(`${where} must be [timestamp, line] or [timestamp, line, metadata]`);
      }
      const [ts, line, meta] = value as unknown[];
      if (typeof ts !== 'string' || !NANOS.test(ts)) {
        throw new PushBodyError(`${where}: timestamp must be a string of nanoseconds since the epoch`);
      }
      const tsNs = BigInt(ts);
      if (tsNs > INT64_MAX || tsNs < -INT64_MAX - 1n) throw new PushBodyError(`${where}: timestamp is out of range`);
      if (typeof line !== 'string') throw new PushBodyError(`${where}: line must be a string`);
      entries[v] = meta === undefined ? { tsNs, line } : { tsNs, line, metadata: stringMap(meta, `${where}[2]`) };
    }
    out.push({ labels, entries });
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function stringMap(v: unknown, where: string): Record<string, string> {
  if (!isObject(v)) throw new PushBodyError(`${where} must be an object of strings`);
  for (const k in v) {
    if (typeof v[k] !== 'string') throw new PushBodyError(`${where}.${k} must be a string`);
  }
  return v as Record<string, string>;
}
