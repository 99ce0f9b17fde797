/**
 * Persistent checkpoints: for each file identity (device, inode, fingerprint, generation) the
 * offset up to which every record is acknowledged, and the replay journal of the records
 * sent past it (replay-journal.ts; written before they are sent). Owns
 * `<dataDir>/checkpoints.json`.
 *
 * Writes are atomic: write a temp file, fsync it, rename over the old one, fsync the
 * directory. A crash leaves either the old or the new file, never a torn one. An unreadable
 * or corrupt checkpoint file is moved aside (`checkpoints.json.corrupt-<time>`) and the agent
 * starts as on first start with the policy for existing files; that is logged loudly.
 *
 * Concurrency: one writer (the agent's checkpoint timer); `flush` calls are serialised.
 */
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InflightPlan } from './replay-journal.ts';

export interface CheckpointEntry {
  key: string;
  path: string;
  /** The file's path with symlinks resolved when it was opened. */
  real_path: string;
  dev: string;
  ino: string;
  fingerprint: string;
  offset: number;
  /**
   * Content generation (shared/ids.ts): bumped when the file turned out shorter than its
   * checkpoint (truncated and rewritten while the agent was down). Absent = 0.
   */
  generation?: number;
  /** Records sent past `offset` that a replay must rebuild exactly (replay-journal.ts). */
  inflight?: InflightPlan;
  /** Unix ms of the last update. */
  updated_at: number;
}

interface CheckpointFile {
  version: 1;
  files: CheckpointEntry[];
}

export class CheckpointStore {
  readonly file: string;
  /** True when no checkpoint file existed: the first start on this node. */
  readonly firstStart: boolean;
  /** Set when an existing file was unreadable and moved aside. */
  readonly recoveredFrom: string | null;
  private readonly entries = new Map<string, CheckpointEntry>();
  private dirty = false;
  private writing: Promise<void> | null = null;

  private constructor(file: string, firstStart: boolean, recoveredFrom: string | null, entries: CheckpointEntry[]) {
    this.file = file;
    this.firstStart = firstStart;
    this.recoveredFrom = recoveredFrom;
    for (const e of entries) this.entries.set(e.key, e);
  }

  static async open(dataDir: string): Promise<CheckpointStore> {
    await mkdir(dataDir, { recursive: true });
    const file = join(dataDir, 'checkpoints.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new CheckpointStore(file, true, null, []);
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as CheckpointFile;
      if (parsed.version !== 1 || !Array.isArray(parsed.files)) throw new Error('unknown checkpoint format');
      const entries = parsed.files.filter(
        (e) => typeof e.key === 'string' && typeof e.offset === 'number' && typeof e.ino === 'string',
      );
      return new CheckpointStore(file, false, null, entries);
    } catch {
      const aside = `${file}.corrupt-${Date.now()}`;
      await rename(file, aside);
      return new CheckpointStore(file, true, aside, []);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  all(): IterableIterator<CheckpointEntry> {
    return this.entries.values();
  }

  get(key: string): CheckpointEntry | undefined {
    return this.entries.get(key);
  }

  /** The entry for a file identity, if any: of its latest generation. */
  find(dev: string, ino: string, fingerprint: string): CheckpointEntry | undefined {
    let found: CheckpointEntry | undefined;
    for (const e of this.entries.values()) {
      if (e.ino === ino && e.dev === dev && e.fingerprint === fingerprint) {
        if (found === undefined || (e.generation ?? 0) > (found.generation ?? 0)) found = e;
      }
    }
    return found;
  }

  set(entry: CheckpointEntry): void {
    this.entries.set(entry.key, entry);
    this.dirty = true;
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.dirty = true;
  }

  get isDirty(): boolean {
    return this.dirty;
  }

  /** Persists if anything changed (or `force`). Serialised: concurrent calls wait for the running write. */
  async flush(force = false): Promise<boolean> {
    while (this.writing !== null) await this.writing;
    if (!this.dirty && !force) return false;
    this.dirty = false;
    const body: CheckpointFile = { version: 1, files: [...this.entries.values()] };
    const p = writeAtomic(this.file, JSON.stringify(body));
    this.writing = p.finally(() => {
      this.writing = null;
    });
    try {
      await p;
    } catch (err) {
      this.dirty = true;
      throw err;
    }
    return true;
  }
}

/** temp + fsync + rename + directory fsync. */
export async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  const fh = await open(tmp, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dir = await open(join(file, '..'), 'r');
  try {
    await dir.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  } finally {
    await dir.close();
  }
}
