/**
 * The chaos run's log lines: what the writer appends and what the verifier expects back.
 * Pure. Every line carries a global sequence number; line `seq` always goes to file
 * `seq % files`, and its message is a function of `seq` alone, so the verifier can check
 * each stored message by content without keeping what was written.
 */

/** Container log file name (`<pod>_<namespace>_<container>-<id>.log`) of file `i`. */
export function containerFileName(i: number): string {
  return `chaos-${i}_chaos_app-${String(i % 10).repeat(64)}.log`;
}

export const CHAOS_NAMESPACE = 'chaos';
const PAD = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(8);

/** The message of line `seq`: 80–176 bytes, the sequence number first. */
export function messageFor(seq: number, files: number): string {
  return `chaos seq=${seq} file=${seq % files} ${PAD.slice(0, 50 + (seq % 97))}`;
}

const SEQ = /^chaos seq=(\d+) file=\d+ /;

/** The sequence number a stored message claims, or -1 when it is not one of ours. */
export function seqOf(message: string): number {
  const m = SEQ.exec(message);
  return m === null ? -1 : Number(m[1]);
}

/** Wall-clock ms as a CRI timestamp (RFC 3339, nine fractional digits, UTC). */
export function criTimestamp(wallMs: number): string {
  return new Date(wallMs).toISOString().replace('Z', '000000Z');
}

/** One CRI line (`<time> stdout F <message>\n`). */
export function criLine(seq: number, files: number, wallMs: number): string {
  return `${criTimestamp(wallMs)} stdout F ${messageFor(seq, files)}\n`;
}

/** Sequence numbers of the CRI lines in `text` (a file or a copy of one); torn lines skipped. */
export function seqsInCriText(text: string, files: number): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const sp = nthSpace(line, 3);
    if (sp < 0) continue;
    const msg = line.slice(sp + 1);
    const seq = seqOf(msg);
    if (seq >= 0 && msg === messageFor(seq, files)) out.push(seq);
  }
  return out;
}

function nthSpace(s: string, n: number): number {
  let at = -1;
  for (let i = 0; i < n; i++) {
    at = s.indexOf(' ', at + 1);
    if (at < 0) return -1;
  }
  return at;
}
