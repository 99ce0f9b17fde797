/**
 * Deterministic record ids (DESIGN.md §3). A resend of the same line yields the same id, so
 * the aggregator's `op_type: create` turns resends into harmless 409s.
 *
 * File lines: a 16-hex-digit digest of (cluster, node, file identity), computed once per
 * file, plus the byte offset of the line's first byte in base 36. Offsets are unique
 * within one file identity, so ids are unique; the per-line cost is one number formatting.
 *
 * API-collected lines (collect jobs): digest of (cluster, pod uid, container, timestamp,
 * line) with an occurrence counter for identical lines at the same timestamp.
 */
import { createHash } from 'node:crypto';

export interface FileIdentity {
  /** Device number of the file system holding the file. */
  dev: number | bigint;
  /** Inode number. */
  ino: number | bigint;
  /** Hex digest of the file's first bytes; tells inode reuse apart. */
  fingerprint: string;
  /**
   * Content generation of the same inode + fingerprint: bumped when the file was truncated
   * and written again (a checkpoint past its end, or a shrink seen while tailing) so that the
   * new bytes never reuse the ids of the old ones (with `create`, they would be dropped as
   * duplicates). 0 (absent) for the first generation, which keeps the ids of files whose
   * checkpoints predate generations.
   */
  generation?: number;
}

export function fileKey(cluster: string, node: string, file: FileIdentity): string {
  return createHash('sha256')
    .update(
      `${cluster}\0${node}\0${file.dev}\0${file.ino}\0${file.fingerprint}` +
        (file.generation !== undefined && file.generation > 0 ? `\0g${file.generation}` : ''),
    )
    .digest('hex')
    .slice(0, 16);
}

export function fileRecordId(fileKeyHex: string, offset: number): string {
  return `${fileKeyHex}-${offset.toString(36)}`;
}

export function apiRecordId(
  cluster: string,
  podUid: string,
  container: string,
  timestamp: string,
  line: string,
  occurrence: number,
): string {
  return (
    'k' +
    createHash('sha256')
      .update(`${cluster}\0${podUid}\0${container}\0${timestamp}\0${occurrence}\0${line}`)
      .digest('hex')
      .slice(0, 31)
  );
}
