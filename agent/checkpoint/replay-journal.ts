/**
 * The replay journal of one file identity (pure): what a restart needs so that re-reading
 * bytes that may already be stored rebuilds exactly the records that were sent, whatever the
 * timers and the collection config do this time. Persisted in the checkpoint entry
 * (checkpoint-store.ts `inflight`) before any batch holding these records is sent
 * (agent.ts, the journal gate), pruned as offsets are committed.
 *
 * Why: a record's id is (file identity, offset of its first byte), but which lines make up
 * the record depends on timers (partial and multiline flush timeouts) and config (multiline
 * on/off). If a crash falls between "stored" and "checkpointed", a replay that groups
 * differently reuses the id of a stored record for different content: with `create`
 * (first write wins) the extra lines of a larger record are lost as a "duplicate", and the
 * pieces of a smaller one come back as new records (content twice). Ids that cover the span
 * would not help: overlapping content under a new id is a duplicate of content.
 *
 * The journal holds, for records handed to the batcher and not yet committed:
 * - `hi`: the end of the furthest one. Below `hi` a replay follows the journal only: a
 *   logical line that starts a recorded span is merged with the following lines of its
 *   stream up to the span's end; every other logical line is a record of its own (that is
 *   what it was: a record that was not grouped is not recorded). Normal grouping (multiline
 *   merge, partial timeouts) resumes past `hi`.
 * - `spans`: [stream, start, end] of every multiline group (several logical lines merged):
 *   records whose extent a different run (timers, config) could decide differently.
 * - `cuts`: [stream, end] where a partial line was emitted early (flush timeout) although its
 *   later pieces followed; the replay cuts the partial there instead of joining. Otherwise
 *   the joining of partials (and the splitting of overlong lines) follows from the bytes
 *   alone, so a logical line is the same in every run and needs no span.
 * - `clock`: [offset, unix ms] anchors for lines without a runtime timestamp (raw lines of a
 *   plain file, unparseable lines). Such a line gets the time of the last anchor at or before
 *   its offset; a new anchor (the read time) is added at most once per
 *   {@link CLOCK_STEP_MS} and only past every recorded anchor, so a re-read of the same bytes
 *   gets the same timestamp (the same day index, the same record) and fresh lines still get
 *   a time close to when they were read. The alternative — the last runtime timestamp before
 *   the line — has nothing to offer for a plain file and would need that timestamp carried
 *   across the checkpoint anyway.
 *
 * Cost: one comparison per record on the hot path, one array push per grouped record;
 * lookups only while replaying. Limitation: a change of `maxLineBytes`/`lineOverflow`
 * between the two runs still re-splits overlong lines differently.
 */
import type { LogicalLine } from '../parse/logical-line.ts';

/** The persisted form (checkpoint entry `inflight`). Offsets are file offsets. */
export interface InflightPlan {
  hi: number;
  /** Flattened [stream (0 stdout, 1 stderr), start, end] triplets. */
  spans: number[];
  /** Flattened [stream, end] pairs. */
  cuts: number[];
  /** Flattened [offset, unix ms] pairs, ascending. */
  clock: number[];
}

/** A new clock anchor at most this often (ms): anchors stay few, times stay close. */
export const CLOCK_STEP_MS = 1000;

const streamIndex = (line: LogicalLine): number => (line.stream === 'stdout' ? 0 : 1);

export class ReplayJournal {
  /** Below this offset, records are re-formed from the loaded plan. -1: no replay. */
  readonly replayHi: number;
  private hi: number;
  private readonly spans: number[];
  private readonly cuts: number[];
  private readonly clock: number[];
  /** Loaded spans, key `start * 2 + stream` → end. */
  private readonly plannedSpans: Map<number, number> | null;
  /** Loaded cuts, key `end * 2 + stream`. */
  private readonly plannedCuts: Set<number> | null;
  /** Offset past which new clock anchors may be added (the last loaded anchor). */
  private readonly clockFloor: number;
  /** Something changed since the last {@link ReplayJournal.plan}. */
  dirty = false;

  constructor(loaded: InflightPlan | undefined, startOffset: number) {
    const ok = loaded !== undefined && isPlan(loaded) && loaded.hi > startOffset;
    this.replayHi = ok ? loaded.hi : -1;
    this.hi = ok ? loaded.hi : -1;
    this.spans = ok ? loaded.spans.slice() : [];
    this.cuts = ok ? loaded.cuts.slice() : [];
    // Clock anchors are kept even when nothing is in flight: they stay valid for later bytes.
    this.clock = loaded !== undefined && isPlan(loaded) ? loaded.clock.slice() : [];
    this.clockFloor = this.clock.length > 0 ? this.clock[this.clock.length - 2]! : -1;
    if (ok && this.spans.length > 0) {
      this.plannedSpans = new Map();
      for (let i = 0; i < this.spans.length; i += 3)
        this.plannedSpans.set(this.spans[i + 1]! * 2 + this.spans[i]!, this.spans[i + 2]!);
    } else this.plannedSpans = null;
    if (ok && this.cuts.length > 0) {
      this.plannedCuts = new Set();
      for (let i = 0; i < this.cuts.length; i += 2) this.plannedCuts.add(this.cuts[i + 1]! * 2 + this.cuts[i]!);
    } else this.plannedCuts = null;
  }

  /** True when the loaded plan has partial cuts (the decoder then asks {@link isCut}). */
  get hasCuts(): boolean {
    return this.plannedCuts !== null;
  }

  /** The end of the recorded grouped record of `stream` starting at `start`, or -1. */
  plannedEnd(stream: number, start: number): number {
    return this.plannedSpans?.get(start * 2 + stream) ?? -1;
  }

  /** Was a partial line of `stream` emitted early, ending at `end`? */
  isCut(stream: number, end: number): boolean {
    return this.plannedCuts !== null && end <= this.replayHi && this.plannedCuts.has(end * 2 + stream);
  }

  /**
   * A record was handed on (after multiline merge); `merged`: it is a multiline group of
   * several logical lines, whose extent is recorded.
   */
  record(line: LogicalLine, merged: boolean): void {
    if (line.end <= this.replayHi) return; // re-formed from the plan, already recorded
    if (line.end > this.hi) {
      this.hi = line.end;
      this.dirty = true;
    }
    if (merged) {
      this.spans.push(streamIndex(line), line.spanStart, line.end);
      this.dirty = true;
    }
  }

  /** A partial line was emitted before its final piece (decoder output, before merging). */
  cut(line: LogicalLine): void {
    if (line.end <= this.replayHi) return;
    this.cuts.push(streamIndex(line), line.end);
    this.dirty = true;
  }

  /** RFC 3339 timestamp for a line without one, starting at `offset`; see the header. */
  timestampAt(offset: number, nowMs: number): string {
    const c = this.clock;
    let n = c.length;
    if (n === 0 || (offset > this.clockFloor && offset >= this.replayHi && nowMs - c[n - 1]! >= CLOCK_STEP_MS)) {
      if (n === 0 || offset > c[n - 2]!) {
        c.push(offset, n === 0 ? nowMs : Math.max(nowMs, c[n - 1]!));
        this.dirty = true;
        n += 2;
      }
    }
    // The last anchor at or before `offset` (lines come in offset order: usually the last).
    let i = n - 2;
    while (i > 0 && c[i]! > offset) i -= 2;
    return new Date(c[i + 1]!).toISOString();
  }

  /**
   * The plan to persist with committed offset `acked`, dropping what is committed (nothing
   * below it is ever re-read). Undefined when there is nothing to keep.
   */
  plan(acked: number): InflightPlan | undefined {
    this.dirty = false;
    prune(this.spans, 3, (i) => this.spans[i + 2]! > acked);
    prune(this.cuts, 2, (i) => this.cuts[i + 1]! > acked);
    // Keep the last anchor at or before `acked`: it still dates the lines after it.
    const c = this.clock;
    let keepFrom = 0;
    for (let i = 0; i + 2 < c.length && c[i + 2]! <= acked; i += 2) keepFrom = i + 2;
    if (keepFrom > 0) c.splice(0, keepFrom);
    if (this.hi <= acked && c.length === 0) return undefined;
    return {
      hi: this.hi > acked ? this.hi : acked,
      spans: this.spans.slice(),
      cuts: this.cuts.slice(),
      clock: c.slice(),
    };
  }
}

function prune(a: number[], width: number, keep: (i: number) => boolean): void {
  let w = 0;
  for (let i = 0; i < a.length; i += width) {
    if (!keep(i)) continue;
    for (let k = 0; k < width; k++) a[w + k] = a[i + k]!;
    w += width;
  }
  a.length = w;
}

function isPlan(p: InflightPlan): boolean {
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.hi === 'number' &&
    Array.isArray(p.spans) &&
    Array.isArray(p.cuts) &&
    Array.isArray(p.clock)
  );
}
