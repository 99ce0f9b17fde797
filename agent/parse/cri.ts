/**
 * CRI log line parser (pure). Owns the byte-level grammar of one physical line written by a
 * CRI runtime (containerd, CRI-O):
 *
 *     <RFC3339Nano timestamp> SP <stdout|stderr> SP <tag> SP <message>
 *
 * `tag` is `F` (full: the line ends here) or `P` (partial: the runtime split a long line and
 * more pieces follow on the same stream); future runtimes may append `:`-separated flags after
 * the first letter, which are ignored. The message may be empty (`... stdout F` with or
 * without the trailing space).
 *
 * Concurrency: stateless; results go into a caller-owned scratch object so the hot path
 * allocates nothing. Never throws: a line that does not match returns false and the caller
 * keeps it as a raw message.
 */

export interface CriFields {
  /** Byte range of the timestamp in the buffer. */
  tsStart: number;
  tsEnd: number;
  /** 1 = stdout, 2 = stderr. */
  stream: 1 | 2;
  /** True for a `P` (partial) piece. */
  partial: boolean;
  /** Byte range of the message (may be empty). */
  msgStart: number;
  msgEnd: number;
}

export function newCriFields(): CriFields {
  return { tsStart: 0, tsEnd: 0, stream: 1, partial: false, msgStart: 0, msgEnd: 0 };
}

const SP = 0x20;

/** Bytes allowed in an RFC 3339 timestamp: digits - : . + T Z t z. */
export const TS_CHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (const ch of '-:.+TZtz') t[ch.charCodeAt(0)] = 1;
  return t;
})();

/**
 * Parses `buf[start, end)` (no trailing newline) into `out`. Returns false when the bytes are
 * not a CRI line; `out` is then unspecified.
 */
export function parseCriLine(buf: Buffer, start: number, end: number, out: CriFields): boolean {
  // Timestamp: at least "YYYY-MM-DDTHH:MM:SSZ" (20 bytes), digits at fixed places.
  // Only RFC 3339 characters, so the timestamp can be written to JSON without escaping.
  let i = start;
  while (i < end) {
    const c = buf[i]!;
    if (c === SP) break;
    if (!TS_CHAR[c]) return false;
    i++;
  }
  const tsEnd = i;
  if (tsEnd - start < 20 || tsEnd === end) return false;
  if (buf[start + 4] !== 0x2d || buf[start + 7] !== 0x2d || buf[start + 10] !== 0x54) return false;
  const d0 = buf[start]! - 0x30;
  if (d0 < 0 || d0 > 9) return false;
  // Stream.
  i = tsEnd + 1;
  if (end - i < 7 || buf[i + 6] !== SP) return false;
  if (buf[i] !== 0x73 || buf[i + 1] !== 0x74 || buf[i + 2] !== 0x64) return false; // "std"
  let stream: 1 | 2;
  if (buf[i + 3] === 0x6f && buf[i + 4] === 0x75 && buf[i + 5] === 0x74)
    stream = 1; // "out"
  else if (buf[i + 3] === 0x65 && buf[i + 4] === 0x72 && buf[i + 5] === 0x72)
    stream = 2; // "err"
  else return false;
  // Tag: first letter decides; anything up to the next space is tag flags.
  i += 7;
  if (i >= end) return false;
  const tag = buf[i];
  let partial: boolean;
  if (tag === 0x46)
    partial = false; // F
  else if (tag === 0x50)
    partial = true; // P
  else return false;
  i++;
  while (i < end && buf[i] !== SP) i++;
  out.tsStart = start;
  out.tsEnd = tsEnd;
  out.stream = stream;
  out.partial = partial;
  out.msgStart = i < end ? i + 1 : end;
  out.msgEnd = end;
  return true;
}
