/**
 * One-time and bulk collection: every selected container read once (no follow) with the
 * job's window, `concurrency` containers at a time (and within this replica's stream
 * slots). A read cut mid-way is resumed from its position (up to `readAttempts` reads);
 * an API refusal (pod gone, container waiting, no previous instance) fails that container
 * only: one failed pod never fails the job. Containers already finished in the persisted
 * progress are skipped, so a resumed job continues where its previous owner stopped.
 */
import type { JobContext } from '../jobs/job-runner.ts';
import type { CollectDeps } from './collect-deps.ts';
import type { CollectParams } from './collect-schemas.ts';
import { collectLabels, exclusion, selectContainers, type CollectPod } from './collect-pod.ts';
import {
  Checkpointer,
  podKey,
  podStatus,
  progressFrom,
  summary,
  type CollectProgress,
  type PodProgress,
} from './collect-progress.ts';
import { readContainer } from './container-read.ts';
import type { CollectKube } from './kube-collect-client.ts';
import { RecordSink, sleep } from './record-sink.ts';

/** Pods a job selects now: by name (missing ones reported), or by namespace(s) + selector. */
export async function selectPods(
  kube: CollectKube,
  p: CollectParams,
  signal: AbortSignal,
): Promise<{ pods: CollectPod[]; missing: string[] }> {
  if (p.pods) {
    const ns = p.namespaces![0]!;
    const found = await Promise.all(p.pods.map((name) => kube.getPod(ns, name, signal)));
    return { pods: found.filter((x): x is CollectPod => x !== undefined), missing: p.pods.filter((_, i) => !found[i]) };
  }
  if (p.namespaces === null) return { pods: (await kube.listPods(null, p.label_selector, signal)).pods, missing: [] };
  const lists = await Promise.all(p.namespaces.map((ns) => kube.listPods(ns, p.label_selector, signal)));
  return { pods: lists.flatMap((l) => l.pods), missing: [] };
}

/** Pure-ish: per-namespace annotations, looked up once per namespace. */
export function namespaceAnnotationCache(kube: CollectKube, signal: AbortSignal) {
  const cache = new Map<string, Promise<Record<string, string> | undefined>>();
  return (ns: string) => {
    let v = cache.get(ns);
    if (!v) cache.set(ns, (v = kube.namespaceAnnotations(ns, signal).catch(() => undefined)));
    return v;
  };
}

async function pool<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function runBatchCollection(ctx: JobContext<CollectParams>, deps: CollectDeps) {
  const p = ctx.params;
  const kube = await deps.kube(p.cluster);
  const progress: CollectProgress = progressFrom(ctx.progress);
  const sink = new RecordSink(deps.writer, {
    signal: ctx.signal,
    onWarn: (err) =>
      deps.log.warn({ job: ctx.id, err: (err as Error).message }, 'collect: store write failed; retrying'),
  });
  const cp = new Checkpointer(
    progress,
    (snap) => ctx.checkpoint(snap as unknown as Record<string, unknown>),
    deps.timing.checkpointIntervalMs,
  );
  try {
    const config = await deps.collectionConfig(p.cluster);
    const nsAnnotations = namespaceAnnotationCache(kube, ctx.signal);
    const { pods, missing } = await selectPods(kube, p, ctx.signal);
    for (const name of missing) {
      const key = podKey(p.namespaces![0]!, name);
      progress.pods[key] ??= {
        namespace: p.namespaces![0]!,
        pod: name,
        uid: '',
        status: 'failed',
        error: 'pod not found',
        containers: {},
      };
    }
    const tasks: Array<{ pod: CollectPod; name: string; containerId: string; entry: PodProgress }> = [];
    for (const pod of pods) {
      const key = podKey(pod.namespace, pod.name);
      const entry = (progress.pods[key] ??= {
        namespace: pod.namespace,
        pod: pod.name,
        uid: pod.uid,
        status: 'pending',
        error: null,
        containers: {},
      });
      const annotations = await nsAnnotations(pod.namespace);
      for (const c of selectContainers(pod, p.containers, p.include_init_containers)) {
        const cp0 = (entry.containers[c.name] ??= {
          status: 'pending',
          error: null,
          position: null,
          lines: 0,
          bytes: 0,
        });
        if (cp0.status !== 'pending' && cp0.status !== 'running') continue;
        const reason = exclusion(config, pod, c.name, annotations);
        if (reason) {
          cp0.status = 'excluded';
          cp0.reason = reason;
          if (!config.enabled || config.namespace_overrides[pod.namespace]?.enabled === false)
            progress.excluded_namespaces[pod.namespace] = reason;
          continue;
        }
        tasks.push({ pod, name: c.name, containerId: p.previous ? c.previousContainerId : c.containerId, entry });
      }
      if (p.containers && Object.keys(entry.containers).length === 0) {
        entry.error = `none of the containers ${p.containers.join(', ')} is in the pod`;
        entry.status = 'failed';
      } else entry.status = podStatus(entry);
    }
    cp.markDirty();
    await pool(tasks, p.concurrency, async (task) => {
      const c = task.entry.containers[task.name]!;
      const release = await deps.slots.acquire(p.cluster, ctx.signal);
      try {
        c.status = 'running';
        task.entry.status = podStatus(task.entry);
        const labels = collectLabels(task.pod, ctx.id);
        for (let attempt = 1; ; attempt++) {
          const out = await readContainer({
            kube,
            cluster: p.cluster,
            pod: task.pod,
            container: task.name,
            containerId: task.containerId,
            previous: p.previous,
            follow: false,
            from: c.position ?? undefined,
            window: {
              ...(p.since_time !== null ? { sinceTime: p.since_time } : {}),
              ...(p.tail_lines !== null ? { tailLines: p.tail_lines } : {}),
              ...(p.limit_bytes !== null ? { limitBytes: Math.max(1, p.limit_bytes - c.bytes) } : {}),
            },
            labels,
            sink,
            signal: ctx.signal,
            onStored: (pos, lines, bytes) => {
              c.position = pos;
              c.lines += lines;
              c.bytes += bytes;
              progress.lines += lines;
              progress.bytes += bytes;
              cp.markDirty();
            },
          });
          if (out.end === 'eof' || (p.limit_bytes !== null && c.bytes >= p.limit_bytes)) {
            c.status = 'done';
            c.error = null;
            break;
          }
          const e = out.error!;
          const final = (e.status >= 400 && e.status < 500 && e.status !== 429) || attempt >= deps.timing.readAttempts;
          c.error = e.status ? `HTTP ${e.status}: ${e.message}` : e.message;
          if (final) {
            c.status = 'failed';
            break;
          }
          await sleep(deps.timing.reconnectMinMs * attempt, ctx.signal);
        }
      } finally {
        release();
        task.entry.status = podStatus(task.entry);
        cp.markDirty();
      }
    });
    cp.markDirty();
    await cp.flush();
    return summary(progress);
  } finally {
    cp.stop();
  }
}
