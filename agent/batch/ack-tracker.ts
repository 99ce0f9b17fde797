/**
 * Ordered acknowledgement → committed offsets (pure). Owns the invariant that a file offset
 * is committed only when every record that starts before it has been acknowledged.
 *
 * At every batch seal the batcher takes a {@link AckEntry} holding, for each file touched
 * since the previous seal, its {@link TrackedFile.floor}. Every record starting before that
 * floor is in this batch or an earlier one (or was filtered out). Batches are sent
 * concurrently and settle in any order; entries are applied strictly in seal order, so a
 * floor is committed only when this and all earlier batches are settled.
 *
 * Concurrency: single-threaded JS; `settle` may be called from any async completion.
 */
import type { TrackedFile } from '../checkpoint/tracked-file.ts';

export interface AckEntry {
  readonly seq: number;
  readonly files: readonly TrackedFile[];
  readonly offsets: readonly number[];
  settled: boolean;
}

export class AckTracker {
  private readonly dirty: TrackedFile[] = [];
  private readonly queue: AckEntry[] = [];
  private seq = 0;
  private readonly onCommit: (file: TrackedFile, offset: number) => void;

  constructor(onCommit: (file: TrackedFile, offset: number) => void) {
    this.onCommit = onCommit;
  }

  /** The file's floor may have moved; include it in the next snapshot. */
  touch(file: TrackedFile): void {
    if (!file.dirty) {
      file.dirty = true;
      this.dirty.push(file);
    }
  }

  get hasDirty(): boolean {
    return this.dirty.length > 0;
  }

  /** Entries not yet applied (settled or not). */
  get outstanding(): number {
    return this.queue.length;
  }

  /** Snapshot of the dirty files' floors, queued in seal order. */
  snapshot(): AckEntry {
    const files = this.dirty.splice(0);
    const offsets = new Array<number>(files.length);
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      f.dirty = false;
      offsets[i] = f.floor();
    }
    const entry: AckEntry = { seq: ++this.seq, files, offsets, settled: false };
    this.queue.push(entry);
    return entry;
  }

  /** Marks `entry` settled and commits every settled entry at the head of the queue. */
  settle(entry: AckEntry): void {
    entry.settled = true;
    while (this.queue.length > 0 && this.queue[0]!.settled) {
      const e = this.queue.shift()!;
      for (let i = 0; i < e.files.length; i++) {
        const f = e.files[i]!;
        const off = e.offsets[i]!;
        if (off > f.ackedOffset) {
          f.ackedOffset = off;
          this.onCommit(f, off);
        }
      }
    }
  }
}
