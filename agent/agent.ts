/**
 * The agent as a factory: `startAgent(config, deps)` wires discover → tail → pipeline
 * (parse, enrich, filter, encode) → batch → send → checkpoint, starts the telemetry server
 * and returns a handle. `main.ts` is a thin CLI around it; tests and `npm start` run it
 * in-process.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { AckTracker } from './batch/ack-tracker.ts';
import { Batcher, type SealedBatch } from './batch/batcher.ts';
import { ByteBudget } from './batch/byte-budget.ts';
import { CheckpointStore } from './checkpoint/checkpoint-store.ts';
import type { TrackedFile } from './checkpoint/tracked-file.ts';
import type { AgentConfig } from './config.ts';
import { LogDiscovery } from './discover/log-discovery.ts';
import { FilePipeline, type PipelineContext } from './pipeline.ts';
import { Sender } from './send/sender.ts';
import { AgentEvents } from './telemetry/events.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { createAgentMetrics, type AgentMetrics } from './telemetry/metrics.ts';
import { startTelemetryServer, type HealthReport, type TelemetryServer } from './telemetry/server.ts';
import type { OpenedFile, TailHost } from './tail/file-consumer.ts';
import { ReadBufferPool } from './tail/file-tailer.ts';
import { TailManager } from './tail/tail-manager.ts';

export const AGENT_VERSION = '0.1.0';

export interface AgentDeps {
  /** Root logger; default: pino to stdout at `config.logLevel`. */
  logger?: Logger;
  /** Metrics registry; default: a new one (never prom-client's global registry). */
  registry?: Registry;
  /** Register process metrics (CPU, memory, event loop) on the registry. Default true. */
  processMetrics?: boolean;
  /** Wall clock, ms. */
  now?: () => number;
  /** Randomness for retry jitter. */
  random?: () => number;
}

export interface RunningAgent {
  readonly registry: Registry;
  readonly metrics: AgentMetrics;
  /** Port of /metrics and /healthz. */
  readonly metricsPort: number;
  health(): HealthReport;
  /**
   * Seals the open batch and waits until everything read so far is acknowledged and the
   * checkpoint is written, or until `timeoutMs`. Returns whether it got there.
   */
  flush(timeoutMs?: number): Promise<boolean>;
  /**
   * Graceful stop: stop reading, send what is batched, write checkpoints; gives up sending
   * after `graceMs` (default `config.shutdownGraceMs`). Unsent lines are re-read next start.
   */
  stop(graceMs?: number): Promise<void>;
}

const TICK_MS = 100;

export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const now = deps.now ?? Date.now;
  const log = deps.logger ?? createLogger(config.logLevel, { cluster: config.cluster, node: config.node });
  const registry = deps.registry ?? new Registry();
  const metrics = createAgentMetrics(registry, { processMetrics: deps.processMetrics ?? true });
  const events = new AgentEvents(log, metrics);
  metrics.queueLimitBytes.set(config.maxQueueBytes);

  const store = await CheckpointStore.open(config.dataDir);
  if (store.recoveredFrom !== null) {
    log.error({ moved_to: store.recoveredFrom }, 'checkpoint file unreadable; moved aside, starting as on first start');
  }
  const firstStart = store.firstStart;
  // Persist an (empty) checkpoint file at once, so a crash before the first ack is not a
  // second "first start" that would apply the existing-files policy again.
  if (firstStart) {
    store.set({ key: '_', path: '', dev: '', ino: '', fingerprint: '', offset: 0, updated_at: now() });
    store.delete('_');
    await store.flush();
  }

  const pipelines = new Map<string, FilePipeline>();
  let checkpointFailures = 0;
  let stopping = false;

  const budget = new ByteBudget(
    config.maxQueueBytes,
    (paused, used) => events.backpressure(paused, used),
    (used) => metrics.queueBytes.set(used),
  );

  const finished = (p: FilePipeline): void => {
    store.delete(p.key);
    if (pipelines.get(p.key) === p) pipelines.delete(p.key);
  };

  const acks = new AckTracker((file: TrackedFile, offset: number) => {
    store.set({
      key: file.key,
      path: file.path,
      dev: file.dev,
      ino: file.ino,
      fingerprint: file.fingerprint,
      offset,
      updated_at: now(),
    });
    const p = file as FilePipeline;
    if (p.ended && offset >= p.endOffset) finished(p);
  });

  const sender = new Sender(
    {
      aggregatorUrl: config.aggregatorUrl,
      token: config.token,
      maxInFlightRequests: config.maxInFlightRequests,
      requestTimeoutMs: config.requestTimeoutMs,
      retryBaseMs: config.retryBaseMs,
      retryMaxMs: config.retryMaxMs,
      gzipLevel: config.gzipLevel,
    },
    {
      events,
      now,
      ...(deps.random ? { random: deps.random } : {}),
      onSettled: (batch: SealedBatch) => {
        budget.release(batch.body.length);
        acks.settle(batch.entry);
      },
    },
  );

  const batcher = new Batcher(
    {
      maxBatchBytes: config.maxBatchBytes,
      maxBatchRecords: config.maxBatchRecords,
      maxBatchAgeMs: config.maxBatchAgeMs,
      gzipLevel: config.gzipLevel,
    },
    acks,
    budget,
    (batch) => sender.submit(batch),
    (err) => log.error({ err: String(err) }, 'batch compression failed'),
  );

  const ctx: PipelineContext = {
    cluster: config.cluster,
    node: config.node,
    format: config.format,
    maxLineBytes: config.maxLineBytes,
    overflow: config.lineOverflow,
    partialFlushMs: config.partialFlushMs,
    batcher,
    acks,
    events,
    now,
    finished,
  };

  let initialPaths = new Set<string>();
  const host: TailHost = {
    startFor(path, dev, ino, fingerprint, size) {
      const e = store.find(dev, ino, fingerprint);
      if (e !== undefined) {
        if (e.offset <= size) return { offset: e.offset, why: 'checkpoint' };
        return { offset: 0, why: 'checkpoint-beyond-eof' };
      }
      if (firstStart && config.readFrom === 'end' && initialPaths.has(path)) return { offset: size, why: 'policy-end' };
      return { offset: 0, why: 'new' };
    },
    openConsumer(file: OpenedFile) {
      const p = new FilePipeline(ctx, file);
      const old = pipelines.get(p.key);
      if (old !== undefined && old !== p) log.warn({ path: file.path, file_key: p.key }, 'file identity reopened');
      pipelines.set(p.key, p);
      if (store.get(p.key) === undefined) {
        store.set({ key: p.key, path: p.path, dev: p.dev, ino: p.ino, fingerprint: p.fingerprint, offset: file.startOffset, updated_at: now() });
      }
      return p;
    },
    pathChanged(path) {
      void manager.ensure(path);
    },
  };

  const manager = new TailManager(
    { readBufferBytes: config.readBufferBytes, pollIntervalMs: config.pollIntervalMs, rotateWaitMs: config.rotateWaitMs },
    { host, budget, events, now, readBuffers: new ReadBufferPool(config.readBufferBytes, 4) },
  );

  const discovery = new LogDiscovery(
    config.logPath,
    config.rescanIntervalMs,
    {
      found: (p) => void manager.ensure(p),
      changed: (p) => manager.changed(p),
      removed: (p) => manager.removed(p),
    },
    events,
  );

  const behind = (): number => {
    let sum = 0;
    for (const t of manager.tailers) sum += Math.max(0, t.size - t.ackedOffset);
    return sum;
  };

  // Timers: batch age and partial timeouts; checkpoint persistence.
  const tick = setInterval(() => {
    const t = now();
    for (const p of pipelines.values()) p.tick(t);
    batcher.tick(t);
    metrics.queueBytes.set(budget.bytes);
    metrics.bytesBehind.set(behind());
  }, TICK_MS);
  tick.unref();

  let checkpointRunning = false;
  const persist = async (): Promise<void> => {
    if (checkpointRunning) return;
    checkpointRunning = true;
    try {
      if (await store.flush()) events.checkpointWritten(store.size, now());
      checkpointFailures = 0;
    } catch (err) {
      checkpointFailures++;
      events.checkpointFailed(err);
    } finally {
      checkpointRunning = false;
    }
  };
  const checkpointTimer = setInterval(() => void persist(), config.checkpointIntervalMs);
  checkpointTimer.unref();

  const health = (): HealthReport => ({
    ok: !stopping && checkpointFailures < 3,
    stopping,
    files_watched: manager.tailers.size,
    queue_bytes: budget.bytes,
    tail_paused: budget.isPaused,
    checkpoint_failures: checkpointFailures,
    last_ack_at: sender.lastAckAtMs > 0 ? new Date(sender.lastAckAtMs).toISOString() : null,
  });

  const server: TelemetryServer = await startTelemetryServer(config.metricsHost, config.metricsPort, registry, health);

  const first = await discovery.start();
  initialPaths = new Set(first);
  for (const p of first) void manager.ensure(p);
  events.started({
    version: AGENT_VERSION,
    log_path: config.logPath,
    aggregator: config.aggregatorUrl,
    first_start: firstStart,
    files: first.length,
    metrics_port: server.port,
  });

  const waitAcked = async (deadline: number): Promise<boolean> => {
    while (now() < deadline) {
      if (batcher.inCompression === 0 && sender.pending === 0 && batcher.openRecords === 0 && acks.outstanding === 0) return true;
      await delay(10);
    }
    return false;
  };

  let stopped: Promise<void> | null = null;
  const stop = (graceMs = config.shutdownGraceMs): Promise<void> => {
    if (stopped !== null) return stopped;
    stopping = true;
    stopped = (async () => {
      const deadline = now() + graceMs;
      await discovery.stop();
      await manager.stop();
      clearInterval(tick);
      batcher.flush();
      budget.wakeAll();
      const drained = await waitAcked(deadline);
      clearInterval(checkpointTimer);
      while (checkpointRunning) await delay(5);
      await persist();
      await sender.close();
      await server.close();
      events.stopped({ drained, queue_bytes: budget.bytes });
    })();
    return stopped;
  };

  return {
    registry,
    metrics,
    metricsPort: server.port,
    health,
    async flush(timeoutMs = 10_000) {
      const deadline = now() + timeoutMs;
      batcher.flush();
      const ok = await waitAcked(deadline);
      if (ok) await persist();
      return ok;
    },
    stop,
  };
}
