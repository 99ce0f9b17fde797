/**
 * The unit handed from parse to the later stages: one logical line (partials joined) of one
 * file, with the file offset of its first byte (the record id and checkpoint key).
 */
import type { Stream } from '../../shared/record.ts';

/** Non-fatal things that happened to a line; counted, never silently dropped. */
export type LineAnomaly = 'parse_failed' | 'line_split' | 'line_truncated' | 'partial_flushed';

export interface LogicalLine {
  /** File offset of the first byte of the line's first physical piece: the record id. */
  offset: number;
  /**
   * The byte span [spanStart, end) of the file this record was built from: from the start of
   * the first physical line of its logical line (differs from `offset` only for the 2nd+
   * record of a split line) to just past the newline of its last piece. A restart must never
   * resume strictly inside a span: it would re-read a tail piece as a record of its own.
   */
  spanStart: number;
  end: number;
  /** True when the record joined several physical lines (partials, multiline). */
  multi: boolean;
  /** Timestamp exactly as written by the runtime (first piece's), or arrival time. */
  timestamp: string;
  stream: Stream;
  message: string;
  anomaly: LineAnomaly | null;
}

/** Receives logical lines in file order per stream. Called synchronously. */
export interface LogicalLineSink {
  onLine(line: LogicalLine): void;
}

export function nowTimestamp(nowMs: number): string {
  return new Date(nowMs).toISOString();
}
