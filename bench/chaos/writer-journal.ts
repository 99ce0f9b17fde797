/**
 * What the writer process records, for the verifier: how many lines it wrote, when, and
 * every rotation with its boundaries. Written once as JSON when the writer stops.
 */

export interface WriterSettings {
  dir: string;
  files: number;
  /** Lines per second over all files. */
  rate: number;
  /** Writing time, ms. */
  writeMs: number;
  /** One rotation every this many ms, files in turn, kinds alternating. 0 = none. */
  rotateEveryMs: number;
  journalPath: string;
}

export interface RenameRotation {
  kind: 'rename';
  file: number;
  atMs: number;
  /** Where the old generation went. */
  rotatedPath: string;
  /** First seq written to the new generation. */
  nextSeq: number;
}

/**
 * logrotate's copytruncate: copy the file, then truncate it in place while the program
 * keeps appending. Lines of this file with `windowStartSeq <= seq < windowEndSeq` were
 * written between the start of the copy and the end of the truncation; those not in the
 * copy were truncated away before anyone could read them (unless a reader was already
 * there): the loss logrotate documents for copytruncate.
 */
export interface CopyTruncateRotation {
  kind: 'copytruncate';
  file: number;
  atMs: number;
  copyPath: string;
  windowStartSeq: number;
  windowEndSeq: number;
  /** How long the copy + truncate took, ms. */
  windowMs: number;
}

export type Rotation = RenameRotation | CopyTruncateRotation;

export interface WriterJournal {
  settings: WriterSettings;
  /** Lines written: seqs 0 … written-1. */
  written: number;
  startedAtMs: number;
  endedAtMs: number;
  rotations: Rotation[];
  /** (seq, wall ms) every ~100 ms: when a line was written, by interpolation. */
  progress: Array<[number, number]>;
}

/** Wall time at which `seq` was written (nearest progress sample at or after it). */
export function writtenAtMs(journal: WriterJournal, seq: number): number {
  const p = journal.progress;
  let lo = 0;
  let hi = p.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (p[mid]![0] > seq) hi = mid;
    else lo = mid + 1;
  }
  return p[lo]?.[1] ?? journal.endedAtMs;
}
