// Log lines of container instances, kept in memory with their timestamps, and
// the kubelet's read semantics over them (tailLines, since, timestamps,
// limitBytes, follow). A container instance's buffer is bounded by line count:
// the oldest lines are dropped, as log rotation would.

import { formatRfc3339Nano, type EpochNanos } from './nano-time.ts';

export interface LogLine {
  time: EpochNanos;
  /** Without the trailing newline. */
  text: string;
}

export interface LogFollower {
  onLine(line: LogLine): void;
  /** The instance will get no more lines (pod deleted, container restarted). */
  onEnd(): void;
}

export class ContainerInstanceLog {
  readonly lines: LogLine[] = [];
  #ended = false;
  readonly #followers = new Set<LogFollower>();
  readonly #maxLines: number;

  constructor(maxLines: number) {
    this.#maxLines = maxLines;
  }

  get ended(): boolean {
    return this.#ended;
  }

  append(line: LogLine): void {
    if (this.#ended) throw new Error('fake-kube-api: appending to the log of a terminated container instance');
    this.lines.push(line);
    if (this.lines.length > this.#maxLines) this.lines.splice(0, this.lines.length - this.#maxLines);
    for (const f of [...this.#followers]) f.onLine(line);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const f of [...this.#followers]) f.onEnd();
    this.#followers.clear();
  }

  follow(follower: LogFollower): () => void {
    if (this.#ended) {
      follower.onEnd();
      return () => {};
    }
    this.#followers.add(follower);
    return () => this.#followers.delete(follower);
  }
}

/** Current and previous instance of each container of one pod (by pod uid). */
export class PodLogs {
  readonly #containers = new Map<string, { current: ContainerInstanceLog; previous?: ContainerInstanceLog }>();
  readonly #maxLines: number;

  constructor(maxLines: number) {
    this.#maxLines = maxLines;
  }

  #entry(container: string) {
    let e = this.#containers.get(container);
    if (!e) {
      e = { current: new ContainerInstanceLog(this.#maxLines) };
      this.#containers.set(container, e);
    }
    return e;
  }

  current(container: string): ContainerInstanceLog {
    return this.#entry(container).current;
  }

  previous(container: string): ContainerInstanceLog | undefined {
    return this.#containers.get(container)?.previous;
  }

  /** The running instance terminates; a new one starts with an empty log. */
  restart(container: string): void {
    const e = this.#entry(container);
    e.current.end();
    e.previous = e.current;
    e.current = new ContainerInstanceLog(this.#maxLines);
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
  limitBytes?: number;
}

export function renderLine(line: LogLine, timestamps: boolean): string {
  return timestamps ? `${formatRfc3339Nano(line.time)} ${line.text}\n` : `${line.text}\n`;
}

/** The existing lines a read returns, tail first then since, as the kubelet does. */
export function selectLines(lines: readonly LogLine[], opts: LogReadOptions): LogLine[] {
  let selected = opts.tailLines === undefined ? lines : lines.slice(Math.max(0, lines.length - opts.tailLines));
  if (opts.tailLines === 0) selected = [];
  const since = opts.since;
  return since === undefined ? [...selected] : selected.filter((l) => l.time >= since);
}
