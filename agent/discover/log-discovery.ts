/**
 * Discovery: which files match the log pattern, now and later. chokidar watches the
 * directory for fast notice (add / change / unlink); a periodic full rescan (readdir) catches
 * whatever events miss (overflowing inotify queues, symlink targets changing in another
 * directory, the directory itself disappearing and coming back).
 *
 * Owns nothing but the watcher and the timer. A vanished or unreadable directory is logged
 * and counted once per outage and rescanned until it is back. When the next stage (tail) is
 * busy this stage does not care: it only reports paths, idempotently.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { AgentEvents } from '../telemetry/events.ts';
import { parseLogPattern, type LogPattern } from './glob.ts';

export interface DiscoveryHandlers {
  /** A matching path exists (may be reported repeatedly). */
  found(path: string): void;
  /** A matching path changed (cheap wake-up hint). */
  changed(path: string): void;
  /** A matching path was removed. */
  removed(path: string): void;
}

export class LogDiscovery {
  private pattern: LogPattern | null = null;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dirMissing = false;
  private stopped = false;
  private readonly logPath: string;
  private readonly rescanIntervalMs: number;
  private readonly handlers: DiscoveryHandlers;
  private readonly events: AgentEvents;

  constructor(logPath: string, rescanIntervalMs: number, handlers: DiscoveryHandlers, events: AgentEvents) {
    this.logPath = logPath;
    this.rescanIntervalMs = rescanIntervalMs;
    this.handlers = handlers;
    this.events = events;
  }

  /**
   * Resolves the pattern, runs the first scan and starts watching. Returns the first scan's
   * paths without reporting them, so the caller can tell files present at start from later
   * ones before it opens them.
   */
  async start(): Promise<string[]> {
    const isDir = await stat(this.logPath).then(
      (s) => s.isDirectory(),
      () => false,
    );
    const pattern = parseLogPattern(this.logPath, isDir);
    this.pattern = pattern;
    const first = await this.scan(false);
    this.watcher = watch(pattern.dir, {
      depth: 0,
      ignoreInitial: true,
      followSymlinks: true,
      persistent: false,
      ignorePermissionErrors: true,
    });
    const rel = (p: string): boolean => {
      const name = p.slice(p.lastIndexOf('/') + 1);
      return pattern.match(name);
    };
    this.watcher.on('add', (p) => rel(p) && this.handlers.found(p));
    this.watcher.on('change', (p) => rel(p) && this.handlers.changed(p));
    this.watcher.on('unlink', (p) => rel(p) && this.handlers.removed(p));
    this.watcher.on('error', (err) => this.events.log.warn({ err: String(err) }, 'watcher error; rescans continue'));
    this.schedule();
    return first;
  }

  get patternDir(): string {
    return this.pattern?.dir ?? this.logPath;
  }

  /** Lists matching paths and (unless `report` is false) reports each as found. */
  async scan(report = true): Promise<string[]> {
    const pattern = this.pattern!;
    let names: string[];
    try {
      names = await readdir(pattern.dir);
    } catch (err) {
      if (!this.dirMissing) {
        this.dirMissing = true;
        this.events.directoryMissing(pattern.dir, err);
      }
      return [];
    }
    if (this.dirMissing) {
      this.dirMissing = false;
      this.events.log.info({ dir: pattern.dir }, 'log directory is back');
    }
    const out: string[] = [];
    for (const name of names) {
      if (pattern.match(name)) out.push(join(pattern.dir, name));
    }
    out.sort();
    if (report) for (const p of out) this.handlers.found(p);
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.watcher?.close();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.scan().finally(() => this.schedule());
    }, this.rescanIntervalMs);
    this.timer.unref();
  }
}
