/**
 * Finding the copy of a copy-truncated file (logrotate `copytruncate`: `cp x.log x.log.1`,
 * then truncate `x.log` in place). Lines the agent had not read, or had read but not had
 * acknowledged, live on only in the copy: another file in the same directory, another inode,
 * the same fingerprint (first line), at least as long as the offset still to be read.
 *
 * Shared by the live tailer (truncation noticed while reading) and restart recovery
 * (truncation while the agent was down, or before its tail was acknowledged), so both
 * recognise the same copies. Reads only; never modifies the directory.
 */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FINGERPRINT_BYTES, readFingerprint } from './file-identity.ts';

export interface WantedCopy {
  /** Directory the original lives in (its real path's directory). */
  dir: string;
  /** The original's own path: never its own copy. */
  excludePath: string;
  /** The original's inode: a copy is another inode. */
  dev: string;
  ino: string;
  /** The original's fingerprint, which the copy must have. */
  fingerprint: string;
  /** The copy must hold at least this many bytes. */
  minSize: number;
}

export interface FoundCopy {
  path: string;
  /** Open for reading; the caller owns it and closes it. */
  fh: FileHandle;
  /** Size when found. */
  size: number;
}

/** The first copy in the directory that matches, opened; null when none does (or the directory is unreadable). */
export async function findCopy(want: WantedCopy): Promise<FoundCopy | null> {
  let names: string[];
  try {
    names = await readdir(want.dir);
  } catch {
    return null;
  }
  const scratch = Buffer.allocUnsafe(FINGERPRINT_BYTES);
  for (const name of names) {
    const p = join(want.dir, name);
    if (p === want.excludePath) continue;
    const st = await stat(p, { bigint: true }).catch(() => null);
    if (st === null || !st.isFile() || Number(st.size) < want.minSize) continue;
    if (String(st.ino) === want.ino && String(st.dev) === want.dev) continue;
    let fh: FileHandle | null = null;
    try {
      fh = await open(p, 'r');
      if ((await readFingerprint(fh, scratch)) !== want.fingerprint) continue;
      const found: FoundCopy = { path: p, fh, size: Number((await fh.stat()).size) };
      fh = null; // handed to the caller
      return found;
    } catch {
      // Unreadable candidate (vanished, permissions): try the next.
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }
  return null;
}
