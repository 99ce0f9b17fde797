/**
 * Deterministic record ids (DESIGN.md §3). A resend of the same line yields the same id, so
 * the aggregator's `op_type: create` turns resends into harmless 409s.
 *
 * File lines: a 16-hex-digit digest of (cluster, node, file identity), computed once per
 * file, plus the byte offset of the line's first byte in base 36. Offsets are unique
 * within one file identity, so ids are unique; the per-line cost is one number formatting.
 *
 * API-collected lines (collect jobs): digest of (cluster, pod uid, container, container id,
 * nanosecond timestamp, position among the lines of that timestamp); see collectedRecordId.
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

/**
 * A line collected through the Kubernetes API (`pods/log`, collect jobs): digest of
 * (cluster, pod uid, container, container id, the line's nanosecond timestamp, its
 * position among the lines with that timestamp). A re-run, a resume on another replica or
 * a reconnect that replays the line yields the same id; the container id keeps the
 * lines of a restarted container apart from those of its previous instance.
 */
export function collectedRecordId(
  cluster: string,
  podUid: string,
  container: string,
  containerId: string,
  timestamp: string,
  position: number,
): string {
  return (
    'k' +
    createHash('sha256')
      .update(`${cluster}\0${podUid}\0${container}\0${containerId}\0${timestamp}\0${position}`)
      .digest('hex')
      .slice(0, 31)
  );
}
