/**
 * A list + watch cache of one Kubernetes resource of one cluster, over
 * @kubernetes/client-node's ListWatch: one paged LIST, then a WATCH from its
 * resourceVersion; ListWatch itself resumes a watch that ends and relists on 410 Gone.
 * Readers get the cached objects, so N discovery requests cost no API calls at all.
 *
 * What ListWatch leaves to its user, done here:
 *  - "is the cache current?": `connected` is true only between a watch being
 *    established and that watch ending, after at least one LIST. A cache whose watch is
 *    down may be stale, so readers treat the cluster as unreachable until it is back.
 *  - a LIST or WATCH that fails stops ListWatch for good: after a backoff (1 s doubling
 *    to 30 s) a fresh ListWatch relists from scratch.
 *  - a LIST that hangs: each page is aborted after `listTimeoutMs` (an error, so retried).
 *
 * Started lazily on the first read; `stop()` ends the watch and any pending retry.
 * Single-threaded: no locking; readers see the map ListWatch maintains.
 */
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';

export interface InformerLogger {
  warn(obj: object, msg: string): void;
}

/** Lists one page; must honour the signal (abort the HTTP request). */
export type ListPage<T extends KubernetesObject> = (page: {
  limit: number;
  continue: string | undefined;
  signal: AbortSignal;
}) => Promise<KubernetesListObject<T>>;

export interface ResourceInformerOptions {
  /** Abort a LIST page after this long, ms. */
  listTimeoutMs: number;
  log?: InformerLogger;
}

const PAGE_SIZE = 500;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

export class ResourceInformer<T extends KubernetesObject> {
  readonly #kc: KubeConfig;
  readonly #path: string;
  readonly #listPage: ListPage<T>;
  readonly #opts: ResourceInformerOptions;
  readonly #label: string;
  #lw: ListWatch<T> | undefined;
  #generation = 0;
  #listed = false;
  #watching = false;
  #stopped = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs = RETRY_MIN_MS;
  #waiters = new Set<() => void>();
  #lists = 0;

  constructor(kc: KubeConfig, path: string, listPage: ListPage<T>, opts: ResourceInformerOptions & { label?: string }) {
    this.#kc = kc;
    this.#path = path;
    this.#listPage = listPage;
    this.#opts = opts;
    this.#label = opts.label ?? path;
  }

  /** True when the cache is listed and its watch is up. */
  get connected(): boolean {
    return this.#listed && this.#watching;
  }

  /** Complete LISTs so far (each may be several pages): 1 in a steady state. */
  get lists(): number {
    return this.#lists;
  }

  /** Cached objects, of one namespace or all. Only meaningful while `connected`. */
  list(namespace?: string): readonly T[] {
    return this.#lw?.list(namespace) ?? [];
  }

  /** Starts the informer if needed and waits until it is connected; false after `timeoutMs`. */
  async waitConnected(timeoutMs: number): Promise<boolean> {
    this.#ensureStarted();
    if (this.connected) return true;
    // Failed and waiting to retry: answer now rather than make every request wait out
    // the timeout while the cluster is down.
    if (this.#retryTimer) return false;
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve(this.connected);
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#generation++;
    const lw = this.#lw;
    this.#lw = undefined;
    this.#watching = false;
    for (const w of [...this.#waiters]) w();
    await lw?.stop();
  }

  #ensureStarted() {
    if (this.#lw || this.#stopped || this.#retryTimer) return;
    this.#start();
  }

  #start() {
    this.#retryTimer = undefined;
    const generation = ++this.#generation;
    const current = () => generation === this.#generation && !this.#stopped;
    this.#listed = false;
    this.#watching = false;
    // ListWatch calls `watch()` for every (re)connection and `done` when that watch ends:
    // the wrapper is how we know whether the cache is being kept current.
    const inner = new Watch(this.#kc);
    const watch = {
      watch: async (
        path: string,
        params: Record<string, string | number | boolean | undefined>,
        cb: (phase: string, obj: unknown, raw?: unknown) => void,
        done: (err: unknown) => void,
      ) => {
        // A watch refused outright calls `done` before `watch()` returns: then it never was up.
        let ended = false;
        const controller = await inner.watch(path, { ...params, allowWatchBookmarks: true }, cb, (err: unknown) => {
          ended = true;
          if (current()) this.#watching = false;
          done(err);
        });
        if (current() && !ended) {
          this.#watching = true;
          this.#retryMs = RETRY_MIN_MS;
          this.#wake();
        }
        return controller;
      },
    } as unknown as Watch;
    const lw = new ListWatch<T>(this.#path, watch, () => this.#listAll(current), false);
    lw.on('error', (err: unknown) => {
      if (!current()) return;
      this.#watching = false;
      this.#opts.log?.warn(
        { resource: this.#label, err: (err as Error)?.message ?? String(err) },
        'live cluster view: list/watch failed; retrying',
      );
      void lw.stop();
      this.#lw = undefined;
      this.#wake();
      this.#retryTimer = setTimeout(() => this.#start(), this.#retryMs);
      this.#retryTimer.unref();
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    });
    this.#lw = lw;
    void lw.start();
  }

  /** Every page of the LIST; the list's resourceVersion is the first page's (one consistent snapshot). */
  async #listAll(current: () => boolean): Promise<KubernetesListObject<T>> {
    const items: T[] = [];
    let first: KubernetesListObject<T> | undefined;
    let cont: string | undefined;
    do {
      const signal = AbortSignal.timeout(this.#opts.listTimeoutMs);
      const page = await this.#listPage({ limit: PAGE_SIZE, continue: cont, signal });
      first ??= page;
      items.push(...page.items);
      cont = page.metadata?._continue || undefined;
    } while (cont);
    if (current()) {
      this.#listed = true;
      this.#lists++;
    }
    return { ...first, items };
  }

  #wake() {
    for (const w of [...this.#waiters]) w();
  }
}
