/**
 * The interface between the tail stage and the rest of the pipeline: what a tailer feeds.
 * Declared here, by its user; implemented by agent/pipeline.ts.
 */
import type { InflightPlan } from '../checkpoint/replay-journal.ts';

export interface OpenedFile {
  path: string;
  /** The path with symlinks resolved (where a rotated file will be found after a restart). */
  realPath: string;
  dev: string;
  ino: string;
  fingerprint: string;
  /** Offset reading starts at (checkpoint, policy, or 0). */
  startOffset: number;
  /** Why reading starts there: `checkpoint`, `new`, `policy-end`, `truncated`, `regenerated`. */
  why: string;
  /** Content generation of this inode + fingerprint (shared/ids.ts); absent = 0. */
  generation?: number;
  /** The replay journal saved with the checkpoint (agent/checkpoint/replay-journal.ts). */
  replay?: InflightPlan;
}

export type EndReason = 'rotated' | 'truncated' | 'deleted';

export interface FileConsumer {
  readonly key: string;
  /**
   * Bytes of the file starting at `offset`. Synchronous; must not keep a reference to
   * `chunk` (the tailer reuses the buffer).
   */
  push(chunk: Buffer, offset: number): void;
  /** No more bytes will come from this file identity: emit what is pending. */
  end(why: EndReason): void;
  /** Offset such that every record before it is acknowledged. */
  readonly ackedOffset: number;
}

export interface StartPoint {
  offset: number;
  why: string;
  generation?: number;
  replay?: InflightPlan;
}

export interface TailHost {
  /** Where to start a newly opened file identity. */
  startFor(path: string, dev: string, ino: string, fingerprint: string, size: number): StartPoint;
  openConsumer(file: OpenedFile): FileConsumer;
  /** The tailer found its path pointing elsewhere or gone. */
  pathChanged(path: string): void;
}
