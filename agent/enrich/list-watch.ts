/**
 * A list+watch cache of one Kubernetes resource collection (e.g. `/api/v1/pods` with a field
 * selector), with add / update / delete callbacks: what the agent needs from an informer,
 * without @kubernetes/client-node (~77 MiB of RSS to import).
 *
 * Protocol: list in pages (`limit`/`continue`), replace the cache (emitting adds, updates
 * and deletes for the difference), then watch from the list's resourceVersion with
 * `allowWatchBookmarks` and a jittered `timeoutSeconds`, reading newline-delimited JSON
 * incrementally. A watch that ends normally is resumed from the last seen resourceVersion
 * (bookmarks advance it). 410 Gone — HTTP status, ERROR event, or an expired `continue` —
 * relists at once. Any other failure (connection refused, 5xx, 401, broken stream) is
 * retried forever with capped, jittered backoff, resuming the watch where it was; a 2xx
 * answer to another watch on the same client ends the wait early (the API is back).
 *
 * Concurrency: callbacks run on the event loop, in event order, never after stop() resolved.
 */
import { backoffDelayMs } from '../send/backoff.ts';
import { KubeApiError, readJson, type KubeClient } from './kube-client.ts';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
}

export interface KubeObject {
  metadata?: ObjectMeta;
}

export type RestartReason = 'relist' | 'resume' | 'error';

export interface ListWatchHandlers<T> {
  add(obj: T): void;
  update(obj: T, previous: T): void;
  delete(obj: T): void;
  /** A list after the first (`relist`), a watch connection after the first (`resume`), or a failure (`error`). */
  restart?(reason: RestartReason, err?: unknown): void;
}

export interface ListWatchOptions {
  /** Collection path, e.g. `/api/v1/pods`. */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** Items per list page. Default 500. */
  pageSize?: number;
  /** Server-side watch duration; each watch uses a value in [t, 2t). Default 300. */
  watchTimeoutSeconds?: number;
  /** Retry backoff bounds after errors. Defaults 500 ms and 30 s. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  random?: () => number;
}

/** Cache key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function keyOf(md: ObjectMeta | undefined): string | undefined {
  if (md?.name === undefined) return undefined;
  return md.namespace === undefined || md.namespace === '' ? md.name : `${md.namespace}/${md.name}`;
}

/**
 * Splits a byte stream into lines (pure, incremental). Keeps the partial last line, as
 * bytes, until its newline arrives; a multi-byte character split across chunks is safe
 * because decoding happens per complete line.
 */
export class LineSplitter {
  private rest: Buffer | null = null;

  /** Complete lines in `chunk` (with what was pending), without their newlines; empty lines skipped. */
  push(chunk: Buffer): string[] {
    const buf = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    const lines: string[] = [];
    let start = 0;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, start)) {
      if (i > start) lines.push(buf.toString('utf8', start, i));
      start = i + 1;
    }
    this.rest = start < buf.length ? buf.subarray(start) : null;
    return lines;
  }

  /** Bytes of an unfinished line. */
  get pendingBytes(): number {
    return this.rest?.length ?? 0;
  }
}

export interface Delta<T> {
  added: T[];
  updated: { obj: T; previous: T }[];
  deleted: T[];
}

/**
 * What changed between the cache and a fresh list (pure). An object whose resourceVersion
 * is unchanged is not an update.
 */
export function relistDelta<T extends KubeObject>(
  cache: ReadonlyMap<string, T>,
  listed: ReadonlyMap<string, T>,
): Delta<T> {
  const d: Delta<T> = { added: [], updated: [], deleted: [] };
  for (const [k, obj] of listed) {
    const prev = cache.get(k);
    if (prev === undefined) d.added.push(obj);
    else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) d.updated.push({ obj, previous: prev });
  }
  for (const [k, prev] of cache) if (!listed.has(k)) d.deleted.push(prev);
  return d;
}

/** Query of one list page or one watch request (pure). */
export function requestQuery(
  opts: Pick<ListWatchOptions, 'fieldSelector' | 'labelSelector'>,
  kind: { list: { limit: number; continue?: string } } | { watch: { resourceVersion: string; timeoutSeconds: number } },
): URLSearchParams {
  const q = new URLSearchParams();
  if (opts.fieldSelector !== undefined) q.set('fieldSelector', opts.fieldSelector);
  if (opts.labelSelector !== undefined) q.set('labelSelector', opts.labelSelector);
  if ('list' in kind) {
    q.set('limit', String(kind.list.limit));
    if (kind.list.continue !== undefined) q.set('continue', kind.list.continue);
  } else {
    q.set('watch', 'true');
    q.set('allowWatchBookmarks', 'true');
    q.set('resourceVersion', kind.watch.resourceVersion);
    q.set('timeoutSeconds', String(kind.watch.timeoutSeconds));
  }
  return q;
}

/** Shortest interval between two early ends of a watch's backoff by a sibling's 2xx. */
const WAKE_INTERVAL_MS = 1000;

class Expired extends Error {
  constructor(message: string) {
    super(`410 Expired: ${message}`);
    this.name = 'Expired';
  }
}

class Stopped extends Error {}

interface WatchEvent {
  type?: string;
  object?: { metadata?: ObjectMeta; code?: number; reason?: string; message?: string };
}

function isGone(err: unknown): boolean {
  return (
    err instanceof Expired || (err instanceof KubeApiError && (err.statusCode === 410 || err.reason === 'Expired'))
  );
}

export class ListWatch<T extends KubeObject> {
  private readonly client: KubeClient;
  private readonly opts: ListWatchOptions;
  private readonly handlers: ListWatchHandlers<T>;
  private readonly cache = new Map<string, T>();
  private readonly abort = new AbortController();
  private rv = '';
  private lists = 0;
  private watches = 0;
  private running: Promise<void> | null = null;
  /** Ends the current backoff wait early (set while waiting). */
  private wakeUp: (() => void) | null = null;
  /** When a sibling's 2xx last ended a backoff wait early. */
  private lastWokenAtMs = 0;

  constructor(client: KubeClient, opts: ListWatchOptions, handlers: ListWatchHandlers<T>) {
    this.client = client;
    this.opts = opts;
    this.handlers = handlers;
  }

  /** Last resourceVersion seen (list, event or bookmark); '' before the first list. */
  get resourceVersion(): string {
    return this.rv;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  get size(): number {
    return this.cache.size;
  }

  /**
   * Starts the loop; resolves after the first list attempt (successful or not). Never
   * rejects: failures are reported through `restart('error')` and retried.
   */
  start(): Promise<void> {
    if (this.running !== null) throw new Error('ListWatch already started');
    let firstListDone!: () => void;
    const first = new Promise<void>((resolve) => {
      firstListDone = resolve;
    });
    // Another watch on the same client just got an answer: the API is back, retry now.
    const unsubscribe = this.client.onSuccess(() => this.wakeUp?.());
    this.running = this.loop(firstListDone).finally(unsubscribe);
    return first;
  }

  /** Aborts the open request and any backoff wait; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(firstListDone: () => void): Promise<void> {
    let needList = true;
    let attempt = 0;
    while (!this.stopped) {
      try {
        if (needList) {
          try {
            await this.list();
          } finally {
            firstListDone();
          }
          needList = false;
        }
        await this.watch(() => {
          attempt = 0;
        });
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          needList = true;
          continue;
        }
        this.handlers.restart?.('error', err);
        attempt++;
        const delay = backoffDelayMs(
          attempt,
          this.opts.retryBaseMs ?? 500,
          this.opts.retryMaxMs ?? 30_000,
          null,
          this.opts.random ?? Math.random,
        );
        await this.sleep(delay);
      }
    }
  }

  /**
   * Waits `ms`, or until stop(), or until a 2xx on another watch of the same client (the API
   * is back) — at most once per WAKE_INTERVAL_MS, so watches failing right after their 2xx
   * cannot wake each other in a tight loop.
   */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort.signal;
      const done = (): void => {
        this.wakeUp = null;
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      // Unref'd: a watch waiting to retry must not keep the process alive by itself.
      const timer = setTimeout(done, ms).unref();
      signal.addEventListener('abort', done);
      this.wakeUp = () => {
        const now = Date.now();
        if (now - this.lastWokenAtMs < WAKE_INTERVAL_MS) return;
        this.lastWokenAtMs = now;
        done();
      };
    });
  }

  private async list(): Promise<void> {
    if (++this.lists > 1) this.handlers.restart?.('relist');
    const listed = new Map<string, T>();
    let cont: string | undefined;
    let rv = '';
    do {
      const q = requestQuery(this.opts, {
        list: { limit: this.opts.pageSize ?? 500, ...(cont === undefined ? {} : { continue: cont }) },
      });
      const body = await this.client.get(this.opts.path, q, { signal: this.abort.signal, bodyTimeoutMs: 60_000 });
      const page = (await readJson(body)) as {
        metadata?: { resourceVersion?: string; continue?: string };
        items?: T[];
      };
      for (const item of page.items ?? []) {
        const k = keyOf(item.metadata);
        if (k !== undefined) listed.set(k, item);
      }
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
    } while (cont !== undefined);
    if (this.stopped) throw new Stopped();
    const d = relistDelta(this.cache, listed);
    for (const obj of d.deleted) {
      const k = keyOf(obj.metadata);
      if (k !== undefined) this.cache.delete(k);
      this.handlers.delete(obj);
    }
    for (const obj of d.added) {
      this.cache.set(keyOf(obj.metadata) as string, obj);
      this.handlers.add(obj);
    }
    for (const { obj, previous } of d.updated) {
      this.cache.set(keyOf(obj.metadata) as string, obj);
      this.handlers.update(obj, previous);
    }
    this.rv = rv;
  }

  /** One watch request; returns when the server ends it normally, throws otherwise. */
  private async watch(connected: () => void): Promise<void> {
    const base = this.opts.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(base + base * (this.opts.random ?? Math.random)());
    const q = requestQuery(this.opts, { watch: { resourceVersion: this.rv, timeoutSeconds } });
    const body = await this.client.get(this.opts.path, q, {
      signal: this.abort.signal,
      // The server ends the watch after timeoutSeconds; silence well past that is a dead connection.
      bodyTimeoutMs: (timeoutSeconds + 30) * 1000,
    });
    if (++this.watches > 1) this.handlers.restart?.('resume');
    const startedMs = Date.now();
    const lines = new LineSplitter();
    let healthy = false;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      for (const line of lines.push(chunk)) {
        if (this.stopped) throw new Stopped();
        this.apply(JSON.parse(line) as WatchEvent);
        if (!healthy) {
          // Reset the backoff only once the stream delivered something valid.
          healthy = true;
          connected();
        }
      }
    }
    // A watch the server ends at once without a single event would otherwise reconnect in a tight loop.
    if (!healthy && Date.now() - startedMs < 1000) throw new Error('watch ended immediately without events');
  }

  private apply(ev: WatchEvent): void {
    const obj = ev.object;
    if (ev.type === 'ERROR') {
      if (obj?.code === 410 || obj?.reason === 'Expired' || obj?.reason === 'Gone')
        throw new Expired(obj?.message ?? '');
      throw new KubeApiError(obj?.code ?? 500, obj?.reason ?? '', obj?.message ?? 'watch ERROR event');
    }
    const rv = obj?.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      if (rv !== undefined) this.rv = rv;
      return;
    }
    const k = keyOf(obj?.metadata);
    if (k === undefined) return;
    const o = obj as T;
    if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
      const prev = this.cache.get(k);
      this.cache.set(k, o);
      if (prev === undefined) this.handlers.add(o);
      else this.handlers.update(o, prev);
    } else if (ev.type === 'DELETED') {
      const prev = this.cache.get(k);
      this.cache.delete(k);
      this.handlers.delete(prev ?? o);
    }
    if (rv !== undefined) this.rv = rv;
  }
}
