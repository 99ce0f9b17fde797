/**
 * File identity (DESIGN.md §3): device + inode + a fingerprint of the first bytes, so a
 * reused inode (delete, then create) or a copy-truncated file reads as a new file.
 *
 * The fingerprint covers the first line (up to and including its newline) capped at
 * {@link FINGERPRINT_BYTES}. Files are append-only, so that prefix never changes once it
 * exists; before it exists (empty file, first line unfinished) the file has no complete
 * line to emit and therefore needs no identity yet.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

export const FINGERPRINT_BYTES = 256;

/**
 * How many of the bytes `buf[0, n)` read from offset 0 the fingerprint covers (the first
 * line with its newline, at most {@link FINGERPRINT_BYTES}), or 0 when not determined yet.
 */
export function fingerprintLength(buf: Buffer, n: number): number {
  if (n <= 0) return 0;
  const nl = buf.subarray(0, Math.min(n, FINGERPRINT_BYTES)).indexOf(0x0a);
  if (nl >= 0) return nl + 1;
  return n >= FINGERPRINT_BYTES ? FINGERPRINT_BYTES : 0;
}

/** The fingerprint of `buf[0, n)` as read from offset 0, or null when not determined yet. */
export function fingerprintOf(buf: Buffer, n: number): string | null {
  const len = fingerprintLength(buf, n);
  if (len === 0) return null;
  return createHash('sha256').update(buf.subarray(0, len)).digest('hex').slice(0, 32);
}

export async function readFingerprint(fh: FileHandle, scratch: Buffer): Promise<string | null> {
  const { bytesRead } = await fh.read(scratch, 0, FINGERPRINT_BYTES, 0);
  return fingerprintOf(scratch, bytesRead);
}
