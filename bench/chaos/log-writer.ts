/**
 * The writer process of the chaos run (spawned by chaos.bench.ts; argv[2] is its
 * WriterSettings as JSON). Appends CRI lines at a steady total rate to several container
 * log files and rotates them on schedule, both ways a node does it:
 *
 * - rename (kubelet): rename the file to `<name>.<n>`; the runtime reopens its log only a
 *   moment later, so one more tick of lines still goes to the renamed file, then a fresh
 *   file is opened at the name;
 * - copytruncate (logrotate): copy to `<name>.<n>` while lines keep being appended (the
 *   copy runs on libuv's thread pool, the appends on this thread), then truncate in place.
 *
 * A separate process, so the orchestrator's work (chaos, polling) does not disturb the
 * rate. Prints `{"progress":…}` lines on stdout; on SIGTERM or at the end it stops,
 * writes the journal (writer-journal.ts) and prints `{"done":…}`.
 */
import { closeSync, openSync, renameSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { criLine, containerFileName } from './line-format.ts';
import type { Rotation, WriterJournal, WriterSettings } from './writer-journal.ts';

const TICK_MS = 10;
const s = JSON.parse(process.argv[2] ?? '{}') as WriterSettings;
const paths = Array.from({ length: s.files }, (_, i) => path.join(s.dir, containerFileName(i)));
const fds = paths.map((p) => openSync(p, 'a'));
const rotations: Rotation[] = [];
const progress: Array<[number, number]> = [];
let seq = 0;
let generation = 0;
let stopping = false;
let copying: Promise<void> | null = null;
/** Files renamed away whose writer has not reopened yet: file → the pending rotation. */
const reopen = new Map<number, { kind: 'rename'; file: number; atMs: number; rotatedPath: string }>();
const startedAtMs = Date.now();
const started = performance.now();

function writeDue(): void {
  const due = Math.floor((s.rate * (performance.now() - started)) / 1000);
  if (due <= seq) return;
  const now = Date.now();
  const chunks = paths.map(() => '');
  for (; seq < due; seq++) chunks[seq % s.files] += criLine(seq, s.files, now);
  for (let f = 0; f < s.files; f++) if (chunks[f] !== '') writeSync(fds[f]!, chunks[f]!);
  for (const [f, r] of reopen) {
    // This tick's lines went to the renamed file; the next ones go to a fresh file.
    closeSync(fds[f]!);
    fds[f] = openSync(paths[f]!, 'a');
    rotations.push({ ...r, nextSeq: seq });
    reopen.delete(f);
  }
  if (progress.length === 0 || now - progress.at(-1)![1] >= 100) progress.push([seq, now]);
}

function rotate(k: number): void {
  const file = k % s.files;
  // Alternate kinds, shifted every round so each file sees both.
  const kind = (k + Math.floor(k / s.files)) % 2 === 0 ? 'rename' : 'copytruncate';
  const target = `${paths[file]}.${++generation}`;
  if (kind === 'rename') {
    renameSync(paths[file]!, target);
    reopen.set(file, { kind, file, atMs: Date.now(), rotatedPath: target });
    return;
  }
  if (copying) return; // the previous copy is still running: skip this turn
  const windowStartSeq = seq;
  const atMs = Date.now();
  const t0 = performance.now();
  copying = copyFile(paths[file]!, target).then(() => {
    // Synchronously with the next append: no line is written between this truncate and
    // windowEndSeq being taken, so every line ≥ windowEndSeq is in the new generation.
    truncateSync(paths[file]!, 0);
    rotations.push({
      kind,
      file,
      atMs,
      copyPath: target,
      windowStartSeq,
      windowEndSeq: seq,
      windowMs: performance.now() - t0,
    });
    copying = null;
  });
}

let rotationsDone = 0;
let lastReport = 0;
function tick(): void {
  writeDue();
  const elapsed = performance.now() - started;
  if (s.rotateEveryMs > 0 && elapsed >= (rotationsDone + 1) * s.rotateEveryMs) rotate(rotationsDone++);
  if (elapsed - lastReport >= 5000) {
    lastReport = elapsed;
    process.stdout.write(`${JSON.stringify({ progress: { written: seq, elapsedMs: Math.round(elapsed) } })}\n`);
  }
  if (stopping || elapsed >= s.writeMs) void finish();
  else setTimeout(tick, TICK_MS);
}

let finished = false;
async function finish(): Promise<void> {
  if (finished) return;
  finished = true;
  await copying;
  for (const [, r] of reopen) rotations.push({ ...r, nextSeq: seq });
  for (const fd of fds) closeSync(fd);
  const journal: WriterJournal = { settings: s, written: seq, startedAtMs, endedAtMs: Date.now(), rotations, progress };
  progress.push([seq, journal.endedAtMs]);
  writeFileSync(s.journalPath, JSON.stringify(journal));
  process.stdout.write(`${JSON.stringify({ done: { written: seq, rotations: rotations.length } })}\n`);
  process.exit(0);
}

process.on('SIGTERM', () => {
  stopping = true;
});
setTimeout(tick, TICK_MS);
