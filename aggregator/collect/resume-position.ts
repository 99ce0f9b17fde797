/**
 * Where a container's collection stands, and the replay filter that makes a resumed read
 * store nothing twice. Pure.
 *
 * A read resumes with `sinceTime` = the last stored line's time. The API server forwards
 * `sinceTime` in whole seconds, so the kubelet replays the whole resumed second (and a
 * cut stream may end mid-line): every line before the position, and the first
 * `at_last_ts` lines carrying exactly its timestamp, were stored already and are skipped.
 * Each kept line gets its position among the lines of the same nanosecond timestamp —
 * counted from the start of the read, which begins at a second boundary, so a re-read
 * numbers the same line the same way — and that position goes into the line id
 * (line-identity.ts): even a replay the filter lets through (a position checkpointed
 * behind what was stored) only rewrites ids that already exist.
 *
 * Once a line newer than the position has been kept, later lines are kept whatever their
 * time (a clock step back in the container must not make the filter eat new lines).
 */

/** A container instance's position, as persisted in the job document. */
export interface ContainerPosition {
  /** The instance the position belongs to (`containerd://…`); '' when the API showed none. */
  container_id: string;
  /** Canonical RFC 3339 (nanoseconds) of the last stored line. */
  last_ts: string;
  /** Lines stored with exactly `last_ts` (the next one at that time has this position). */
  at_last_ts: number;
}

export interface ReplayDecision {
  keep: boolean;
  /** Position of the line among the lines of its timestamp in this read. */
  position: number;
}

export class ReplayFilter {
  readonly #resumeNs: bigint | undefined;
  readonly #resumeCount: number;
  #passed: boolean;
  #groupNs: bigint | undefined;
  #groupCount = 0;

  /** `from`: the position to resume after (undefined: keep every line). */
  constructor(from: { ns: bigint; at: number } | undefined) {
    this.#resumeNs = from?.ns;
    this.#resumeCount = from?.at ?? 0;
    this.#passed = from === undefined;
  }

  /** Decides one line (lines in stream order). */
  next(ns: bigint): ReplayDecision {
    if (ns === this.#groupNs) this.#groupCount++;
    else {
      this.#groupNs = ns;
      this.#groupCount = 1;
    }
    const position = this.#groupCount - 1;
    let keep = this.#passed;
    if (!keep && this.#resumeNs !== undefined) {
      if (ns > this.#resumeNs) keep = this.#passed = true;
      else if (ns === this.#resumeNs && position >= this.#resumeCount) keep = true;
    }
    return { keep, position };
  }
}

/** Pure: the position after storing a line at (`timestamp`, `position`). */
export function advance(containerId: string, timestamp: string, position: number): ContainerPosition {
  return { container_id: containerId, last_ts: timestamp, at_last_ts: position + 1 };
}

/** `sinceTime` for a resumed read: the position's second (what the API server would round it to anyway). */
export function resumeSinceTime(p: ContainerPosition): string {
  return `${p.last_ts.slice(0, 19)}Z`;
}
