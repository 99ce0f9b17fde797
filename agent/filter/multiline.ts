/**
 * Multiline merge (pure state machine, one per file): joins stack traces that applications
 * print as several lines into one record. Owns the held group of each stream.
 *
 * A line continues the held group of its stream when it:
 * - starts with a space or tab (Java `\tat …`, Node `    at …`, Python `  File …`, Go
 *   `\t/src/x.go:12 +0x1d`, wrapped continuation lines);
 * - starts with `Caused by: `, `Suppressed: ` or is `... N more` (Java);
 * - follows a Python `Traceback (most recent call last):` — until and including the first
 *   unindented line that is not a traceback header (the `ValueError: …` line);
 * - follows a Go `panic: ` / `fatal error: ` — blank lines, `goroutine N [...]:`, frames
 *   (`pkg.fn(...)`), `created by …`, `[signal …`, `exit status N`.
 * Every other line closes the held group (emitted) and starts a new one. A JSON object line
 * (`{…}`) is emitted at once and never starts a group: structured loggers put stacks inside.
 *
 * A group is emitted when a non-continuation line arrives, when it has been idle for the
 * flush timeout ({@link MultilineMerger.flushIdleSince}), or when it reaches the line or byte
 * cap (`multiline_capped`: the rest continues as a new group, nothing is lost).
 *
 * Checkpoint contract: {@link MultilineMerger.floor} is the first offset of a held group (or
 * of the line being pushed). Concurrency: single owner; emission is synchronous.
 */
import type { LogicalLine } from '../parse/logical-line.ts';

type Mode = 0 | 1 | 2; // generic, python traceback, go panic

interface Group {
  first: LogicalLine;
  /** End offset of the last line merged so far. */
  end: number;
  parts: string[];
  bytes: number;
  mode: Mode;
  lastAtMs: number;
}

export interface MultilineOptions {
  maxLines: number;
  maxBytes: number;
}

/** `merged`: the record joins several logical lines (the replay journal records its extent). */
export type MultilineEmit = (line: LogicalLine, capped: boolean, merged: boolean) => void;

/** `\w` `.` `/` `*` `(` `)` `[` `]` `-`: the characters of a Go frame's function name. */
function isGoFrameNameChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x2e ||
    c === 0x2f ||
    c === 0x2a ||
    c === 0x28 ||
    c === 0x29 ||
    c === 0x5b ||
    c === 0x5d ||
    c === 0x2d
  );
}

/**
 * A Go frame line (`main.handler(...)`, `pkg/x.(*T).m(0x1, 0x2)`): what the regex
 * `^[\w./*()[\]-]+\(.*\)$` accepts, in one pass. The regex backtracked quadratically (its
 * name class contains `(`: a 16 k `(((…` line took 0.2 s, 64 k took 12 s); this scanner is
 * linear in the line and stops at the first character that decides.
 *
 * Equivalence: the line must end with `)`, and some `(` at index k ≥ 1, k ≤ length − 2, must be
 * preceded only by name characters — i.e. a `(` inside the leading run of name characters
 * (`(` is itself one) other than at index 0 — and everything from k + 1 to the final `)`
 * must match `.` (no line terminator). The name run has none, so only the part after the
 * run needs checking.
 */
export function isGoFrame(msg: string): boolean {
  const len = msg.length;
  if (len < 3 || msg.charCodeAt(len - 1) !== 0x29) return false;
  let paren = false;
  let i = 0;
  for (; i < len; i++) {
    const c = msg.charCodeAt(i);
    if (!isGoFrameNameChar(c)) break;
    if (c === 0x28 && i >= 1 && i <= len - 2) paren = true;
  }
  if (!paren) return false;
  for (; i < len - 1; i++) {
    const c = msg.charCodeAt(i);
    if (c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029) return false;
  }
  return true;
}

/** Linear: `\d+` is followed by a space, so its backtracking gives up at once. */
const JAVA_MORE = /^\.\.\. \d+ (more|common frames omitted)$/;

export function startsContinuation(msg: string): boolean {
  const c = msg.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return msg.length > 1;
  if (c === 0x43 && msg.startsWith('Caused by: ')) return true;
  if (c === 0x53 && msg.startsWith('Suppressed: ')) return true;
  if (c === 0x2e && JAVA_MORE.test(msg)) return true;
  return false;
}

function goContinuation(msg: string): boolean {
  if (msg.length === 0) return true;
  return (
    msg.startsWith('goroutine ') ||
    msg.startsWith('created by ') ||
    msg.startsWith('[signal ') ||
    msg.startsWith('exit status ') ||
    msg.startsWith('panic: ') ||
    isGoFrame(msg)
  );
}

function isJsonObjectLine(msg: string): boolean {
  return msg.charCodeAt(0) === 0x7b && msg.charCodeAt(msg.length - 1) === 0x7d;
}

function modeOf(msg: string): Mode {
  if (msg.startsWith('Traceback (most recent call last):')) return 1;
  if (msg.startsWith('panic: ') || msg.startsWith('fatal error: ')) return 2;
  return 0;
}

export class MultilineMerger {
  private readonly groups: [Group | null, Group | null] = [null, null];
  private readonly opts: MultilineOptions;
  private readonly emit: MultilineEmit;
  private incoming = Infinity;

  constructor(opts: MultilineOptions, emit: MultilineEmit) {
    this.opts = opts;
    this.emit = emit;
  }

  floor(): number {
    let f = this.incoming;
    const a = this.groups[0];
    const b = this.groups[1];
    if (a !== null && a.first.spanStart < f) f = a.first.spanStart;
    if (b !== null && b.first.spanStart < f) f = b.first.spanStart;
    return f;
  }

  get holding(): boolean {
    return this.groups[0] !== null || this.groups[1] !== null;
  }

  push(line: LogicalLine, nowMs: number): void {
    const idx = line.stream === 'stdout' ? 0 : 1;
    const g = this.groups[idx];
    const msg = line.message;
    this.incoming = line.spanStart;
    try {
      // Pieces of a split or truncated line never join a group, whatever is held: a restart
      // from a checkpoint must make the same decision without knowing what was held before.
      if (line.anomaly === 'line_split' || line.anomaly === 'line_truncated') {
        if (g !== null) {
          this.groups[idx] = null;
          this.emitGroup(g, false);
        }
        this.emit(line, false, false);
        return;
      }
      if (g !== null && this.continues(g, msg)) {
        if (g.parts.length >= this.opts.maxLines || g.bytes + msg.length + 1 > this.opts.maxBytes) {
          this.groups[idx] = null;
          this.emitGroup(g, true);
          // The rest is decided as if read fresh from this line, so a restart from this
          // line (the next group's checkpoint floor) rebuilds the same records.
          this.startFresh(idx, line, nowMs);
          return;
        }
        g.parts.push(msg);
        g.end = line.end;
        g.bytes += msg.length + 1;
        g.lastAtMs = nowMs;
        if (g.mode === 1 && msg.length > 0 && !startsContinuation(msg) && !isPythonHeader(msg)) g.mode = 0;
        return;
      }
      if (g !== null) {
        this.groups[idx] = null;
        this.emitGroup(g, false);
      }
      this.startFresh(idx, line, nowMs);
    } finally {
      this.incoming = Infinity;
    }
  }

  private startFresh(idx: number, line: LogicalLine, nowMs: number): void {
    if (isJsonObjectLine(line.message)) this.emit(line, false, false);
    else this.groups[idx] = this.newGroup(line, nowMs, modeOf(line.message));
  }

  /** Emits groups with no new line since before `deadlineMs`. */
  flushIdleSince(deadlineMs: number): boolean {
    let any = false;
    for (let i = 0; i < 2; i++) {
      const g = this.groups[i]!;
      if (g !== null && g.lastAtMs <= deadlineMs) {
        this.groups[i] = null;
        this.emitGroup(g, false);
        any = true;
      }
    }
    return any;
  }

  flushAll(): void {
    this.flushIdleSince(Infinity);
  }

  private continues(g: Group, msg: string): boolean {
    if (g.mode === 1) return msg.length > 0;
    if (g.mode === 2) return goContinuation(msg) || startsContinuation(msg);
    return msg.length > 0 && startsContinuation(msg);
  }

  private newGroup(line: LogicalLine, nowMs: number, mode: Mode): Group {
    return { first: line, end: line.end, parts: [line.message], bytes: line.message.length, mode, lastAtMs: nowMs };
  }

  private emitGroup(g: Group, capped: boolean): void {
    if (g.parts.length === 1) {
      this.emit(g.first, capped, false);
      return;
    }
    const f = g.first;
    this.emit(
      {
        offset: f.offset,
        spanStart: f.spanStart,
        end: g.end,
        multi: true,
        timestamp: f.timestamp,
        stream: f.stream,
        message: g.parts.join('\n'),
        anomaly: f.anomaly,
      },
      capped,
      true,
    );
  }
}

function isPythonHeader(msg: string): boolean {
  return (
    msg.startsWith('Traceback (most recent call last):') ||
    msg.startsWith('During handling of the above exception') ||
    msg.startsWith('The above exception was the direct cause')
  );
}
