/**
 * Partial-line reassembly for one stream of one file (pure state machine). Owns the pieces
 * of a line that the runtime split (CRI `P`, docker json-file `log` without newline) until
 * the final piece arrives, and the size cap: beyond `maxLineBytes` the line is either split
 * into several records (`line_split`; each record's offset is the file offset of its first
 * byte, so ids stay deterministic) or cut (`line_truncated`; later pieces are read and
 * dropped). A line waiting longer than the flush timeout is emitted as is
 * (`partial_flushed`) by {@link PartialJoiner.flushIfOlder}.
 *
 * Pieces are joined as bytes, never as strings: runtimes split at byte positions, in the
 * middle of UTF-8 sequences.
 *
 * Buffer ownership: `add` copies what it keeps; the caller may reuse its buffer.
 * Concurrency: single owner (the file's decoder). Emission is synchronous through `emit`.
 */
import type { Stream } from '../../shared/record.ts';
import type { LineAnomaly, LogicalLine } from './logical-line.ts';

export type OverflowPolicy = 'split' | 'truncate';

/**
 * Largest cut in (0, limit] such that `buf[start + cut]` does not continue a UTF-8 sequence
 * begun before it. `buf[start + limit]` must exist (the caller cuts only inside a piece).
 */
export function utf8Cut(buf: Buffer, start: number, limit: number): number {
  const at = start + limit;
  let k = at;
  while (k > start && at - k < 3 && (buf[k]! & 0xc0) === 0x80) k--;
  if (k === at) return limit;
  const cut = k - start;
  return cut > 0 ? cut : limit;
}

export class PartialJoiner {
  /** Id offset of the pending record, -1 when nothing is pending. */
  offset = -1;
  /**
   * Start of the first physical line of the pending logical line (kept across split records):
   * the checkpoint floor while anything is pending. -1 when nothing is pending.
   */
  lineStart = -1;
  private pieceCount = 0;
  private timestamp = '';
  private pieces: Buffer[] = [];
  private bytes = 0;
  private startedAtMs = 0;
  private truncated = false;
  private wasSplit = false;
  private readonly stream: Stream;
  private readonly maxLineBytes: number;
  private readonly overflow: OverflowPolicy;
  private readonly emit: (line: LogicalLine) => void;
  private readonly cutAt: ((end: number) => boolean) | null;

  /**
   * `cutAt` (replays only, see agent/checkpoint/replay-journal.ts): a pending line whose last
   * piece ends where this returns true is emitted there as `partial_flushed`, as the run that
   * sent it did on its flush timeout.
   */
  constructor(
    stream: Stream,
    maxLineBytes: number,
    overflow: OverflowPolicy,
    emit: (line: LogicalLine) => void,
    cutAt?: (end: number) => boolean,
  ) {
    this.stream = stream;
    this.maxLineBytes = maxLineBytes;
    this.overflow = overflow;
    this.emit = emit;
    this.cutAt = cutAt ?? null;
  }

  get pending(): boolean {
    return this.offset >= 0;
  }

  /** Bytes currently held. */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * Adds one piece: `buf[start, end)` is the message part, `lineOffset` the file offset of the
   * piece's physical line, `msgOffset` the file offset of `buf[start]`, `lineEnd` the offset
   * just past the piece's newline (or its last byte, for a cut overlong line).
   */
  add(
    buf: Buffer,
    start: number,
    end: number,
    lineOffset: number,
    msgOffset: number,
    timestamp: string,
    final: boolean,
    nowMs: number,
    lineEnd: number,
  ): void {
    if (this.offset < 0) {
      this.offset = lineOffset;
      this.timestamp = timestamp;
      this.startedAtMs = nowMs;
    }
    if (this.lineStart < 0) this.lineStart = lineOffset;
    this.pieceCount++;
    this.lastEnd = lineEnd;
    let s = start;
    if (this.bytes + (end - s) > this.maxLineBytes) {
      if (this.overflow === 'truncate') {
        if (!this.truncated) {
          const room = this.maxLineBytes - this.bytes;
          if (room > 0) this.keep(buf, s, s + utf8Cut(buf, s, room));
          this.truncated = true;
        }
        s = end;
      } else {
        // Split: emit full-size records until the rest fits.
        while (this.bytes + (end - s) > this.maxLineBytes) {
          const room = this.maxLineBytes - this.bytes;
          if (room > 0) {
            const cut = utf8Cut(buf, s, room);
            this.keep(buf, s, s + cut);
            s += cut;
          }
          this.wasSplit = true;
          this.flush('line_split', true);
          this.offset = msgOffset + (s - start);
          this.timestamp = timestamp;
          this.startedAtMs = nowMs;
          this.wasSplit = true;
        }
      }
    } else if (this.truncated) {
      s = end;
    }
    if (s < end) this.keep(buf, s, end);
    if (final) {
      if (this.wasSplit && this.bytes === 0 && s === end && start !== end) {
        // The split consumed the whole line exactly; nothing left to emit.
        this.reset();
        return;
      }
      this.flush(this.truncated ? 'line_truncated' : this.wasSplit ? 'line_split' : null);
    } else if (this.cutAt !== null && this.offset >= 0 && this.cutAt(lineEnd)) {
      this.flush('partial_flushed');
    }
  }

  /** Emits the pending line if it started before `deadlineMs`. Returns true if it did. */
  flushIfOlder(deadlineMs: number): boolean {
    if (this.offset < 0 || this.startedAtMs > deadlineMs) return false;
    this.flush('partial_flushed');
    return true;
  }

  /** Emits whatever is pending (end of a rotated or deleted file). */
  flushPending(): void {
    if (this.offset >= 0) this.flush('partial_flushed');
  }

  private keep(buf: Buffer, start: number, end: number): void {
    const copy = Buffer.allocUnsafe(end - start);
    buf.copy(copy, 0, start, end);
    this.pieces.push(copy);
    this.bytes += end - start;
  }

  private lastEnd = 0;

  /** `more`: a split part; the logical line goes on (its start stays the floor). */
  private flush(anomaly: LineAnomaly | null, more = false): void {
    const message =
      this.pieces.length === 1
        ? this.pieces[0]!.toString('utf8')
        : Buffer.concat(this.pieces, this.bytes).toString('utf8');
    const line: LogicalLine = {
      offset: this.offset,
      spanStart: this.lineStart,
      end: this.lastEnd,
      multi: this.pieceCount > 1 || this.wasSplit,
      timestamp: this.timestamp,
      stream: this.stream,
      message,
      anomaly,
    };
    if (more) {
      this.pieces = [];
      this.bytes = 0;
    } else {
      this.reset();
    }
    this.emit(line);
  }

  private reset(): void {
    this.offset = -1;
    this.lineStart = -1;
    this.pieceCount = 0;
    this.pieces = [];
    this.bytes = 0;
    this.truncated = false;
    this.wasSplit = false;
  }
}
