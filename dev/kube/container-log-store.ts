// What the fake kubelet knows about container logs: per pod (by uid) and container, the
// running instance's lines and the previous (terminated) instance's, with the kubelet's
// read semantics (tailLines before since, RFC 3339 nanosecond timestamps, limitBytes over
// the rendered bytes). Pure in-memory state, no I/O; followers are told about new lines
// and about the end of what they follow (container restarted or stopped, pod gone, log
// rotated: the kubelet reads only the current log file, so rotation ends a follow).

/** Epoch nanoseconds. */
export type EpochNanos = bigint;

export interface LogLine {
  time: EpochNanos;
  /** Without the trailing newline. */
  text: string;
}

export interface LogFollower {
  onLine(line: LogLine): void;
  /** No more lines for this follower: the instance ended or the file it read was rotated away. */
  onEnd(): void;
}

export class ContainerInstance {
  /** Lines of the current log file (rotation starts a new, empty one). */
  #lines: LogLine[] = [];
  #ended = false;
  readonly #followers = new Set<LogFollower>();

  get ended(): boolean {
    return this.#ended;
  }

  get lines(): readonly LogLine[] {
    return this.#lines;
  }

  append(line: LogLine): void {
    if (this.#ended) throw new Error('fake kubelet: appending to the log of a terminated container instance');
    this.#lines.push(line);
    for (const f of [...this.#followers]) f.onLine(line);
  }

  /** The runtime rotates the file: readers see only later lines, open follows end. */
  rotate(): void {
    this.#lines = [];
    this.#endFollowers();
  }

  /**
   * Open follows end cleanly, the log stays as it is (an idle or request timeout on the way:
   * a clean EOF, and a reconnect reads the same file again).
   */
  endFollows(): void {
    this.#endFollowers();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endFollowers();
  }

  follow(follower: LogFollower): () => void {
    if (this.#ended) {
      follower.onEnd();
      return () => {};
    }
    this.#followers.add(follower);
    return () => this.#followers.delete(follower);
  }

  get followers(): number {
    return this.#followers.size;
  }

  #endFollowers(): void {
    const all = [...this.#followers];
    this.#followers.clear();
    for (const f of all) f.onEnd();
  }
}

/** Current and previous instance of each container of one pod. */
export class PodLogs {
  readonly #containers = new Map<string, { current: ContainerInstance; previous?: ContainerInstance }>();

  readonly containers: readonly string[];

  constructor(containers: readonly string[]) {
    this.containers = containers;
    for (const c of containers) this.#containers.set(c, { current: new ContainerInstance() });
  }

  has(container: string): boolean {
    return this.#containers.has(container);
  }

  current(container: string): ContainerInstance {
    const e = this.#containers.get(container);
    if (!e) throw new Error(`fake kubelet: no container ${container}`);
    return e.current;
  }

  previous(container: string): ContainerInstance | undefined {
    return this.#containers.get(container)?.previous;
  }

  /** The running instance terminates; a new one starts with an empty log. */
  restart(container: string): void {
    const e = this.#containers.get(container);
    if (!e) throw new Error(`fake kubelet: no container ${container}`);
    e.current.end();
    e.previous = e.current;
    e.current = new ContainerInstance();
  }

  endAll(): void {
    for (const e of this.#containers.values()) e.current.end();
  }
}

export interface LogReadOptions {
  timestamps: boolean;
  /** Only lines at or after this time. */
  since?: EpochNanos;
  tailLines?: number;
}

/** The existing lines a read returns: the last `tailLines`, then those at or after `since` (kubelet order). */
export function selectLines(lines: readonly LogLine[], opts: LogReadOptions): LogLine[] {
  const tailed = opts.tailLines === undefined ? lines : opts.tailLines === 0 ? [] : lines.slice(-opts.tailLines);
  const since = opts.since;
  return since === undefined ? [...tailed] : tailed.filter((l) => l.time >= since);
}

export function renderLine(line: LogLine, timestamps: boolean): string {
  return timestamps ? `${formatRfc3339Nano(line.time)} ${line.text}\n` : `${line.text}\n`;
}

const NS_PER_MS = 1_000_000n;

/** Current time with microsecond precision (the high-resolution clock). */
export function nowNanos(): EpochNanos {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** RFC 3339 with a fixed 9-digit fraction, UTC: the kubelet's timestamp prefix. */
export function formatRfc3339Nano(ns: EpochNanos): string {
  const frac = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return `${new Date(Number(ns / NS_PER_MS)).toISOString().slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses RFC 3339 (any fraction up to nanoseconds, any offset); undefined when invalid. */
export function parseRfc3339Nano(text: string): EpochNanos | undefined {
  const m = RFC3339.exec(text.trim());
  if (!m) return undefined;
  const zone = (m[3] ?? 'Z').toUpperCase();
  const ms = Date.parse(`${m[1]}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * NS_PER_MS + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
}

export function toNanos(time: Date | string | bigint): EpochNanos {
  if (typeof time === 'bigint') return time;
  if (time instanceof Date) return BigInt(time.getTime()) * NS_PER_MS;
  const parsed = parseRfc3339Nano(time);
  if (parsed === undefined) throw new Error(`not an RFC 3339 time: ${time}`);
  return parsed;
}
