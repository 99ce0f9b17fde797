/**
 * The agent as a factory: `startAgent(config, deps)` wires discover → tail → pipeline
 * (parse, enrich, filter, encode) → batch → send → checkpoint, the collection-config poller,
 * the heartbeat, the pod metadata watch and the telemetry server, and returns a handle.
 * `main.ts` is a thin CLI around it; tests and `npm start` run it in-process.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Pool } from './send/undici-pool.ts';
import { Registry } from 'prom-client';
import { AckTracker } from './batch/ack-tracker.ts';
import { Batcher, type Compressor, type SealedBatch } from './batch/batcher.ts';
import { ByteBudget } from './batch/byte-budget.ts';
import { MemoryGovernor } from './batch/memory-governor.ts';
import { CheckpointStore, type CheckpointEntry } from './checkpoint/checkpoint-store.ts';
import { JournalGate } from './checkpoint/journal-gate.ts';
import type { TrackedFile } from './checkpoint/tracked-file.ts';
import type { AgentConfig } from './config.ts';
import { LogDiscovery } from './discover/log-discovery.ts';
import type { StartedMetadata } from './enrich/pod-metadata.ts';
import { CollectionState } from './filter/collection-state.ts';
import { ConfigPoller } from './filter/config-poller.ts';
import { FilePipeline, type PipelineContext } from './pipeline.ts';
import { HeartbeatSender } from './send/heartbeat.ts';
import { Sender } from './send/sender.ts';
import { AgentEvents } from './telemetry/events.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { createAgentMetrics, type AgentMetrics } from './telemetry/metrics.ts';
import { startTelemetryServer, type HealthReport, type TelemetryServer } from './telemetry/server.ts';
import type { OpenedFile, TailHost } from './tail/file-consumer.ts';
import { FINGERPRINT_BYTES, fingerprintOf } from './tail/file-identity.ts';
import { ReadBufferPool } from './tail/file-tailer.ts';
import { TailManager } from './tail/tail-manager.ts';
import { findCopy } from './tail/find-copy.ts';

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
  /**
   * Starts the pod metadata source; `onChange` must be called whenever pod or namespace
   * metadata changed. Default: from `config.kubernetes` (enrich/pod-watch.ts), none when off.
   */
  metadata?: (onChange: () => void, events: AgentEvents) => Promise<StartedMetadata | null>;
  /** Batch compression (tests inject failures); default gzip on libuv's pool. */
  compress?: Compressor;
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
  /** Polls the collection config now (tests; the poller also runs on its interval). */
  pollConfig(): Promise<void>;
  /**
   * Graceful stop: stop reading, send what is batched, write checkpoints; gives up sending
   * after `graceMs` (default `config.shutdownGraceMs`). Unsent lines are re-read next start.
   */
  stop(graceMs?: number): Promise<void>;
}

const TICK_MS = 100;
/** Checkpoint entries no live file has claimed for this long after start are dropped. */
const STALE_ENTRY_AFTER_START_MS = 60_000;

export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  // Wall-clock start for the heartbeat (`now` may be a test clock): its discard/rejection
  // totals count from here.
  const startedAtWallMs = Date.now();
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
  if (firstStart) await store.flush(true);

  const pipelines = new Map<string, FilePipeline>();
  const state = new CollectionState();
  let checkpointFailures = 0;
  let stopping = false;

  // Bodies and their zlib intermediates are ~2x the body size in garbage.
  const governor = new MemoryGovernor(8 * 1024 * 1024);
  const budget = new ByteBudget(
    config.maxQueueBytes,
    (paused, used) => events.backpressure(paused, used),
    (used) => metrics.queueBytes.set(used),
  );

  const entryOf = (f: TrackedFile, offset: number): CheckpointEntry => {
    const p = f as FilePipeline;
    const inflight = p.inflightPlan(offset);
    return {
      key: f.key,
      path: f.path,
      real_path: f.realPath,
      dev: f.dev,
      ino: f.ino,
      fingerprint: f.fingerprint,
      offset,
      ...(p.generation > 0 ? { generation: p.generation } : {}),
      ...(inflight !== undefined ? { inflight } : {}),
      updated_at: now(),
    };
  };

  /**
   * Checkpoint keys being drained from the copy of a copy-truncated file (restart recovery):
   * reserved before any tailer starts, so no tailer drops their entry meanwhile.
   */
  const copyRecoveries = new Set<string>();

  const finished = (p: FilePipeline): void => {
    copyRecoveries.delete(p.key);
    store.delete(p.key);
    if (pipelines.get(p.key) === p) pipelines.delete(p.key);
  };

  const acks = new AckTracker((file: TrackedFile, offset: number) => {
    const p = file as FilePipeline;
    if (p.ended && offset >= p.endOffset) finished(p);
    else store.set(entryOf(file, offset));
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
        governor.dropped(batch.body.length * 2);
      },
    },
  );

  // Write-ahead: the replay journal of every record in a batch is on disk before the batch
  // is sent (see checkpoint/replay-journal.ts), so a crash between "stored" and
  // "checkpointed" replays exactly the records that may be stored.
  const gate = new JournalGate<SealedBatch>(
    async () => {
      for (const p of pipelines.values()) if (p.journalDirty) store.set(entryOf(p, p.ackedOffset));
      await store.flush();
    },
    (batch) => sender.submit(batch),
    (err) => events.checkpointFailed(err),
  );

  const batcher = new Batcher(
    {
      maxBatchBytes: config.maxBatchBytes,
      maxBatchRecords: config.maxBatchRecords,
      maxBatchAgeMs: config.maxBatchAgeMs,
      minBatchAgeMs: config.minBatchAgeMs,
      gzipLevel: config.gzipLevel,
    },
    acks,
    budget,
    (batch) => gate.submit(batch),
    (err, failures) =>
      log.error({ err: String(err), consecutive_failures: failures }, 'batch compression failed; retrying'),
    deps.compress,
    () => gate.pending === 0 && sender.idle,
  );

  const ctx: PipelineContext = {
    cluster: config.cluster,
    node: config.node,
    format: config.format,
    maxLineBytes: config.maxLineBytes,
    overflow: config.lineOverflow,
    partialFlushMs: config.partialFlushMs,
    multilineFlushMs: config.multilineFlushMs,
    multilineMaxLines: config.multilineMaxLines,
    includeAnnotations: config.includeAnnotations,
    state,
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
        const generation = e.generation ?? 0;
        if (e.offset <= size) {
          return {
            offset: e.offset,
            why: 'checkpoint',
            generation,
            ...(e.inflight !== undefined ? { replay: e.inflight } : {}),
          };
        }
        // Shorter than its checkpoint, same first line: truncated and written again while we
        // were down. The bytes from 0 are new content; under the old identity their ids would
        // be those of the old lines, already stored, and `create` would drop them as
        // duplicates. A new generation gives them ids of their own.
        log.warn(
          { path, file_key: e.key, offset: e.offset, size, generation: generation + 1 },
          'file is shorter than its checkpoint: reading it from 0 as a new generation',
        );
        // The old generation's rest may be being read from a copy (copytruncate while we
        // were down): then its entry stays until that drain is acknowledged.
        if (!copyRecoveries.has(e.key)) store.delete(e.key);
        return { offset: 0, why: 'regenerated', generation: generation + 1 };
      }
      if (firstStart && config.readFrom === 'end' && initialPaths.has(path)) return { offset: size, why: 'policy-end' };
      return { offset: 0, why: 'new' };
    },
    openConsumer(file: OpenedFile) {
      const p = new FilePipeline(ctx, file);
      const old = pipelines.get(p.key);
      if (old !== undefined && old !== p) log.warn({ path: file.path, file_key: p.key }, 'file identity reopened');
      pipelines.set(p.key, p);
      if (store.get(p.key) === undefined) store.set(entryOf(p, file.startOffset));
      return p;
    },
    pathChanged(path) {
      void manager.ensure(path);
    },
  };

  const manager = new TailManager(
    {
      readBufferBytes: config.readBufferBytes,
      pollIntervalMs: config.pollIntervalMs,
      rotateWaitMs: config.rotateWaitMs,
    },
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

  // Control plane (config, heartbeat) on its own connection: never queued behind batches.
  const control = new Pool(new URL(config.aggregatorUrl).origin, { connections: 1, keepAliveTimeout: 30_000 });
  const poller = new ConfigPoller(
    {
      aggregatorUrl: config.aggregatorUrl,
      token: config.token,
      intervalMs: config.configPollIntervalMs,
      requestTimeoutMs: Math.min(config.requestTimeoutMs, 10_000),
      dataDir: config.dataDir,
    },
    control,
    state,
    events,
  );

  const behind = (): number => {
    let sum = 0;
    for (const t of manager.tailers) sum += Math.max(0, t.size - t.ackedOffset);
    return sum;
  };

  const heartbeat = new HeartbeatSender(
    {
      aggregatorUrl: config.aggregatorUrl,
      token: config.token,
      intervalMs: config.heartbeatIntervalMs,
      requestTimeoutMs: Math.min(config.requestTimeoutMs, 10_000),
    },
    control,
    () => ({
      cluster: config.cluster,
      node: config.node,
      agent_version: AGENT_VERSION,
      files_watched: manager.tailers.size,
      bytes_behind: behind(),
      started_at: new Date(startedAtWallMs).toISOString(),
      ...events.reasonTotals(),
      ...(sender.lastAckAtMs > 0 ? { last_ack_at: new Date(sender.lastAckAtMs).toISOString() } : {}),
    }),
    events,
  );

  // Timers: batch age, partial and multiline timeouts, config changes; checkpoints.
  let lastSweep = now();
  const tick = setInterval(() => {
    const t = now();
    for (const p of pipelines.values()) p.tick(t);
    batcher.tick(t);
    metrics.queueBytes.set(budget.bytes);
    metrics.bytesBehind.set(behind());
    if (t - lastSweep > 60_000) {
      lastSweep = t;
      state.rateLimits.sweep(t - 60_000);
    }
  }, TICK_MS);
  tick.unref();

  let recoveryDone = false;
  let checkpointRunning = false;
  const persist = async (): Promise<void> => {
    if (checkpointRunning) return;
    checkpointRunning = true;
    try {
      if (recoveryDone && now() - startedAt > STALE_ENTRY_AFTER_START_MS) {
        for (const e of [...store.all()]) {
          if (!pipelines.has(e.key)) {
            log.info({ path: e.path, file_key: e.key, offset: e.offset }, 'dropping checkpoint of a file that is gone');
            store.delete(e.key);
          }
        }
      }
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
    // A journal that cannot be written holds every batch back (nothing is sent that a replay
    // could not rebuild); compression that keeps failing holds them too. Both end in a
    // paused tail: report it, so the pod is restarted rather than silently stuck.
    ok: !stopping && checkpointFailures < 3 && gate.failures < 3 && batcher.compressFailures < 3,
    journal_failures: gate.failures,
    compression_failures: batcher.compressFailures,
    stopping,
    files_watched: manager.tailers.size,
    queue_bytes: budget.bytes,
    tail_paused: budget.isPaused,
    checkpoint_failures: checkpointFailures,
    last_ack_at: sender.lastAckAtMs > 0 ? new Date(sender.lastAckAtMs).toISOString() : null,
  });

  const server: TelemetryServer = await startTelemetryServer(config.metricsHost, config.metricsPort, registry, health);

  // Collection config before the first line: a restart must not collect what is disabled.
  await poller.start(Math.min(config.requestTimeoutMs, 2000));
  let metadata: StartedMetadata | null = null;
  if (deps.metadata !== undefined) {
    metadata = await deps.metadata(() => state.metadataChanged(), events);
  } else if (config.kubernetes !== 'off') {
    const { startPodWatch } = await import('./enrich/pod-watch.ts');
    metadata = await startPodWatch(
      { kubernetes: config.kubernetes, node: config.node, podDeleteGraceMs: config.podDeleteGraceMs },
      events,
      () => state.metadataChanged(),
    );
  }
  if (metadata !== null) state.setMetadata(metadata);

  // Before any tailer looks at a checkpoint (discovery's first events start tailers).
  await recoverCopies();
  const first = await discovery.start();
  initialPaths = new Set(first);
  await Promise.all(first.map((p) => manager.ensure(p)));
  void recoverRotated().finally(() => {
    recoveryDone = true;
  });
  heartbeat.start();
  events.started({
    version: AGENT_VERSION,
    log_path: config.logPath,
    aggregator: config.aggregatorUrl,
    first_start: firstStart,
    files: first.length,
    metrics_port: server.port,
    kubernetes: metadata !== null,
  });

  /**
   * Files rotated (renamed) while the agent was down still hold lines past their checkpoint.
   * Look for each unclaimed checkpoint's inode in the directory it lived in and drain it.
   */
  async function recoverRotated(): Promise<void> {
    const open = manager.inodes();
    for (const e of [...store.all()]) {
      if (copyRecoveries.has(e.key) || open.has(`${e.dev}:${e.ino}`)) continue;
      const dir = dirname(e.real_path || e.path);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        const p = join(dir, name);
        const st = await stat(p, { bigint: true }).catch(() => null);
        if (st === null || !st.isFile() || String(st.ino) !== e.ino || String(st.dev) !== e.dev) continue;
        if (Number(st.size) <= e.offset) break;
        const fp = await fingerprintFile(p);
        if (fp !== e.fingerprint) break;
        log.info({ path: p, was: e.path, offset: e.offset }, 'draining a file rotated while the agent was down');
        await manager.recover(p);
        break;
      }
    }
  }

  /**
   * Checkpoints whose inode no longer holds their content (copytruncate while the agent was
   * down, or before the old generation's tail was acknowledged: the inode now holds new
   * content or nothing, or a shorter rewrite of the same first line): their rest lives in
   * the copy, another inode with the same first line in the same directory (find-copy.ts,
   * as the live tailer finds it). Drain the copy from the checkpoint under the checkpoint's
   * identity, generation and replay journal, so ids and record grouping match what may be
   * stored already. An inode that still holds the content is left to the tailers and to
   * `recoverRotated` (rename); with neither content nor copy the entry ages out as before.
   *
   * The inode itself may hold a generation nobody read yet: truncated and written again,
   * then renamed away (a rotation) before the agent read past the truncation (it was
   * paused behind a full queue, or down). No checkpoint names that content and no name
   * under the log pattern leads to it, so it is drained here, from 0 under its own
   * identity (the ids it would have had when tailed).
   */
  async function recoverCopies(): Promise<void> {
    const listed = new Map<string, Map<string, { path: string; size: number }>>();
    const inodesIn = async (dir: string): Promise<Map<string, { path: string; size: number }>> => {
      let m = listed.get(dir);
      if (m !== undefined) return m;
      m = new Map();
      listed.set(dir, m);
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const p = join(dir, name);
        const st = await stat(p, { bigint: true }).catch(() => null);
        if (st !== null && st.isFile()) m.set(`${st.dev}:${st.ino}`, { path: p, size: Number(st.size) });
      }
      return m;
    };
    const unread = new Map<string, { path: string; was: string }>();
    for (const e of [...store.all()]) {
      const own = e.real_path || e.path;
      const dir = dirname(own);
      const at = (await inodesIn(dir)).get(`${e.dev}:${e.ino}`);
      if (at !== undefined) {
        const fp = await fingerprintFile(at.path).catch(() => null);
        const latest = store.find(e.dev, e.ino, e.fingerprint)?.key === e.key;
        if (fp === e.fingerprint && at.size >= e.offset && latest) continue;
        // Under its own name the tailers open it (startFor tells new content apart).
        if (fp !== null && fp !== e.fingerprint && at.path !== own && store.find(e.dev, e.ino, fp) === undefined) {
          unread.set(`${e.dev}:${e.ino}`, { path: at.path, was: e.path });
        }
      }
      const copy = await findCopy({
        dir,
        excludePath: at?.path ?? own,
        dev: e.dev,
        ino: e.ino,
        fingerprint: e.fingerprint,
        minSize: e.offset + 1,
      });
      if (copy === null) continue;
      await copy.fh.close().catch(() => undefined);
      copyRecoveries.add(e.key);
      log.info(
        { path: copy.path, was: e.path, file_key: e.key, offset: e.offset, size: copy.size },
        'draining the copy of a file copy-truncated before its tail was acknowledged',
      );
      const start = {
        offset: e.offset,
        why: 'copy-of-truncated',
        generation: e.generation ?? 0,
        ...(e.inflight !== undefined ? { replay: e.inflight } : {}),
      };
      if (!(await manager.recover(copy.path, { dev: e.dev, ino: e.ino, start }))) copyRecoveries.delete(e.key);
    }
    for (const { path, was } of unread.values()) {
      log.info({ path, was }, 'draining a generation written after a truncation and rotated away unread');
      await manager.recover(path);
    }
  }

  const waitAcked = async (deadline: number): Promise<boolean> => {
    while (now() < deadline) {
      if (
        batcher.inCompression === 0 &&
        gate.pending === 0 &&
        sender.pending === 0 &&
        batcher.openRecords === 0 &&
        acks.outstanding === 0
      )
        return true;
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
      await poller.stop();
      heartbeat.stop();
      await discovery.stop();
      await manager.stop();
      clearInterval(tick);
      for (const p of pipelines.values()) p.flushHeld();
      batcher.flush();
      budget.wakeAll();
      const drained = await waitAcked(deadline);
      clearInterval(checkpointTimer);
      while (checkpointRunning) await delay(5);
      await persist();
      gate.close();
      await sender.close();
      await control.destroy().catch(() => undefined);
      await metadata?.stop();
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
    pollConfig: () => poller.poll(5000),
    stop,
  };
}

async function fingerprintFile(path: string): Promise<string | null> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(FINGERPRINT_BYTES);
    const { bytesRead } = await fh.read(buf, 0, FINGERPRINT_BYTES, 0);
    return fingerprintOf(buf, bytesRead);
  } finally {
    await fh.close();
  }
}
