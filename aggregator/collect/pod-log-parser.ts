/**
 * Splits a `pods/log?timestamps=true` body into lines. Pure, incremental: feed it the
 * chunks as they arrive; it owns no I/O. Each complete line is `<RFC 3339 time> <text>\n`
 * (the kubelet's prefix; Go's RFC3339Nano drops trailing zeros, so the fraction has 0–9
 * digits); the time is returned as bigint nanoseconds and canonical text.
 *
 * Contract: a line is returned only once its `\n` has arrived. What follows the last
 * newline is held until more bytes come; `end()` returns it only when the caller says the
 * truncation was intended (`limitBytes`): on a stream that was cut, the partial line is
 * dropped and read again on resume. A line whose prefix is not a timestamp (never sent by
 * a kubelet with `timestamps=true`) is counted in `malformed` and skipped.
 *
 * Not concurrency-safe (one parser per stream). Input chunks are copied when held.
 */
import { formatNanos, parseRfc3339Nanos } from '../../shared/time.ts';

export interface ParsedLogLine {
  /** Nanoseconds since the epoch. */
  readonly ns: bigint;
  /** Canonical RFC 3339 with nine fractional digits. */
  readonly timestamp: string;
  readonly text: string;
  /** Bytes of the line as received, newline included. */
  readonly bytes: number;
}

const NL = 0x0a;
const SP = 0x20;

export class PodLogParser {
  #held: Buffer = Buffer.alloc(0);
  malformed = 0;

  /** Complete lines of `chunk` (and of what was held before it), in order. */
  push(chunk: Buffer): ParsedLogLine[] {
    const buf = this.#held.length ? Buffer.concat([this.#held, chunk]) : chunk;
    const out: ParsedLogLine[] = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(NL, start);
      if (nl < 0) break;
      this.#line(buf, start, nl, nl + 1 - start, out);
      start = nl + 1;
    }
    this.#held = start >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(start));
    return out;
  }

  /** Bytes held after the last newline. */
  get pendingBytes(): number {
    return this.#held.length;
  }

  /** The stream is over: the held partial line when `keepPartial`, else nothing (it is dropped). */
  end(keepPartial: boolean): ParsedLogLine[] {
    const held = this.#held;
    this.#held = Buffer.alloc(0);
    if (!keepPartial || held.length === 0) return [];
    const out: ParsedLogLine[] = [];
    this.#line(held, 0, held.length, held.length, out);
    return out;
  }

  #line(buf: Buffer, start: number, end: number, bytes: number, out: ParsedLogLine[]): void {
    let stop = end;
    if (stop > start && buf[stop - 1] === 0x0d) stop--;
    const sp = buf.indexOf(SP, start);
    const tsEnd = sp < 0 || sp > stop ? stop : sp;
    const ns = tsEnd - start <= 40 ? parseRfc3339Nanos(buf.toString('latin1', start, tsEnd)) : undefined;
    if (ns === undefined) {
      this.malformed++;
      return;
    }
    const text = tsEnd >= stop ? '' : buf.toString('utf8', tsEnd + 1, stop);
    out.push({ ns, timestamp: formatNanos(ns), text, bytes });
  }
}
