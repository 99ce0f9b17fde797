/**
 * Docker json-file line parser (pure): `{"log":"…\n","stream":"stdout","time":"…"}`.
 * A `log` without a trailing newline is a partial piece (dockerd splits lines at 16 KiB);
 * the pieces are joined by the caller until one ends with a newline.
 *
 * Concurrency: stateless. Never throws; returns null for anything that is not a docker line.
 * Uses JSON.parse because the `log` value is an arbitrary escaped string; docker json-file is
 * the legacy path (CRI is the hot one).
 */

/** The timestamp goes to JSON unescaped, so only RFC 3339 characters are accepted. */
const RFC3339_CHARS = /^[0-9][0-9TZtz:.+-]{9,39}$/;

export interface DockerFields {
  timestamp: string;
  stream: 1 | 2;
  partial: boolean;
  /** The message without the trailing newline. */
  message: string;
}

export function parseDockerJsonLine(buf: Buffer, start: number, end: number): DockerFields | null {
  if (end - start < 2 || buf[start] !== 0x7b) return null;
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8', start, end));
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  const v = value as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof v.log !== 'string' || typeof v.time !== 'string' || !RFC3339_CHARS.test(v.time)) {
    return null;
  }
  let stream: 1 | 2;
  if (v.stream === 'stdout') stream = 1;
  else if (v.stream === 'stderr') stream = 2;
  else return null;
  const log = v.log;
  const partial = !log.endsWith('\n');
  return {
    timestamp: v.time,
    stream,
    partial,
    message: partial ? log : log.slice(0, -1),
  };
}
