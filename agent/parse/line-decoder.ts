/**
 * Per-file decoder: bytes → logical lines. Owns the carry of an unfinished physical line
 * between reads, per-file format auto-detection (CRI or docker json-file, decided by the
 * first line that parses as either), and one {@link PartialJoiner} per stream.
 *
 * Checkpoint contract: {@link LineDecoder.floor} is the smallest file offset whose bytes
 * have not yet been handed downstream as part of an emitted line (start of the carry, of a
 * pending partial, or of the line being emitted right now). Every line starting before the
 * floor has been passed to the sink. The batcher snapshots this at seal time.
 *
 * Physical lines longer than `maxPhysicalLineBytes` without a newline are cut and treated
 * as pieces of one long line (the cap and the overflow policy of the joiner then apply), so
 * a file without newlines cannot grow the carry without bound.
 *
 * Buffer ownership: `push` never keeps a reference to the caller's buffer (the tailer
 * reuses it). Concurrency: single owner (the file's tailer); emission is synchronous.
 * Malformed lines are emitted as raw messages with anomaly `parse_failed`, never dropped.
 */
import type { Stream } from '../../shared/record.ts';
import { newCriFields, parseCriLine } from './cri.ts';
import { parseDockerJsonLine } from './docker-json.ts';
import { nowTimestamp, type LogicalLine, type LogicalLineSink } from './logical-line.ts';
import { PartialJoiner, utf8Cut, type OverflowPolicy } from './partial-joiner.ts';

export type LogFormat = 'auto' | 'cri' | 'docker';

export interface LineDecoderOptions {
  format: LogFormat;
  maxLineBytes: number;
  overflow: OverflowPolicy;
  /** Clock for partial timeouts (ms since epoch). */
  now: () => number;
  /**
   * Timestamp of a line that carries none (neither CRI nor docker), starting at file offset
   * `offset`. Must give the same answer on every read of the same bytes (a replay after a
   * crash lands in the same day index with the same record): see
   * agent/checkpoint/replay-journal.ts. Default: the read time (not replay-stable).
   */
  untimestamped?: (offset: number) => string;
  /**
   * Replay of bytes that may already be stored: true when a partial line of stream
   * (0 stdout, 1 stderr) was emitted early ending at `end` by the run that sent it, so the
   * replay must cut it there too. Absent outside a replay.
   */
  cutAt?: (stream: number, end: number) => boolean;
}

const NL = 0x0a;
const STREAMS: readonly Stream[] = ['stdout', 'stdout', 'stderr'];

export class LineDecoder {
  private readonly sink: LogicalLineSink;
  private readonly maxLineBytes: number;
  private readonly maxPhysical: number;
  private readonly now: () => number;
  private readonly untimestamped: (offset: number) => string;
  private format: 'unknown' | 'cri' | 'docker';
  private readonly allowCri: boolean;
  private readonly allowDocker: boolean;
  private readonly cri = newCriFields();
  private readonly joiners: [PartialJoiner, PartialJoiner];
  /** Unfinished physical line (copied), and its file offset. */
  private carry: Buffer | null = null;
  private carryLen = 0;
  private carryOffset = 0;
  /** Carry overflowed: the bytes until the next newline continue a cut line on this stream. */
  private overlong: 0 | 1 | 2 = 0;
  private overlongTs = '';
  /** End offset of the last physical line fully processed. */
  private consumed: number;
  /** Offset of the line being emitted right now, +Infinity otherwise. */
  private emitting = Infinity;
  /** Physical lines processed (for metrics; read and reset by the owner). */
  linesRead = 0;
  /** Lines that did not parse (kept raw). */
  parseFailures = 0;

  constructor(startOffset: number, opts: LineDecoderOptions, sink: LogicalLineSink) {
    this.sink = sink;
    this.consumed = startOffset;
    this.maxLineBytes = opts.maxLineBytes;
    // A CRI header is < 64 bytes; allow the runtime's own split size on top of the cap.
    this.maxPhysical = opts.maxLineBytes + 64 * 1024;
    this.now = opts.now;
    const now = opts.now;
    this.untimestamped = opts.untimestamped ?? ((): string => nowTimestamp(now()));
    this.allowCri = opts.format !== 'docker';
    this.allowDocker = opts.format !== 'cri';
    this.format = opts.format === 'auto' ? 'unknown' : opts.format;
    const emit = (line: LogicalLine): void => this.forward(line);
    const cutAt = opts.cutAt;
    this.joiners = [
      new PartialJoiner('stdout', opts.maxLineBytes, opts.overflow, emit, cutAt && ((end) => cutAt(0, end))),
      new PartialJoiner('stderr', opts.maxLineBytes, opts.overflow, emit, cutAt && ((end) => cutAt(1, end))),
    ];
  }

  /** See the header: every line starting before this offset has been emitted. */
  floor(): number {
    let f = this.carry !== null ? this.carryOffset : this.consumed;
    const a = this.joiners[0].lineStart;
    const b = this.joiners[1].lineStart;
    if (a >= 0 && a < f) f = a;
    if (b >= 0 && b < f) f = b;
    return this.emitting < f ? this.emitting : f;
  }

  /** Offset just past the last byte handed to `push` (the read position). */
  get readOffset(): number {
    if (this.overlong !== 0) return this.carryOffset;
    return this.carry !== null ? this.carryOffset + this.carryLen : this.consumed;
  }

  /** Bytes held (carry + pending partials). */
  get heldBytes(): number {
    return this.carryLen + this.joiners[0].heldBytes + this.joiners[1].heldBytes;
  }

  get detectedFormat(): 'unknown' | 'cri' | 'docker' {
    return this.format;
  }

  /** Feeds `chunk`, whose first byte is at file offset `offset` (= {@link readOffset}). */
  push(chunk: Buffer, offset: number): void {
    const n = chunk.length;
    let pos = 0;
    if (this.overlong !== 0) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        this.overlongPiece(chunk, 0, n, offset, false);
        return;
      }
      this.overlongPiece(chunk, 0, nl, offset, true);
      pos = nl + 1;
      this.consumed = offset + pos;
    } else if (this.carry !== null) {
      const nl = chunk.indexOf(NL);
      this.appendCarry(chunk, 0, nl < 0 ? n : nl);
      if (nl < 0) {
        if (this.carryLen > this.maxPhysical) this.cutOverlong();
        return;
      }
      this.emitCarry();
      pos = nl + 1;
      this.consumed = offset + pos;
    }
    while (pos < n) {
      const nl = chunk.indexOf(NL, pos);
      if (nl < 0) {
        this.carryOffset = offset + pos;
        this.carryLen = 0;
        this.carry = Buffer.allocUnsafe(Math.max(n - pos, 4096));
        this.appendCarry(chunk, pos, n);
        if (this.carryLen > this.maxPhysical) this.cutOverlong();
        return;
      }
      this.physicalLine(chunk, pos, nl, offset + pos);
      pos = nl + 1;
      this.consumed = offset + pos;
    }
  }

  /** Emits the carried (so far unterminated) physical line and clears the carry. */
  private emitCarry(): { lineOffset: number; len: number } {
    const line = this.carry!;
    const len = this.carryLen;
    const lineOffset = this.carryOffset;
    this.carry = null;
    this.carryLen = 0;
    this.consumed = lineOffset;
    this.physicalLine(line, 0, len, lineOffset);
    return { lineOffset, len };
  }

  /** Emits partials that have waited since before `deadlineMs`. */
  flushOlderThan(deadlineMs: number): boolean {
    const a = this.joiners[0].flushIfOlder(deadlineMs);
    const b = this.joiners[1].flushIfOlder(deadlineMs);
    return a || b;
  }

  /**
   * End of this file for good (rotated away and drained, deleted, truncated): emits pending
   * partials and an unterminated last line as they are.
   */
  flushAll(): void {
    if (this.carry !== null) {
      const { lineOffset, len } = this.emitCarry();
      this.consumed = lineOffset + len;
    }
    if (this.overlong !== 0) {
      this.overlong = 0;
      this.consumed = this.carryOffset;
    }
    this.joiners[0].flushPending();
    this.joiners[1].flushPending();
  }

  private appendCarry(src: Buffer, start: number, end: number): void {
    const add = end - start;
    let carry = this.carry!;
    if (this.carryLen + add > carry.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.carryLen + add, carry.length * 2));
      carry.copy(grown, 0, 0, this.carryLen);
      carry = grown;
      this.carry = grown;
    }
    src.copy(carry, this.carryLen, start, end);
    this.carryLen += add;
  }

  /**
   * The carry grew past the physical cap without a newline: hand what we have to the joiner
   * as a non-final piece and route the rest of the physical line there too.
   */
  private cutOverlong(): void {
    const buf = this.carry!;
    const len = this.carryLen;
    const lineOffset = this.carryOffset;
    let stream: 1 | 2 = 1;
    let ts: string;
    let msgStart = 0;
    if (this.allowCri && parseCriLine(buf, 0, len, this.cri)) {
      stream = this.cri.stream;
      ts = buf.toString('latin1', this.cri.tsStart, this.cri.tsEnd);
      msgStart = this.cri.msgStart;
    } else {
      ts = this.untimestamped(lineOffset);
      this.parseFailures++;
    }
    this.carry = null;
    this.carryLen = 0;
    this.consumed = lineOffset;
    this.overlong = stream;
    this.overlongTs = ts;
    this.joiners[stream - 1]!.add(
      buf,
      msgStart,
      len,
      lineOffset,
      lineOffset + msgStart,
      ts,
      false,
      this.now(),
      lineOffset + len,
    );
    // Subsequent bytes until the newline: file offsets continue from here.
    this.carryOffset = lineOffset + len;
  }

  private overlongPiece(src: Buffer, start: number, end: number, fileOffset: number, final: boolean): void {
    const j = this.joiners[this.overlong - 1]!;
    j.add(
      src,
      start,
      end,
      fileOffset,
      fileOffset,
      this.overlongTs,
      final,
      this.now(),
      fileOffset + (end - start) + (final ? 1 : 0),
    );
    if (final) this.overlong = 0;
    else this.carryOffset = fileOffset + (end - start);
    this.linesRead += final ? 1 : 0;
  }

  private forward(line: LogicalLine): void {
    const prev = this.emitting;
    this.emitting = line.offset;
    this.sink.onLine(line);
    this.emitting = prev;
  }

  private physicalLine(buf: Buffer, start: number, end: number, lineOffset: number): void {
    this.linesRead++;
    if (this.format !== 'docker' && this.allowCri && parseCriLine(buf, start, end, this.cri)) {
      if (this.format === 'unknown') this.format = 'cri';
      const f = this.cri;
      const j = this.joiners[f.stream - 1]!;
      const ts = buf.toString('latin1', f.tsStart, f.tsEnd);
      if (!f.partial && !j.pending && f.msgEnd - f.msgStart <= this.maxLineBytes) {
        const prev = this.emitting;
        this.emitting = lineOffset;
        this.sink.onLine({
          offset: lineOffset,
          spanStart: lineOffset,
          end: lineOffset + (end - start) + 1,
          multi: false,
          timestamp: ts,
          stream: STREAMS[f.stream]!,
          message: buf.toString('utf8', f.msgStart, f.msgEnd),
          anomaly: null,
        });
        this.emitting = prev;
        return;
      }
      j.add(
        buf,
        f.msgStart,
        f.msgEnd,
        lineOffset,
        lineOffset + (f.msgStart - start),
        ts,
        !f.partial,
        this.now(),
        lineOffset + (end - start) + 1,
      );
      return;
    }
    if (this.format !== 'cri' && this.allowDocker && buf[start] === 0x7b) {
      const d = parseDockerJsonLine(buf, start, end);
      if (d !== null) {
        if (this.format === 'unknown') this.format = 'docker';
        const j = this.joiners[d.stream - 1]!;
        if (!d.partial && !j.pending && d.message.length <= this.maxLineBytes / 3) {
          this.forward({
            offset: lineOffset,
            spanStart: lineOffset,
            end: lineOffset + (end - start) + 1,
            multi: false,
            timestamp: d.timestamp,
            stream: STREAMS[d.stream]!,
            message: d.message,
            anomaly: null,
          });
          return;
        }
        const bytes = Buffer.from(d.message, 'utf8');
        j.add(
          bytes,
          0,
          bytes.length,
          lineOffset,
          lineOffset,
          d.timestamp,
          !d.partial,
          this.now(),
          lineOffset + (end - start) + 1,
        );
        return;
      }
    }
    // Neither format: keep the raw bytes as the message.
    this.parseFailures++;
    if (end - start > this.maxLineBytes) {
      // Route through a joiner so the cap and overflow policy apply.
      this.joiners[0].add(
        buf,
        start,
        end,
        lineOffset,
        lineOffset,
        this.untimestamped(lineOffset),
        true,
        this.now(),
        lineOffset + (end - start) + 1,
      );
      return;
    }
    this.forward({
      offset: lineOffset,
      spanStart: lineOffset,
      end: lineOffset + (end - start) + 1,
      multi: false,
      timestamp: this.untimestamped(lineOffset),
      stream: 'stdout',
      message: buf.toString('utf8', start, end),
      anomaly: 'parse_failed',
    });
  }
}

export { utf8Cut };
