/**
 * Continuous collection: follows every selected container of the namespace until the job
 * is cancelled or its `end_time`, and picks up pods that start matching later (a LIST +
 * WATCH of the namespace's pods, relisted whenever the watch ends).
 *
 * Per container one worker loops: open a follow stream, store what it brings, and when it
 * ends — rotation, idle timeout, a clean EOF after hours, a reset mid-line, an API server
 * restart, the container exiting — wait (`reconnectMinMs`, doubling on consecutive failures
 * up to `reconnectMaxMs`), re-read the pod and reconnect from the last stored line
 * (resume-position.ts deduplicates the replayed second). When the pod shows a new container
 * instance, the missing tail of the previous one is read once (`previous=true` from the
 * stored position) before the new instance is followed from its first line. A deleted pod's
 * workers end. Pods that existed at submission start with the job's window; pods created
 * later are read from their first line.
 *
 * The collection config and the namespace's annotations are re-read every `configRefreshMs`:
 * a container they rule out from then on stops being followed (`excluded`), one they let in
 * again resumes from its position.
 *
 * Positions are persisted (collect-progress.ts) so that the replica that takes the job over
 * resumes every container where it was; what was stored after the last checkpoint is read
 * again and lands on the same ids.
 */
import type { JobContext } from '../jobs/job-runner.ts';
import { parseRfc3339Nanos } from '../../shared/time.ts';
import type { CollectDeps } from './collect-deps.ts';
import type { CollectParams } from './collect-schemas.ts';
import { collectLabels, exclusion, selectContainers, type CollectPod } from './collect-pod.ts';
import { Checkpointer, podKey, podStatus, progressFrom, summary, type PodProgress } from './collect-progress.ts';
import { freshPosition, readContainer } from './container-read.ts';
import { RecordSink, sleep } from './record-sink.ts';
import { abortAt } from './abort-at.ts';

export async function runContinuousCollection(ctx: JobContext<CollectParams>, deps: CollectDeps) {
  const p = ctx.params;
  const ns = p.namespaces![0]!;
  const kube = await deps.kube(p.cluster);
  const progress = progressFrom(ctx.progress);
  const t = deps.timing;
  const ended = new AbortController();
  const endNs = p.end_time ? parseRfc3339Nanos(p.end_time) : undefined;
  // Chained timers: a plain setTimeout over ~24.8 days fires at once (abort-at.ts).
  const clearEnd = endNs !== undefined ? abortAt(endNs, ended, 'end_time') : () => {};
  const stop = AbortSignal.any([ctx.signal, ended.signal]);
  const sink = new RecordSink(deps.writer, {
    signal: stop,
    onWarn: (err) =>
      deps.log.warn({ job: ctx.id, err: (err as Error).message }, 'collect: store write failed; retrying'),
  });
  const cp = new Checkpointer(
    progress,
    (snap) => ctx.checkpoint(snap as unknown as Record<string, unknown>),
    t.checkpointIntervalMs,
  );
  let config = await deps.collectionConfig(p.cluster);
  let nsAnnotations = await kube.namespaceAnnotations(ns, ctx.signal).catch(() => undefined);
  const submittedNs = parseRfc3339Nanos(p.submitted_at) ?? 0n;
  const pods = new Map<string, CollectPod>();
  const workers = new Map<string, Promise<void>>();
  /** Per worker: aborted when the collection config excludes its container from now on. */
  const excluders = new Map<string, AbortController>();
  const waiters = new Map<string, Set<() => void>>();
  const wake = (uid: string) => {
    for (const w of waiters.get(uid) ?? []) w();
    waiters.delete(uid);
  };
  const waitChange = (uid: string, ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const set = waiters.get(uid) ?? new Set();
      waiters.set(uid, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      signal.addEventListener('abort', done, { once: true });
    });

  const worker = async (uid: string, name: string, entry: PodProgress, excluded: AbortSignal) => {
    const c = entry.containers[name]!;
    // The worker ends with the job, or when the config excludes its container.
    const wstop = AbortSignal.any([stop, excluded]);
    let failures = 0;
    try {
      while (!wstop.aborted) {
        const pod = pods.get(uid);
        if (!pod) {
          c.status = 'gone';
          break;
        }
        const cs = pod.containers.find((x) => x.name === name);
        if (!cs || !cs.started || !cs.containerId) {
          await waitChange(uid, 1000, wstop);
          continue;
        }
        const labels = collectLabels(pod, ctx.id);
        const base = { kube, cluster: p.cluster, pod, container: name, labels, sink, signal: wstop, untilNs: endNs };
        const stored = (pos: NonNullable<typeof c.position>, lines: number, bytes: number) => {
          c.position = pos;
          c.lines += lines;
          c.bytes += bytes;
          progress.lines += lines;
          progress.bytes += bytes;
          cp.markDirty();
        };
        if (c.position && c.position.container_id !== cs.containerId) {
          // A new instance: first the missing tail of the one we were reading, once.
          const old = c.position;
          if (
            old.last_ts !== '' &&
            c.previous_read !== old.container_id &&
            cs.previousContainerId === old.container_id
          ) {
            const out = await readContainer({
              ...base,
              containerId: old.container_id,
              previous: true,
              follow: false,
              from: old,
              window: {},
              onStored: stored,
            });
            if (out.end === 'error' && !(out.error!.status >= 400 && out.error!.status < 500)) {
              c.error = `previous instance: ${out.error!.message}`;
              await sleep(t.reconnectMinMs, wstop);
              continue;
            }
            c.previous_read = old.container_id;
          }
          c.position = freshPosition(cs.containerId);
          cp.markDirty();
          continue;
        }
        const first = c.position === null;
        const window =
          first && pod.createdNs <= submittedNs
            ? {
                ...(p.since_time !== null ? { sinceTime: p.since_time } : {}),
                ...(p.tail_lines !== null ? { tailLines: p.tail_lines } : {}),
              }
            : {};
        const release = await deps.slots.acquire(p.cluster, wstop);
        c.status = 'running';
        entry.status = podStatus(entry);
        let out;
        try {
          out = await readContainer({
            ...base,
            containerId: cs.containerId,
            previous: false,
            follow: true,
            from: c.position ?? undefined,
            window,
            onStored: stored,
            // The kubelet may already run a new instance the pod status does not show yet.
            stillCurrent: async () =>
              (await kube.getPod(ns, pod.name, wstop))?.containers.find((x) => x.name === name)?.containerId ===
              cs.containerId,
          });
        } finally {
          release();
        }
        if (out.end === 'stale') {
          // Nothing stored: look at the pod again (the new instance, its previous one's tail first).
          const fresh = await kube.getPod(ns, pod.name, wstop).catch(() => pod);
          if (!fresh || fresh.uid !== uid) pods.delete(uid);
          else pods.set(uid, fresh);
          continue;
        }
        // From now on the instance is known: a later read starts at its first line or the position.
        c.position ??= freshPosition(cs.containerId);
        if (out.end === 'eof') {
          failures = 0;
          c.error = null;
        } else {
          failures++;
          c.error = out.error!.status ? `HTTP ${out.error!.status}: ${out.error!.message}` : out.error!.message;
        }
        cp.markDirty();
        await sleep(
          failures === 0 ? t.reconnectMinMs : Math.min(t.reconnectMaxMs, t.reconnectMinMs * 2 ** failures),
          wstop,
        );
        // The pod as it is now (a restart shows as a new container id; a deleted pod ends the worker).
        const fresh = await kube.getPod(ns, pod.name, wstop).catch(() => pod);
        if (!fresh || fresh.uid !== uid) pods.delete(uid);
        else pods.set(uid, fresh);
      }
    } finally {
      // A read or a wait ends by throwing the abort. Ended by end_time: the container was
      // followed to the end of the job (done); a cancel leaves it as it was (the job ends
      // cancelled); otherwise the pod went away.
      if (excluded.aborted && !stop.aborted) {
        // The collection config rules the container out now (reconcile set the reason); a
        // later config that lets it in again starts a new worker from the stored position.
        c.status = 'excluded';
        workers.delete(`${uid}/${name}`);
        excluders.delete(`${uid}/${name}`);
      } else if (c.status === 'running' && !ctx.signal.aborted) c.status = ended.signal.aborted ? 'done' : 'gone';
      entry.status = podStatus(entry);
      cp.markDirty();
    }
  };

  const reconcile = (pod: CollectPod, deleted: boolean) => {
    if (p.pods && !p.pods.includes(pod.name)) return;
    if (deleted) {
      pods.delete(pod.uid);
      wake(pod.uid);
      return;
    }
    pods.set(pod.uid, pod);
    wake(pod.uid);
    const key = podKey(pod.namespace, pod.name);
    let entry = progress.pods[key];
    if (!entry || entry.uid !== pod.uid) {
      entry = progress.pods[key] = {
        namespace: pod.namespace,
        pod: pod.name,
        uid: pod.uid,
        status: 'pending',
        error: null,
        containers: {},
      };
      cp.markDirty();
    }
    for (const c of selectContainers(pod, p.containers, p.include_init_containers)) {
      const wkey = `${pod.uid}/${c.name}`;
      const reason = exclusion(config, pod, c.name, nsAnnotations);
      if (workers.has(wkey)) {
        const excluder = excluders.get(wkey);
        if (reason && excluder && !excluder.signal.aborted) {
          entry.containers[c.name]!.reason = reason;
          if (!config.enabled || config.namespace_overrides[pod.namespace]?.enabled === false)
            progress.excluded_namespaces[pod.namespace] = reason;
          excluder.abort('excluded');
        }
        continue;
      }
      const cprog = (entry.containers[c.name] ??= {
        status: 'pending',
        error: null,
        position: null,
        lines: 0,
        bytes: 0,
      });
      if (reason) {
        cprog.status = 'excluded';
        cprog.reason = reason;
        if (!config.enabled || config.namespace_overrides[pod.namespace]?.enabled === false)
          progress.excluded_namespaces[pod.namespace] = reason;
        entry.status = podStatus(entry);
        cp.markDirty();
        continue;
      }
      const e = entry;
      if (cprog.status === 'excluded') {
        cprog.status = 'pending';
        delete cprog.reason;
      }
      const excluder = new AbortController();
      excluders.set(wkey, excluder);
      workers.set(
        wkey,
        worker(pod.uid, c.name, e, excluder.signal).catch((err: unknown) => {
          if (!stop.aborted && !excluder.signal.aborted)
            deps.log.warn(
              { job: ctx.id, pod: key, container: c.name, err: (err as Error).message },
              'collect: container worker failed',
            );
        }),
      );
    }
  };

  // The collection config and the namespace's exclusion annotations apply while the job
  // runs, as the agent applies a change within seconds: re-read both, stop the containers
  // they now rule out, start those they let in again (from their stored position). Pod
  // annotations need no re-read: the pod watch delivers their changes.
  // One read at a time: on a slow store two overlapping reads could resolve out of order,
  // and an older answer (say, still disabled) would undo the newer one.
  let reading = false;
  const refresh = setInterval(() => {
    if (reading) return;
    reading = true;
    Promise.all([
      deps.collectionConfig(p.cluster),
      // An API error keeps the annotations last read (a namespace gone reads as none).
      kube.namespaceAnnotations(ns, stop).catch(() => nsAnnotations),
    ])
      .finally(() => (reading = false))
      .then(
        ([next, nextAnnotations]) => {
          if (stop.aborted) return;
          if (
            JSON.stringify(next) === JSON.stringify(config) &&
            JSON.stringify(nextAnnotations) === JSON.stringify(nsAnnotations)
          )
            return;
          config = next;
          nsAnnotations = nextAnnotations;
          for (const n of Object.keys(progress.excluded_namespaces))
            if (config.enabled && config.namespace_overrides[n]?.enabled !== false)
              delete progress.excluded_namespaces[n];
          for (const pod of [...pods.values()]) reconcile(pod, false);
          cp.markDirty();
        },
        (err: unknown) =>
          deps.log.warn(
            { job: ctx.id, err: (err as Error).message },
            'collect: reading the collection config failed; the last one still applies',
          ),
      );
  }, t.configRefreshMs);

  try {
    let backoff = t.reconnectMinMs;
    while (!stop.aborted) {
      try {
        const list = await kube.listPods(ns, p.label_selector, stop);
        const uids = new Set(list.pods.map((x) => x.uid));
        for (const [uid, pod] of pods) if (!uids.has(uid)) reconcile(pod, true);
        for (const pod of list.pods) reconcile(pod, false);
        backoff = t.reconnectMinMs;
        await new Promise<void>((resolve) => {
          let stopWatch: (() => void) | undefined;
          const onAbort = () => {
            stopWatch?.();
            resolve();
          };
          stop.addEventListener('abort', onAbort, { once: true });
          kube
            .watchPods(
              ns,
              p.label_selector,
              list.resourceVersion,
              (e) => reconcile(e.pod, e.type === 'DELETED'),
              () => {
                stop.removeEventListener('abort', onAbort);
                resolve();
              },
            )
            .then(
              (s) => {
                stopWatch = s;
                if (stop.aborted) s();
              },
              () => resolve(),
            );
        });
      } catch (err) {
        if (stop.aborted) break;
        deps.log.warn({ job: ctx.id, err: (err as Error).message }, 'collect: listing pods failed; retrying');
        backoff = Math.min(t.reconnectMaxMs, backoff * 2);
      }
      await sleep(backoff, stop).catch(() => {});
    }
    await Promise.all(workers.values());
  } finally {
    clearEnd();
    clearInterval(refresh);
    cp.stop();
  }
  ctx.signal.throwIfAborted();
  await cp.flush();
  return summary(progress);
}
