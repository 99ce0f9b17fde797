/**
 * The set of tailers: at most one current tailer per path plus any rotated-away files still
 * being drained. Owns the decision to open a file (a path now names an inode we do not
 * tail yet), the rule that one inode is never tailed twice (a rotated file that also
 * matches the glob is not re-read), and retrying unreadable files at rescans.
 *
 * Concurrency: `ensure` is serialised per path; events, rescans and tailers may call it
 * concurrently. When the next stage is busy the tailers themselves wait (ByteBudget).
 */
import { open, stat } from 'node:fs/promises';
import type { AgentEvents } from '../telemetry/events.ts';
import { FileTailer, type CopyOf, type TailerDeps, type TailerOptions } from './file-tailer.ts';

export class TailManager {
  private readonly current = new Map<string, FileTailer>();
  private readonly byInode = new Map<string, FileTailer>();
  private readonly all = new Set<FileTailer>();
  private readonly inProgress = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly unreadable = new Set<string>();
  private readonly opts: TailerOptions;
  private readonly deps: TailerDeps;
  private readonly events: AgentEvents;
  private stopped = false;

  constructor(opts: TailerOptions, deps: TailerDeps) {
    this.opts = opts;
    this.deps = deps;
    this.events = deps.events;
  }

  get tailers(): ReadonlySet<FileTailer> {
    return this.all;
  }

  /** Make sure the file the path names now is being tailed. */
  ensure(path: string): Promise<void> {
    const running = this.inProgress.get(path);
    if (running !== undefined) {
      this.again.add(path);
      return running;
    }
    const p = this.ensureOnce(path).finally(() => {
      this.inProgress.delete(path);
      if (this.again.delete(path) && !this.stopped) void this.ensure(path);
    });
    this.inProgress.set(path, p);
    return p;
  }

  /** A file-system event for the path: wake its tailer, or look at it. */
  changed(path: string): void {
    const t = this.current.get(path);
    if (t !== undefined && !t.isDraining) t.notify();
    else void this.ensure(path);
  }

  /** The path disappeared from the directory: its tailer reads to the end and finishes. */
  removed(path: string): void {
    const t = this.current.get(path);
    if (t !== undefined) t.notify();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.inProgress.values()]);
    await Promise.all([...this.all].map((t) => t.stop()));
  }

  /**
   * Drain a file that is no longer under the log pattern's names (a rotated file found by
   * inode after a restart): read it from its checkpoint to the end, then finish. With
   * `copyOf` the file is the copy of a copy-truncated file, read from the original's
   * checkpoint under the original's identity (its records keep their ids).
   */
  async recover(path: string, copyOf?: CopyOf): Promise<boolean> {
    if (this.stopped) return false;
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      this.events.fileError(path, 'file_unreadable', err);
      return false;
    }
    const fst = await fh.stat({ bigint: true });
    const inode = `${fst.dev}:${fst.ino}`;
    if (this.stopped || this.byInode.has(inode)) {
      await fh.close();
      return false;
    }
    const tailer = new FileTailer(
      path,
      fh,
      String(fst.dev),
      String(fst.ino),
      Number(fst.size),
      this.opts,
      this.deps,
      copyOf,
    );
    tailer.rotatedAway('gone'); // counted when the rotation happened, not again now
    this.byInode.set(inode, tailer);
    this.all.add(tailer);
    void tailer.done.finally(() => {
      this.all.delete(tailer);
      if (this.byInode.get(inode) === tailer) this.byInode.delete(inode);
    });
    return true;
  }

  /** dev:ino of every file being tailed. */
  inodes(): Set<string> {
    return new Set(this.byInode.keys());
  }

  private async ensureOnce(path: string): Promise<void> {
    if (this.stopped) return;
    let st;
    try {
      st = await stat(path, { bigint: true });
    } catch (err) {
      // Gone (its tailer, if any, finds out by itself) or a dangling symlink: not an error.
      // Anything else (ELOOP, EACCES on a directory, EIO) is counted once per path.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && !this.unreadable.has(path)) {
        this.unreadable.add(path);
        this.events.fileError(path, 'file_unreadable', err);
      }
      return;
    }
    if (!st.isFile()) return;
    const dev = String(st.dev);
    const ino = String(st.ino);
    const cur = this.current.get(path);
    if (cur !== undefined && cur.dev === dev && cur.ino === ino) return;
    const same = this.byInode.get(`${dev}:${ino}`);
    if (same !== undefined) {
      // Already tailed under another name (e.g. a rotated name that matches the glob).
      return;
    }
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (!this.unreadable.has(path)) {
        this.unreadable.add(path);
        this.events.fileError(path, 'file_unreadable', err);
      }
      return;
    }
    this.unreadable.delete(path);
    // The handle is the truth: the path may have been replaced between stat and open.
    const fst = await fh.stat({ bigint: true });
    const fdev = String(fst.dev);
    const fino = String(fst.ino);
    if (this.stopped || this.byInode.has(`${fdev}:${fino}`)) {
      await fh.close();
      return;
    }
    if (cur !== undefined) cur.rotatedAway();
    const tailer = new FileTailer(path, fh, fdev, fino, Number(fst.size), this.opts, this.deps);
    const inode = `${fdev}:${fino}`;
    this.current.set(path, tailer);
    this.byInode.set(inode, tailer);
    this.all.add(tailer);
    void tailer.done.finally(() => {
      this.all.delete(tailer);
      if (this.byInode.get(inode) === tailer) this.byInode.delete(inode);
      if (this.current.get(path) === tailer) this.current.delete(path);
      // After a rotation the path may name a new file no watcher event told us about. After
      // a read error the next rescan retries (no tight reopen loop).
      if (!this.stopped && tailer.isDraining) void this.ensure(path);
    });
  }
}
