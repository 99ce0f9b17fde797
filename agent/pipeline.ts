/**
 * The per-file chain of stages after the tailer: decode (parse) → enrich → filter →
 * encode → batch. One FilePipeline per file identity; it is the tailer's FileConsumer, the
 * decoder's sink and the checkpoint tracker's TrackedFile.
 *
 * Hot path: `push` runs the chain synchronously for a whole chunk; counters are aggregated
 * per chunk and handed to telemetry once; the clock is read once per chunk.
 *
 * When the next stage is busy: nothing here waits. The batcher never blocks; memory is
 * bounded upstream by the tailer's ByteBudget check before each read.
 */
import { fileKey } from '../shared/ids.ts';
import type { DiscardReason } from '../shared/reasons.ts';
import type { Level } from '../shared/record.ts';
import type { AckTracker } from './batch/ack-tracker.ts';
import type { Batcher } from './batch/batcher.ts';
import type { TrackedFile } from './checkpoint/tracked-file.ts';
import { pathMeta, type PathMeta } from './enrich/path-meta.ts';
import { RecordEncoder, type RecordMeta } from './enrich/record-encoder.ts';
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
  readonly batcher: Batcher;
  readonly acks: AckTracker;
  readonly events: AgentEvents;
  readonly now: () => number;
  /** The pipeline ended and everything it read is acknowledged (or nothing was left). */
  finished(p: FilePipeline): void;
}

const ANOMALIES: readonly LineAnomaly[] = ['parse_failed', 'line_split', 'line_truncated', 'partial_flushed'];

export class FilePipeline implements FileConsumer, LogicalLineSink, TrackedFile {
  readonly key: string;
  readonly path: string;
  readonly dev: string;
  readonly ino: string;
  readonly fingerprint: string;
  readonly meta: PathMeta;
  ackedOffset: number;
  dirty = false;
  /** Set by `end`: the floor at which this identity is complete. */
  endOffset = -1;
  private readonly ctx: PipelineContext;
  private readonly decoder: LineDecoder;
  private readonly encoder: RecordEncoder;
  private nowMs = 0;
  private records = 0;
  private readonly anomalyCounts = [0, 0, 0, 0];
  private readonly discards = new Map<DiscardReason, number>();

  constructor(ctx: PipelineContext, file: OpenedFile) {
    this.ctx = ctx;
    this.path = file.path;
    this.dev = file.dev;
    this.ino = file.ino;
    this.fingerprint = file.fingerprint;
    this.key = fileKey(ctx.cluster, ctx.node, { dev: BigInt(file.dev), ino: BigInt(file.ino), fingerprint: file.fingerprint });
    this.ackedOffset = file.startOffset;
    this.meta = pathMeta(file.path);
    this.encoder = new RecordEncoder(this.key, this.recordMeta());
    this.decoder = new LineDecoder(
      file.startOffset,
      { format: ctx.format, maxLineBytes: ctx.maxLineBytes, overflow: ctx.overflow, now: ctx.now },
      this,
    );
  }

  get ended(): boolean {
    return this.endOffset >= 0;
  }

  floor(): number {
    return this.decoder.floor();
  }

  /** Bytes held in partial state (for memory accounting and tests). */
  get heldBytes(): number {
    return this.decoder.heldBytes;
  }

  push(chunk: Buffer, offset: number): void {
    this.nowMs = this.ctx.now();
    this.decoder.push(chunk, offset);
    this.ctx.acks.touch(this);
    this.report(chunk.length);
  }

  /** Time-based flushes (partial timeout). Called by the agent's tick. */
  tick(nowMs: number): void {
    this.nowMs = nowMs;
    if (this.decoder.flushOlderThan(nowMs - this.ctx.partialFlushMs)) {
      this.ctx.acks.touch(this);
      this.report(0);
    }
  }

  end(_why: EndReason): void {
    this.nowMs = this.ctx.now();
    this.decoder.flushAll();
    this.endOffset = this.decoder.floor();
    this.ctx.acks.touch(this);
    this.report(0);
    if (this.ackedOffset >= this.endOffset) this.ctx.finished(this);
  }

  onLine(line: LogicalLine): void {
    this.records++;
    if (line.anomaly !== null) this.anomalyCounts[ANOMALIES.indexOf(line.anomaly)]!++;
    this.emit(line);
  }

  private emit(line: LogicalLine): void {
    const level: Level = detectLevel(line.message);
    this.ctx.batcher.append(
      this.encoder.encode(line.offset, line.timestamp, line.stream, level, line.message),
      this.nowMs,
    );
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

  private recordMeta(): RecordMeta {
    return {
      cluster: this.ctx.cluster,
      node: this.ctx.node,
      namespace: this.meta.namespace,
      pod: this.meta.pod,
      container: this.meta.container,
      containerId: this.meta.containerId,
      podUid: '',
      labels: {},
    };
  }
}
