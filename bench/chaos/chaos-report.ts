/** The human-readable table of a chaos run (stderr); the JSON line is the record. Pure. */

interface ReportInput {
  command: string;
  writer: { written: number; achieved_lines_per_s: number; rotations_rename: number; rotations_copytruncate: number };
  chaos: Array<{ kind: string; at_s: number; back_s: number | null }>;
  caught_up: boolean;
  drain_s: number;
  stored_in_opensearch: number;
  read_through_api: number;
  lines_written: number;
  lines_lost: number;
  lines_lost_copytruncate_window: number;
  lines_duplicated: number;
  extra_copies: number;
  corrupted: number;
  foreign: number;
  delay_ms: { p50: number | null; p99: number | null; max: number | null };
  lost_runs: Array<{
    file: number;
    firstSeq: number;
    lastSeq: number;
    lines: number;
    writtenAt: string;
    generation: string;
    generationIndex: number;
  }>;
  duplicate_samples: Array<{ seq: number; copies: number; ids: string[] }>;
  goal_met: boolean;
}

export function formatReport(r: ReportInput): string {
  const kinds = new Map<string, number>();
  for (const e of r.chaos) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
  const rows: Array<[string, string]> = [
    ['command', r.command],
    ['lines written', `${r.lines_written} (${r.writer.achieved_lines_per_s} lines/s)`],
    ['rotations', `${r.writer.rotations_rename} rename, ${r.writer.rotations_copytruncate} copytruncate`],
    ['chaos', [...kinds].map(([k, n]) => `${n}× ${k}`).join(', ') || 'none'],
    ['caught up', `${r.caught_up ? 'yes' : 'NO'} (drain ${r.drain_s} s)`],
    ['stored (OpenSearch / API)', `${r.stored_in_opensearch} / ${r.read_through_api}`],
    ['LOST', `${r.lines_lost}${r.lines_lost ? '  ✗' : '  ✓'}`],
    [
      'lost in copytruncate window',
      `${r.lines_lost_copytruncate_window} (written between copy and truncate; not in the copy)`,
    ],
    ['DUPLICATED', `${r.lines_duplicated} lines, ${r.extra_copies} extra copies${r.lines_duplicated ? '  ✗' : '  ✓'}`],
    ['corrupted / foreign', `${r.corrupted} / ${r.foreign}`],
    ['delay write → stored', `p50 ${r.delay_ms.p50} ms, p99 ${r.delay_ms.p99} ms, max ${r.delay_ms.max} ms`],
    ['goal (0 lost, 0 duplicated)', r.goal_met ? 'met' : 'NOT met'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  let out = `\n${rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n')}\n`;
  if (r.lost_runs.length) {
    out += '\n  largest runs of lost lines (file, seqs, lines, written at, generation ended by):\n';
    for (const l of r.lost_runs.slice(0, 10)) {
      out += `    file ${l.file}  ${l.firstSeq}…${l.lastSeq}  ${l.lines}  ${l.writtenAt}  gen ${l.generationIndex} ${l.generation}\n`;
    }
  }
  if (r.duplicate_samples.length) {
    out += '\n  duplicated lines (seq: ids of the stored copies):\n';
    for (const d of r.duplicate_samples.slice(0, 5)) out += `    ${d.seq}: ${d.ids.join(' ')}\n`;
  }
  out += `\n  chaos timeline (s): ${r.chaos.map((e) => `${e.kind}@${e.at_s}→${e.back_s ?? '?'}`).join('  ')}\n\n`;
  return out;
}
