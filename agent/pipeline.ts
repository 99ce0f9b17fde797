/**
 * The per-file chain of stages after the tailer: decode (parse) → enrich → filter
 * (exclusion, multiline, min level, rate limit) → encode → batch. One FilePipeline per file
 * identity; it is the tailer's FileConsumer, the decoder's sink and the checkpoint tracker's
 * TrackedFile.
 *
 * Hot path: `push` runs the chain synchronously for a whole chunk; counters are aggregated
 * per chunk and handed to telemetry once; the clock is read once per chunk; the filter
 * decision and the record metadata are recomputed only when the shared CollectionState
 * version moved (config or pod metadata changed), checked once per chunk.
 *
 * When the next stage is busy: nothing here waits. The batcher never blocks; memory is
 * bounded upstream by the tailer's ByteBudget check before each read.
 */
import { fileKey } from '../shared/ids.ts';
import type { DiscardReason } from '../shared/reasons.ts';
import type { Level } from '../shared/record.ts';
import type { AckTracker } from './batch/ack-tracker.ts';
import type { Batcher } from './batch/batcher.ts';
import { ReplayJournal, type InflightPlan } from './checkpoint/replay-journal.ts';
import type { TrackedFile } from './checkpoint/tracked-file.ts';
import { pathMeta, type PathMeta } from './enrich/path-meta.ts';
import { recordLabels, type PodMeta } from './enrich/pod-metadata.ts';
import { RecordEncoder, type RecordMeta } from './enrich/record-encoder.ts';
import { decideFile, LEVEL_RANK, type FileDecision } from './filter/collection-filter.ts';
import type { CollectionState } from './filter/collection-state.ts';
import { MultilineMerger } from './filter/multiline.ts';
import type { TokenBucket } from './filter/rate-limiter.ts';
import { detectLevel } from './parse/level.ts';
import { LineDecoder, type LogFormat } from './parse/line-decoder.ts';
import type { LineAnomaly, LogicalLine, LogicalLineSink } from './parse/logical-line.ts';
import type { OverflowPolicy } from './parse/partial-joiner.ts';
import type { AgentEvents } from './telemetry/events.ts';
import type { EndReason, FileConsumer, OpenedFile } from './tail/file-consumer.ts';

export interface PipelineContext {
  readonly cluster: string;
  readonly node: string;
  readonly format: LogFormat;
  readonly maxLineBytes: number;
  readonly overflow: OverflowPolicy;
  readonly partialFlushMs: number;
  readonly multilineFlushMs: number;
  readonly multilineMaxLines: number;
  readonly includeAnnotations: readonly string[];
  readonly state: CollectionState;
  readonly batcher: Batcher;
  readonly acks: AckTracker;
  readonly events: AgentEvents;
  readonly now: () => number;
  /** The pipeline ended and everything it read is acknowledged (or nothing was left). */
  finished(p: FilePipeline): void;
}

interface ForcedGroup {
  first: LogicalLine;
  last: LogicalLine;
  /** The recorded end of the record. */
  end: number;
  parts: string[];
}

function forcedLine(g: ForcedGroup): LogicalLine {
  if (g.parts.length === 1) return g.first;
  const f = g.first;
  return {
    offset: f.offset,
    spanStart: f.spanStart,
    end: g.last.end,
    multi: true,
    timestamp: f.timestamp,
    stream: f.stream,
    message: g.parts.join('\n'),
    anomaly: f.anomaly,
  };
}

const ANOMALIES: readonly (LineAnomaly | 'multiline_capped')[] = [
  'parse_failed',
  'line_split',
  'line_truncated',
  'partial_flushed',
  'multiline_capped',
];
const ANOMALY_INDEX: Readonly<Record<string, number>> = Object.fromEntries(ANOMALIES.map((a, i) => [a, i]));

export class FilePipeline implements FileConsumer, LogicalLineSink, TrackedFile {
  readonly key: string;
  readonly path: string;
  readonly realPath: string;
  readonly dev: string;
  readonly ino: string;
  readonly fingerprint: string;
  readonly generation: number;
  readonly meta: PathMeta;
  ackedOffset: number;
  dirty = false;
  /** Set by `end`: the floor at which this identity is complete. */
  endOffset = -1;
  private readonly ctx: PipelineContext;
  private readonly decoder: LineDecoder;
  private readonly encoder: RecordEncoder;
  private readonly merger: MultilineMerger;
  private multiline = false;
  private decision: FileDecision;
  private bucket: TokenBucket | null = null;
  private stateVersion = -1;
  private podUid = '';
  private podLabelsJson = '';
  private nowMs = 0;
  private records = 0;
  private readonly anomalyCounts = [0, 0, 0, 0, 0];
  private readonly discards = new Map<DiscardReason, number>();
  /** [start, end) pairs of emitted multi-line records not yet wholly below the floor. */
  private readonly spans: number[] = [];
  /** What a replay of this identity must rebuild; see agent/checkpoint/replay-journal.ts. */
  private readonly journal: ReplayJournal;
  /** Per stream: a recorded grouped record being re-formed during a replay. */
  private readonly forced: [ForcedGroup | null, ForcedGroup | null] = [null, null];
  /** Replayed records that did not fit the journal's spans (see `mismatch`). */
  replayMismatches = 0;

  constructor(ctx: PipelineContext, file: OpenedFile) {
    this.ctx = ctx;
    this.path = file.path;
    this.realPath = file.realPath;
    this.dev = file.dev;
    this.ino = file.ino;
    this.fingerprint = file.fingerprint;
    this.generation = file.generation ?? 0;
    this.key = fileKey(ctx.cluster, ctx.node, {
      dev: BigInt(file.dev),
      ino: BigInt(file.ino),
      fingerprint: file.fingerprint,
      generation: this.generation,
    });
    const journal = new ReplayJournal(file.replay, file.startOffset);
    this.journal = journal;
    this.ackedOffset = file.startOffset;
    this.meta = pathMeta(file.path, file.realPath);
    this.encoder = new RecordEncoder(this.key, this.recordMeta(undefined));
    this.merger = new MultilineMerger(
      { maxLines: ctx.multilineMaxLines, maxBytes: ctx.maxLineBytes },
      (line, capped, merged) => {
        if (capped) this.anomalyCounts[4]!++;
        this.emit(line, merged);
      },
    );
    this.decision = { exclude: null, minLevelRank: 0, multiline: false, rateLimit: 0, stdout: true, stderr: true, parseJsonFields: false };
    this.refresh();
    this.decoder = new LineDecoder(
      file.startOffset,
      {
        format: ctx.format,
        maxLineBytes: ctx.maxLineBytes,
        overflow: ctx.overflow,
        now: ctx.now,
        untimestamped: (offset) => journal.timestampAt(offset, this.nowMs > 0 ? this.nowMs : ctx.now()),
        ...(journal.hasCuts ? { cutAt: (stream: number, end: number) => journal.isCut(stream, end) } : {}),
      },
      this,
    );
  }

  get ended(): boolean {
    return this.endOffset >= 0;
  }

  /**
   * See TrackedFile.floor. On top of the decoder's and the merger's floors: never resume
   * strictly inside the span of an emitted multi-line record (joined partials with the other
   * stream interleaved, a merged stack trace, a split line) — a restart there would re-read
   * the record's tail pieces as records of their own. Such a floor is moved back to the
   * span's start; the resend then rebuilds the same records with the same ids.
   */
  floor(): number {
    const d = this.decoder.floor();
    const m = this.merger.floor();
    let f = m < d ? m : d;
    const fa = this.forced[0];
    const fb = this.forced[1];
    if (fa !== null && fa.first.spanStart < f) f = fa.first.spanStart;
    if (fb !== null && fb.first.spanStart < f) f = fb.first.spanStart;
    const spans = this.spans;
    if (spans.length === 0) return f;
    let moved = true;
    while (moved) {
      moved = false;
      for (let i = 0; i < spans.length; i += 2) {
        if (spans[i]! < f && f < spans[i + 1]!) {
          f = spans[i]!;
          moved = true;
        }
      }
    }
    // Spans wholly before the floor can never contain a later floor (floors only grow).
    let w = 0;
    for (let i = 0; i < spans.length; i += 2) {
      if (spans[i + 1]! > f) {
        spans[w++] = spans[i]!;
        spans[w++] = spans[i + 1]!;
      }
    }
    spans.length = w;
    return f;
  }

  /** Bytes held in partial state (for memory accounting and tests). */
  get heldBytes(): number {
    return this.decoder.heldBytes;
  }

  /** Current filter decision (tests, debugging). */
  get currentDecision(): FileDecision {
    return this.decision;
  }

  push(chunk: Buffer, offset: number): void {
    this.nowMs = this.ctx.now();
    if (this.stateVersion !== this.ctx.state.version) this.refresh();
    this.decoder.push(chunk, offset);
    this.ctx.acks.touch(this);
    this.report(chunk.length);
  }

  /** Time-based flushes (partial and multiline timeouts), config changes. Called by the agent's tick. */
  tick(nowMs: number): void {
    this.nowMs = nowMs;
    if (this.stateVersion !== this.ctx.state.version) this.refresh();
    // While replaying recorded records, partial lines are cut where the journal says, never
    // by this run's timer (the bytes are on disk; only backpressure can make reading slow).
    let any =
      this.decoder.floor() >= this.journal.replayHi && this.decoder.flushOlderThan(nowMs - this.ctx.partialFlushMs);
    if (this.merger.holding && this.merger.flushIdleSince(nowMs - this.ctx.multilineFlushMs)) any = true;
    if (any) {
      this.ctx.acks.touch(this);
      this.report(0);
    }
  }

  /**
   * Graceful stop: emit held multiline groups (complete lines, held only to see whether a
   * continuation follows). Partial lines stay pending: they are incomplete and are re-read
   * from the checkpoint next start.
   */
  flushHeld(): void {
    if (this.merger.holding) {
      this.merger.flushAll();
      this.ctx.acks.touch(this);
      this.report(0);
    }
  }

  end(_why: EndReason): void {
    this.nowMs = this.ctx.now();
    this.decoder.flushAll();
    this.flushForced(0);
    this.flushForced(1);
    this.merger.flushAll();
    this.endOffset = this.floor();
    this.ctx.acks.touch(this);
    this.report(0);
    if (this.ackedOffset >= this.endOffset) this.ctx.finished(this);
  }

  /** The journal to persist with committed offset `acked` (agent.ts, before each send). */
  inflightPlan(acked: number): InflightPlan | undefined {
    return this.journal.plan(acked);
  }

  /** The journal changed since the last {@link inflightPlan}. */
  get journalDirty(): boolean {
    return this.journal.dirty;
  }

  onLine(line: LogicalLine): void {
    this.records++;
    if (line.anomaly !== null) {
      this.anomalyCounts[ANOMALY_INDEX[line.anomaly]!]!++;
      if (line.anomaly === 'partial_flushed') this.journal.cut(line);
    }
    if (line.spanStart < this.journal.replayHi) {
      this.replayed(line);
      return;
    }
    const idx = line.stream === 'stdout' ? 0 : 1;
    if (this.forced[idx] !== null) this.flushForced(idx);
    this.route(line);
  }

  /**
   * A line below the journal's `hi`: re-form the records exactly as the run that may have
   * sent them did (see replay-journal.ts), never through the multiline merger.
   */
  private replayed(line: LogicalLine): void {
    const idx = line.stream === 'stdout' ? 0 : 1;
    const g = this.forced[idx];
    if (g !== null) {
      g.parts.push(line.message);
      g.last = line;
      if (line.end >= g.end) {
        if (line.end > g.end) this.mismatch(g.first.offset, g.end, line.end);
        this.forced[idx] = null;
        this.route(forcedLine(g));
      }
      return;
    }
    if (line.anomaly !== 'line_split' && line.anomaly !== 'line_truncated') {
      const end = this.journal.plannedEnd(idx, line.spanStart);
      if (end > line.end) {
        this.forced[idx] = { first: line, last: line, end, parts: [line.message] };
        return;
      }
      if (end >= 0 && end < line.end) this.mismatch(line.offset, end, line.end);
    }
    this.route(line);
  }

  /** Emits a re-formed group that did not reach its recorded end (file ended, config changed). */
  private flushForced(idx: number): void {
    const g = this.forced[idx];
    if (g === null || g === undefined) return;
    this.forced[idx] = null;
    this.mismatch(g.first.offset, g.end, g.last.end);
    this.route(forcedLine(g));
  }

  /**
   * A replayed record could not be re-formed with its recorded extent (the bytes or
   * `maxLineBytes` changed): the record goes on as read; its content may overlap what was
   * stored. Rare; logged with where.
   */
  private mismatch(offset: number, recordedEnd: number, end: number): void {
    this.replayMismatches++;
    this.ctx.events.log.warn(
      { path: this.path, file_key: this.key, offset, recorded_end: recordedEnd, end },
      'replayed record does not match the replay journal',
    );
  }

  private route(line: LogicalLine): void {
    const d = this.decision;
    const streamCollected = line.stream === 'stdout' ? d.stdout : d.stderr;
    const ex = d.exclude !== null ? d.exclude : streamCollected ? null : 'excluded_by_config';
    if (ex !== null) {
      if (line.multi) this.spans.push(line.spanStart, line.end);
      this.discard(ex);
      return;
    }
    if (this.multiline && line.spanStart >= this.journal.replayHi) this.merger.push(line, this.nowMs);
    else this.emit(line);
  }

  /** `merged`: a multiline group (several logical lines), recorded in the replay journal. */
  private emit(line: LogicalLine, merged = false): void {
    if (line.multi) this.spans.push(line.spanStart, line.end);
    this.journal.record(line, merged);
    const d = this.decision;
    const level: Level = detectLevel(line.message);
    if (d.minLevelRank > 0) {
      const rank = LEVEL_RANK[level];
      if (rank >= 0 && rank < d.minLevelRank) {
        this.discard('below_min_level');
        return;
      }
    }
    if (this.bucket !== null && !this.bucket.take(this.nowMs)) {
      this.discard('rate_limited');
      return;
    }
    this.ctx.batcher.append(
      this.encoder.encode(line.offset, line.timestamp, line.stream, level, line.message, d.parseJsonFields),
      this.nowMs,
    );
  }

  private discard(reason: DiscardReason): void {
    this.discards.set(reason, (this.discards.get(reason) ?? 0) + 1);
  }

  /** Recompute the filter decision and record metadata from the shared state. */
  private refresh(): void {
    const state = this.ctx.state;
    this.stateVersion = state.version;
    const m = this.meta;
    const pod = m.kubernetes ? this.lookupPod() : undefined;
    const nsAnn = m.kubernetes ? state.metadata?.namespaceAnnotations(m.namespace) : undefined;
    const decision = decideFile(state.config, m, { pod: pod?.annotations, namespace: nsAnn, podLabels: pod?.labels });
    this.decision = decision;
    this.bucket =
      decision.rateLimit > 0
        ? state.rateLimits.bucket(`${m.namespace}/${m.pod}`, decision.rateLimit, this.nowMs || this.ctx.now())
        : null;
    const multiline = decision.multiline && decision.exclude === null;
    if (this.multiline && !multiline) this.merger.flushAll();
    this.multiline = multiline;
    const uid = m.podUid !== '' ? m.podUid : (pod?.uid ?? '');
    const labels = recordLabels(pod, this.ctx.includeAnnotations);
    const labelsJson = JSON.stringify(labels);
    if (uid !== this.podUid || labelsJson !== this.podLabelsJson) {
      this.podUid = uid;
      this.podLabelsJson = labelsJson;
      this.encoder.setMeta(this.recordMeta(pod, labels));
    }
  }

  /** The pod this file belongs to; with a uid from the path, never a same-named successor. */
  private lookupPod(): PodMeta | undefined {
    const md = this.ctx.state.metadata;
    if (md === null) return undefined;
    const m = this.meta;
    if (m.podUid !== '') {
      const byUid = md.podByUid?.(m.podUid);
      if (byUid !== undefined) return byUid;
      const byName = md.pod(m.namespace, m.pod);
      return byName !== undefined && byName.uid === m.podUid ? byName : undefined;
    }
    return md.pod(m.namespace, m.pod);
  }

  private report(bytes: number): void {
    const d = this.decoder;
    this.ctx.events.linesRead(bytes, d.linesRead, this.records);
    d.linesRead = 0;
    this.records = 0;
    for (let i = 0; i < ANOMALIES.length; i++) {
      if (this.anomalyCounts[i]! > 0) {
        this.ctx.events.anomalies(ANOMALIES[i]!, this.anomalyCounts[i]!);
        this.anomalyCounts[i] = 0;
      }
    }
    if (this.discards.size > 0) {
      for (const [reason, n] of this.discards) this.ctx.events.discarded(reason, n);
      this.discards.clear();
    }
  }

  private recordMeta(pod: PodMeta | undefined, labels: Record<string, string> = {}): RecordMeta {
    return {
      cluster: this.ctx.cluster,
      node: this.ctx.node,
      namespace: this.meta.namespace,
      pod: this.meta.pod,
      container: this.meta.container,
      containerId: this.meta.containerId,
      podUid: this.meta.podUid !== '' ? this.meta.podUid : (pod?.uid ?? ''),
      labels,
    };
  }
}
