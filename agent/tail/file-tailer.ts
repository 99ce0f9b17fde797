/**
 * One tailer per open file identity: reads the file from its start offset to the end and
 * keeps following it. Owns the file handle, the read position, and the detection of
 * rotation (path now names another inode, or nothing), copy-truncation (size below the read
 * position, or a changed fingerprint after growth) and the end of a rotated-away file
 * (read to EOF, then quiet for `rotateWaitMs`).
 *
 * When the next stage is busy: before every read the tailer asks the ByteBudget for room and
 * waits while the queue is full, and a read that completes after the queue filled is not
 * handed on (it is read again later). Nothing is read that cannot be held.
 *
 * Every read is checked before it is handed on: the file must still start with the first
 * line it had. A tailer paused behind a full queue (an outage) does not see a copytruncate
 * happen; without the check its next read would take the new content at the old position
 * for the rest of the old one (the old rest lost, the new lines stored under the old ids).
 *
 * Concurrency: each tailer is one async loop; `push` into the pipeline is synchronous so a
 * chunk is processed atomically with respect to other tailers and timers. `notify()` may be
 * called any time (file-system events) to cut an idle wait short.
 */
import { realpath, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ByteBudget } from '../batch/byte-budget.ts';
import type { AgentEvents } from '../telemetry/events.ts';
import type { FileConsumer, StartPoint, TailHost } from './file-consumer.ts';
import { FINGERPRINT_BYTES, fingerprintLength, fingerprintOf } from './file-identity.ts';
import { findCopy } from './find-copy.ts';

export interface TailerOptions {
  readBufferBytes: number;
  pollIntervalMs: number;
  rotateWaitMs: number;
}

export interface TailerDeps {
  host: TailHost;
  budget: ByteBudget;
  events: AgentEvents;
  now: () => number;
  /** Shared read buffers: a tailer holds one only for the duration of a read + push. */
  readBuffers: ReadBufferPool;
}

/**
 * Read buffers shared by all tailers. A buffer is held only across one read and the
 * synchronous push of its bytes, so memory follows the number of reads in flight, not the
 * number of files.
 */
export class ReadBufferPool {
  private readonly free: Buffer[] = [];
  private readonly size: number;
  private readonly keep: number;
  constructor(size: number, keep: number) {
    this.size = size;
    this.keep = keep;
  }
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size);
  }
  give(buf: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buf);
  }
}

/**
 * Reading a copy under the identity of the file it was copied from (restart recovery after
 * copytruncate): the records keep the ids, generation and replay journal they had before.
 */
export interface CopyOf {
  /** The original's inode (the identity of every record read). */
  dev: string;
  ino: string;
  /** Where to start: the original's checkpoint. */
  start: StartPoint;
}

export class FileTailer {
  readonly path: string;
  /** The identity the records are read under: the open file's inode unless reading a copy ({@link CopyOf}). */
  readonly dev: string;
  readonly ino: string;
  /** The inode actually open. */
  readonly fileDev: string;
  readonly fileIno: string;
  /** Set when reading a copy under its original's identity. */
  private readonly copyOf: CopyOf | undefined;
  private readonly fh: FileHandle;
  private readonly opts: TailerOptions;
  private readonly deps: TailerDeps;
  private readonly scratch = Buffer.allocUnsafe(FINGERPRINT_BYTES);
  private consumer: FileConsumer | null = null;
  private fingerprint = '';
  /** The bytes the fingerprint covers (the first line): what every read checks is still there. */
  private firstLine: Buffer = Buffer.alloc(0);
  /** Content generation of the current identity (shared/ids.ts). */
  private generation = 0;
  /** Latest generation of each fingerprint this inode had (truncations while tailing). */
  private readonly generations = new Map<string, number>();
  private realPath = '';
  private pos = 0;
  /** Last size seen by fstat (for bytes-behind). */
  size = 0;
  private stopped = false;
  /** Finished for good (e.g. truncated away while draining). */
  private finished = false;
  /** Rotated away or deleted: read to the end, then finish. */
  private draining = false;
  private lastGrowthMs = 0;
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  readonly done: Promise<void>;

  constructor(
    path: string,
    fh: FileHandle,
    dev: string,
    ino: string,
    size: number,
    opts: TailerOptions,
    deps: TailerDeps,
    copyOf?: CopyOf,
  ) {
    this.path = path;
    this.fh = fh;
    this.fileDev = dev;
    this.fileIno = ino;
    this.copyOf = copyOf;
    this.dev = copyOf?.dev ?? dev;
    this.ino = copyOf?.ino ?? ino;
    this.size = size;
    this.opts = opts;
    this.deps = deps;
    this.lastGrowthMs = deps.now();
    this.done = this.run();
  }

  get isDraining(): boolean {
    return this.draining;
  }

  get readPosition(): number {
    return this.pos;
  }

  get ackedOffset(): number {
    return this.consumer?.ackedOffset ?? this.pos;
  }

  /** Cut an idle wait short (file-system event). */
  notify(): void {
    const w = this.wake;
    if (w !== null) w();
  }

  /** The path now names another file (or none): finish this one after reading it out. */
  rotatedAway(kind: 'rename' | 'gone' = 'rename'): void {
    if (!this.draining) {
      this.markDraining(kind);
      this.notify();
    }
  }

  private markDraining(kind: 'rename' | 'gone'): void {
    this.draining = true;
    this.lastGrowthMs = this.deps.now();
    if (kind === 'rename') this.deps.events.rotated(this.path, 'rename', this.pos);
  }

  /** Stop reading now (shutdown). Pending partial lines are not flushed: they are re-read after restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.notify();
    await this.done;
  }

  private async run(): Promise<void> {
    let why = 'eof';
    try {
      if (!(await this.identify(null))) {
        why = this.stopped ? 'stopped' : 'gone-before-first-line';
        return;
      }
      const pool = this.deps.readBuffers;
      while (!this.stopped && !this.finished) {
        const wait = this.deps.budget.room();
        if (wait !== null) {
          await wait;
          continue;
        }
        const buf = pool.take();
        const budget = this.deps.budget;
        const reservation = budget.reserveRead(buf.length);
        let bytesRead = 0;
        let queued = 0;
        let replaced = false;
        try {
          bytesRead = (await this.fh.read(buf, 0, reservation.bytes, this.pos)).bytesRead;
          if (this.stopped) break;
          // Reads of many files complete together: one that lands after another filled the
          // budget is dropped (the position does not move; it is read again on resume).
          if (bytesRead > 0 && budget.isFull) {
            bytesRead = 0;
            continue;
          }
          // Truncated (and written again) before this read: the bytes are not ours.
          if (bytesRead > 0 && !(await this.holdsFirstLine())) {
            bytesRead = 0;
            replaced = true;
          }
          if (bytesRead > 0) {
            const before = budget.bytes;
            this.consumer!.push(buf.subarray(0, bytesRead), this.pos);
            queued = budget.bytes - before;
          }
        } finally {
          budget.readDone(reservation, bytesRead, queued);
          pool.give(buf);
        }
        if (replaced) {
          await this.truncated();
          continue;
        }
        if (bytesRead > 0) {
          this.pos += bytesRead;
          if (this.pos > this.size) this.size = this.pos;
          this.lastGrowthMs = this.deps.now();
          continue;
        }
        if (await this.atEof()) break;
        await this.idle();
      }
      why = this.stopped ? 'stopped' : this.draining ? 'drained' : 'eof';
    } catch (err) {
      why = 'error';
      this.deps.events.fileError(this.path, 'file_unreadable', err);
    } finally {
      // Rotated away (renamed: the file still has a name) or deleted while we had it open
      // (no name left): the latter is logged and counted.
      const renamed = why === 'drained' && (await this.linkCount()) > 0;
      await this.fh.close().catch(() => undefined);
      if (this.consumer !== null) {
        if (!this.stopped) {
          const reason: 'rotated' | 'deleted' = renamed ? 'rotated' : 'deleted';
          if (reason === 'deleted') this.deps.events.fileError(this.path, 'file_deleted');
          this.consumer.end(reason);
        }
        this.deps.events.fileClosed(this.path, this.consumer.key, this.pos, why);
      }
    }
  }

  /**
   * Waits for the fingerprint (first line complete) and opens the consumer. `truncated`
   * forces offset 0. Returns false if stopped or finished before the file got a first line.
   */
  private async identify(truncated: 'truncated' | null): Promise<boolean> {
    for (;;) {
      if (this.stopped) return false;
      const { bytesRead: head } = await this.fh.read(this.scratch, 0, FINGERPRINT_BYTES, 0);
      const fp = fingerprintOf(this.scratch, head);
      if (fp !== null) {
        this.fingerprint = fp;
        this.firstLine = Buffer.from(this.scratch.subarray(0, fingerprintLength(this.scratch, head)));
        const st = await this.fh.stat();
        this.size = st.size;
        let start: StartPoint;
        // A shrink seen while tailing: the bytes from 0 are new content. With a first line
        // seen before in this inode (same fingerprint) they must not reuse the ids of that
        // earlier generation: `create` would drop them as duplicates.
        if (truncated !== null) {
          const seen = this.generations.get(fp);
          start = { offset: 0, why: truncated, generation: seen === undefined ? 0 : seen + 1 };
        } else if (this.copyOf !== undefined) start = this.copyOf.start;
        else start = this.deps.host.startFor(this.path, this.dev, this.ino, fp, st.size);
        this.generation = start.generation ?? 0;
        this.generations.set(fp, this.generation);
        this.pos = start.offset;
        const real = await realpath(this.path).catch(() => this.path);
        this.realPath = real;
        this.consumer = this.deps.host.openConsumer({
          path: this.path,
          realPath: real,
          dev: this.dev,
          ino: this.ino,
          fingerprint: fp,
          startOffset: start.offset,
          why: start.why,
          generation: this.generation,
          ...(start.replay !== undefined ? { replay: start.replay } : {}),
        });
        this.deps.events.fileOpened(this.path, this.consumer.key, start.offset, start.why);
        return true;
      }
      // No complete first line yet. A rotated-away or deleted empty file is simply done.
      if (this.draining && this.deps.now() - this.lastGrowthMs >= this.opts.rotateWaitMs) return false;
      if (!this.draining) await this.checkPath();
      await this.idle();
    }
  }

  /** At end of data. Returns true when this tailer is finished. */
  private async atEof(): Promise<boolean> {
    const st = await this.fh.stat();
    this.size = st.size;
    if (st.size < this.pos) {
      await this.truncated();
      return this.stopped || this.finished;
    }
    if (st.size > this.pos) {
      // Grew while we looked: make sure it is still the same content (copy-truncate and
      // regrow past our position between two reads).
      if (!(await this.holdsFirstLine())) {
        await this.truncated();
        return this.stopped || this.finished;
      }
      return false;
    }
    if (this.draining) return this.deps.now() - this.lastGrowthMs >= this.opts.rotateWaitMs;
    await this.checkPath();
    return false;
  }

  private async truncated(): Promise<void> {
    const old = this.consumer!;
    this.deps.events.rotated(this.path, 'truncate', this.pos);
    if (this.copyOf !== undefined) {
      // A copy being read under its original's identity was itself truncated: what it holds
      // now is no part of that identity, and the copy is no tailed file of its own.
      old.end('truncated');
      this.deps.events.fileClosed(this.path, old.key, this.pos, 'truncated');
      this.consumer = null;
      this.finished = true;
      return;
    }
    await this.readCopiedTail(old);
    old.end('truncated');
    this.deps.events.fileClosed(this.path, old.key, this.pos, 'truncated');
    this.consumer = null;
    this.pos = 0;
    if (!(await this.identify('truncated'))) this.finished = true;
  }

  /**
   * copytruncate copies the file, then truncates it: lines written after our last read are
   * only in the copy. Find the copy next to the file (same fingerprint, at least as long as
   * our position, another inode) and read the missing tail from it into the old identity, so
   * its records keep their ids. Best effort: without a copy, those lines are gone (counted by
   * the rotation metric; logged).
   */
  private async readCopiedTail(old: FileConsumer): Promise<void> {
    const copy = await findCopy({
      dir: dirname(this.realPath || this.path),
      excludePath: this.realPath,
      dev: this.fileDev,
      ino: this.fileIno,
      fingerprint: this.fingerprint,
      minSize: this.pos,
    });
    if (copy === null) return;
    const buf = this.deps.readBuffers.take();
    try {
      let pos = this.pos;
      while (pos < copy.size) {
        // A copy can hold a backlog of megabytes: it waits on the budget like any read.
        const wait = this.deps.budget.room();
        if (wait !== null) await wait;
        if (this.stopped) break;
        if (this.deps.budget.isFull) continue;
        const reservation = this.deps.budget.reserveRead(buf.length);
        let bytesRead = 0;
        let queued = 0;
        try {
          bytesRead = (await copy.fh.read(buf, 0, Math.min(reservation.bytes, copy.size - pos), pos)).bytesRead;
          const before = this.deps.budget.bytes;
          if (bytesRead > 0) old.push(buf.subarray(0, bytesRead), pos);
          queued = this.deps.budget.bytes - before;
        } finally {
          this.deps.budget.readDone(reservation, bytesRead, queued);
        }
        if (bytesRead === 0) break;
        pos += bytesRead;
      }
      if (pos > this.pos) {
        this.deps.events.log.info(
          { path: this.path, copy: copy.path, from: this.pos, to: pos },
          'read the tail of a copy-truncated file from its copy',
        );
      }
      this.pos = pos;
    } catch {
      // Unreadable copy: best effort, as without one.
    } finally {
      this.deps.readBuffers.give(buf);
      await copy.fh.close().catch(() => undefined);
    }
  }

  /** Does the file still start with the first line it was identified by? */
  private async holdsFirstLine(): Promise<boolean> {
    const want = this.firstLine;
    const { bytesRead } = await this.fh.read(this.scratch, 0, want.length, 0);
    return bytesRead === want.length && this.scratch.subarray(0, bytesRead).equals(want);
  }

  /** Does the path still name this file? */
  private async checkPath(): Promise<void> {
    let same = false;
    let exists = false;
    try {
      const st = await stat(this.path, { bigint: true });
      exists = true;
      same = String(st.ino) === this.fileIno && String(st.dev) === this.fileDev;
    } catch {
      // Gone: not the same file (same stays false).
    }
    if (!same && !this.draining) {
      // An empty path is a rename too while the file keeps a name elsewhere: a runtime
      // recreates the path only some time after the rename (kubelet: rename, then reopen).
      const renamed = exists || (await this.linkCount()) > 0;
      if (this.draining) return;
      this.markDraining(renamed ? 'rename' : 'gone');
      this.deps.host.pathChanged(this.path);
    }
  }

  /** Names the open file still has (0 once deleted; unknown counts as deleted). */
  private async linkCount(): Promise<number> {
    return this.fh.stat().then(
      (st) => st.nlink,
      () => 0,
    );
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        if (this.timer !== null) clearTimeout(this.timer);
        this.timer = null;
        this.wake = null;
        resolve();
      };
      this.wake = done;
      this.timer = setTimeout(done, this.opts.pollIntervalMs);
    });
  }
}
