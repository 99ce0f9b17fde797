/**
 * This replica's budget of open `pods/log` streams: at most `perCluster` per cluster and
 * `overall` in all. A stream waits for a slot (first come, first served among those a freed
 * slot can serve; a cluster at its limit never blocks another); an aborted wait leaves the queue.
 * Single-threaded: plain counters. The submit-time limits (collect-limits.ts) keep the sum
 * over jobs within the same numbers across replicas; this keeps one replica honest when
 * continuous jobs pick up more pods than they reserved.
 */
export class StreamSlots {
  readonly #perCluster: number;
  readonly #overall: number;
  readonly #open = new Map<string, number>();
  #total = 0;
  readonly #waiters: Array<{ cluster: string; go: () => void }> = [];

  constructor(perCluster: number, overall: number) {
    this.#perCluster = perCluster;
    this.#overall = overall;
  }

  /** Open streams now (of `cluster`, or all). */
  open(cluster?: string): number {
    return cluster === undefined ? this.#total : (this.#open.get(cluster) ?? 0);
  }

  #free(cluster: string): boolean {
    return this.#total < this.#overall && (this.#open.get(cluster) ?? 0) < this.#perCluster;
  }

  #take(cluster: string): () => void {
    this.#total++;
    this.#open.set(cluster, (this.#open.get(cluster) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      this.#open.set(cluster, (this.#open.get(cluster) ?? 1) - 1);
      this.#wakeWaiters();
    };
  }

  #wakeWaiters(): void {
    for (let i = 0; i < this.#waiters.length;) {
      const w = this.#waiters[i]!;
      if (this.#free(w.cluster)) {
        this.#waiters.splice(i, 1);
        w.go();
      } else i++;
    }
  }

  /** Resolves with the slot's release function; rejects when `signal` fires first. */
  acquire(cluster: string, signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    // FIFO within a cluster only: a waiter of a cluster at its own limit must not hold up
    // the streams of other clusters (continuous follows may keep it there for hours).
    if (this.#free(cluster) && !this.#waiters.some((w) => w.cluster === cluster))
      return Promise.resolve(this.#take(cluster));
    return new Promise((resolve, reject) => {
      const w = {
        cluster,
        go: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(this.#take(cluster));
        },
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(w);
    });
  }
}
