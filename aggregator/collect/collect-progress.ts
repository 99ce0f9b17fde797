/**
 * The progress of a collect job as persisted in its job document (`progress`), and its
 * summary (the job result and the API's per-pod view). Pure data, plus the checkpointer
 * that persists it: at most every `intervalMs` while anything changed, and once at the end,
 * so a replica that takes the job over resumes each container from its stored position.
 */
import type { ContainerPosition } from './resume-position.ts';

export type PodState = 'pending' | 'running' | 'done' | 'failed' | 'excluded' | 'gone';

export interface ContainerProgress {
  status: PodState;
  error: string | null;
  /** Exclusion reason (`excluded_by_config`, `excluded_by_annotation`). */
  reason?: string;
  position: ContainerPosition | null;
  lines: number;
  bytes: number;
  /** Continuous: the instance whose missing tail was read after a restart (read once). */
  previous_read?: string;
}

export interface PodProgress {
  namespace: string;
  pod: string;
  uid: string;
  status: PodState;
  error: string | null;
  containers: Record<string, ContainerProgress>;
}

export interface CollectProgress {
  pods: Record<string, PodProgress>;
  lines: number;
  bytes: number;
  /** Namespaces not collected, and why (a namespace disabled by the collection config). */
  excluded_namespaces: Record<string, string>;
}

export function emptyProgress(): CollectProgress {
  return { pods: {}, lines: 0, bytes: 0, excluded_namespaces: {} };
}

/** Pure: a persisted progress, or an empty one when it is absent or not ours. */
export function progressFrom(raw: Record<string, unknown> | null): CollectProgress {
  if (!raw || typeof raw['pods'] !== 'object' || raw['pods'] === null) return emptyProgress();
  const p = raw as unknown as CollectProgress;
  return { pods: p.pods, lines: p.lines ?? 0, bytes: p.bytes ?? 0, excluded_namespaces: p.excluded_namespaces ?? {} };
}

export const podKey = (namespace: string, pod: string) => `${namespace}/${pod}`;

/** Pure: a pod's status from its containers' (failed if any failed, excluded if all were). */
export function podStatus(p: PodProgress): PodState {
  const states = Object.values(p.containers).map((c) => c.status);
  if (states.length === 0) return p.status;
  if (states.includes('failed')) return 'failed';
  if (states.every((s) => s === 'excluded')) return 'excluded';
  if (states.every((s) => s === 'done' || s === 'excluded')) return 'done';
  if (states.every((s) => s === 'gone' || s === 'done' || s === 'excluded')) return 'gone';
  return states.includes('running') ? 'running' : 'pending';
}

/** Pure: counts for the job result and the API. */
export function summary(p: CollectProgress) {
  const pods = Object.values(p.pods);
  const count = (s: PodState) => pods.filter((x) => x.status === s).length;
  return {
    pods_total: pods.length,
    pods_done: count('done'),
    pods_failed: count('failed'),
    pods_excluded: count('excluded'),
    lines: p.lines,
    bytes: p.bytes,
    failed: pods
      .filter((x) => x.status === 'failed')
      .map((x) => ({ pod: podKey(x.namespace, x.pod), error: x.error ?? firstError(x) })),
    excluded: pods.flatMap((x) =>
      Object.entries(x.containers)
        .filter(([, c]) => c.status === 'excluded')
        .map(([name, c]) => ({
          pod: podKey(x.namespace, x.pod),
          container: name,
          reason: c.reason ?? 'excluded_by_config',
        })),
    ),
    excluded_namespaces: p.excluded_namespaces,
  };
}

function firstError(p: PodProgress): string | null {
  for (const c of Object.values(p.containers)) if (c.error) return c.error;
  return null;
}

/** Persists progress in the background while a job runs. */
export class Checkpointer {
  readonly #save: (p: CollectProgress) => Promise<void>;
  readonly #progress: CollectProgress;
  readonly #timer: NodeJS.Timeout;
  #dirty = false;
  #saving: Promise<void> | undefined;

  constructor(progress: CollectProgress, save: (p: CollectProgress) => Promise<void>, intervalMs: number) {
    this.#progress = progress;
    this.#save = save;
    this.#timer = setInterval(() => void this.flush().catch(() => {}), intervalMs);
    this.#timer.unref();
  }

  markDirty(): void {
    this.#dirty = true;
  }

  /** Writes now when anything changed (waits for a write in flight first). */
  async flush(): Promise<void> {
    await this.#saving;
    if (!this.#dirty) return;
    this.#dirty = false;
    // A snapshot: the live object keeps changing while the write is in flight.
    const snapshot = structuredClone(this.#progress);
    this.#saving = this.#save(snapshot).catch((err: unknown) => {
      this.#dirty = true;
      throw err;
    });
    try {
      await this.#saving;
    } finally {
      this.#saving = undefined;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
