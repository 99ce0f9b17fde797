/**
 * Written vs stored, by content. Pure: the caller reads the stored records (through the
 * API) into a Tally and the copies left by copytruncate into sets of seqs.
 *
 * A line is lost when no stored record carries its exact message, duplicated when more
 * than one does. Lost lines of a copytruncate window that are not in the copy either were
 * truncated away before any reader could have them (logrotate documents this); they are
 * counted apart, never hidden: every other lost line is a real loss.
 */
import type { CopyTruncateRotation, Rotation, WriterJournal } from './writer-journal.ts';
import { writtenAtMs } from './writer-journal.ts';

export interface Tally {
  /** Stored records per seq (saturating at 255). */
  counts: Uint8Array;
  /** Records read from the API. */
  records: number;
  /** Records whose message claims one of our seqs but differs from what was written. */
  corrupted: number;
  /** Records that are not ours at all (or claim a seq never written). */
  foreign: number;
  /** The first few stored copies of duplicated seqs: seq → record ids. */
  duplicateIds: Map<number, string[]>;
}

export function newTally(written: number): Tally {
  return { counts: new Uint8Array(written), records: 0, corrupted: 0, foreign: 0, duplicateIds: new Map() };
}

export interface LostRun {
  file: number;
  firstSeq: number;
  lastSeq: number;
  lines: number;
  writtenAt: string;
  /** How the generation holding these lines ended: renamed, copytruncated or still live. */
  generation: 'live' | 'rename' | 'copytruncate';
  generationIndex: number;
}

export interface Findings {
  written: number;
  storedRecords: number;
  storedUnique: number;
  lost: number;
  /** Lost lines in a copytruncate window and absent from its copy (inherent to copytruncate). */
  lostInCopyTruncateWindow: number;
  /** lost − lostInCopyTruncateWindow: loss the pipeline caused. */
  lostUnexplained: number;
  duplicatedLines: number;
  extraCopies: number;
  corrupted: number;
  foreign: number;
  /** Copytruncate window lines that were nonetheless stored (a reader was there in time). */
  windowLinesSaved: number;
  lostRuns: LostRun[];
  duplicateSamples: Array<{ seq: number; copies: number; ids: string[] }>;
}

/**
 * `copies` maps each copytruncate rotation (by its index in journal.rotations) to the
 * seqs found in its copy file.
 */
export function compareLines(
  journal: WriterJournal,
  tally: Tally,
  copies: ReadonlyMap<number, ReadonlySet<number>>,
  maxRuns = 30,
): Findings {
  const files = journal.settings.files;
  const inherent = new Uint8Array(journal.written);
  let windowLinesSaved = 0;
  journal.rotations.forEach((r, i) => {
    if (r.kind !== 'copytruncate') return;
    const inCopy = copies.get(i) ?? new Set<number>();
    for (const seq of windowSeqs(r, files)) {
      if (seq >= journal.written || inCopy.has(seq)) continue;
      if (tally.counts[seq] === 0) inherent[seq] = 1;
      else windowLinesSaved++;
    }
  });
  const byFile = rotationsByFile(journal.rotations, files);
  let lost = 0;
  let lostInWindow = 0;
  let storedUnique = 0;
  let duplicated = 0;
  let extra = 0;
  const runs: LostRun[] = [];
  const open: Array<LostRun | null> = Array.from({ length: files }, () => null);
  for (let seq = 0; seq < journal.written; seq++) {
    const c = tally.counts[seq]!;
    const f = seq % files;
    if (c > 0) {
      storedUnique++;
      if (c > 1) {
        duplicated++;
        extra += c - 1;
      }
      open[f] = null;
      continue;
    }
    lost++;
    if (inherent[seq]) {
      lostInWindow++;
      continue;
    }
    const run = open[f];
    if (run !== null && run !== undefined && run.lastSeq === seq - files) {
      run.lastSeq = seq;
      run.lines++;
    } else {
      const gen = generationOf(byFile[f]!, seq);
      const next: LostRun = {
        file: f,
        firstSeq: seq,
        lastSeq: seq,
        lines: 1,
        writtenAt: new Date(writtenAtMs(journal, seq)).toISOString(),
        generation: gen.endedBy,
        generationIndex: gen.index,
      };
      open[f] = next;
      runs.push(next);
    }
  }
  runs.sort((a, b) => b.lines - a.lines);
  const duplicateSamples = [...tally.duplicateIds.entries()]
    .slice(0, 10)
    .map(([seq, ids]) => ({ seq, copies: tally.counts[seq]!, ids }));
  return {
    written: journal.written,
    storedRecords: tally.records,
    storedUnique,
    lost,
    lostInCopyTruncateWindow: lostInWindow,
    lostUnexplained: lost - lostInWindow,
    duplicatedLines: duplicated,
    extraCopies: extra,
    corrupted: tally.corrupted,
    foreign: tally.foreign,
    windowLinesSaved,
    lostRuns: runs.slice(0, maxRuns),
    duplicateSamples,
  };
}

function* windowSeqs(r: CopyTruncateRotation, files: number): Generator<number> {
  const first = r.windowStartSeq + ((r.file - (r.windowStartSeq % files) + files) % files);
  for (let seq = first; seq < r.windowEndSeq; seq += files) yield seq;
}

/** First seq of each later generation of a file, with the kind of rotation that began it. */
function rotationsByFile(
  rotations: readonly Rotation[],
  files: number,
): Array<Array<{ boundary: number; kind: 'rename' | 'copytruncate' }>> {
  const out = Array.from({ length: files }, () => [] as Array<{ boundary: number; kind: 'rename' | 'copytruncate' }>);
  for (const r of rotations)
    out[r.file]!.push({ boundary: r.kind === 'rename' ? r.nextSeq : r.windowEndSeq, kind: r.kind });
  for (const list of out) list.sort((a, b) => a.boundary - b.boundary);
  return out;
}

function generationOf(
  bounds: ReadonlyArray<{ boundary: number; kind: 'rename' | 'copytruncate' }>,
  seq: number,
): { index: number; endedBy: LostRun['generation'] } {
  let index = 0;
  while (index < bounds.length && bounds[index]!.boundary <= seq) index++;
  return { index, endedBy: index < bounds.length ? bounds[index]!.kind : 'live' };
}
