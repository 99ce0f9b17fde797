/**
 * Where a collect job's lines go: the ingest path's bulk writer (store/bulk-writer.ts, so
 * they reach the day indices with `op_type: create` and the live tail like agent lines).
 * Records from every stream of a job are gathered into one batch (up to `maxBatch`
 * records, or what arrived within `flushMs`) so 50 followed pods make a few `_bulk`
 * requests, not one per line.
 *
 * Contract: `add(records)` resolves once every record is stored (`created`, or `duplicate`:
 * a replay of a line stored before) or finally rejected by the store (counted in
 * `rejected`); items OpenSearch pushes back on, and requests that fail as a whole, are sent
 * again after `retryMs` until the signal fires (then it rejects). Callers advance their
 * position only after it resolves, so a position never runs ahead of the store.
 */
import type { LogRecord } from '../../shared/record.ts';
import type { ItemOutcome } from '../store/bulk-writer.ts';

export interface RecordWriter {
  write(records: readonly LogRecord[]): Promise<ItemOutcome[]>;
}

export interface RecordSinkOptions {
  maxBatch?: number;
  flushMs?: number;
  retryMs?: number;
  signal: AbortSignal;
  onWarn?: (err: unknown) => void;
}

interface Pending {
  records: readonly LogRecord[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

export class RecordSink {
  readonly #writer: RecordWriter;
  readonly #o: Required<Omit<RecordSinkOptions, 'onWarn'>> & Pick<RecordSinkOptions, 'onWarn'>;
  #queue: Pending[] = [];
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  created = 0;
  duplicates = 0;
  rejected = 0;

  constructor(writer: RecordWriter, opts: RecordSinkOptions) {
    this.#writer = writer;
    this.#o = { maxBatch: 1000, flushMs: 50, retryMs: 500, ...opts };
  }

  add(records: readonly LogRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ records, resolve, reject });
      this.#queued += records.length;
      if (this.#queued >= this.#o.maxBatch) this.#kick();
      else this.#timer ??= setTimeout(() => this.#kick(), this.#o.flushMs);
    });
  }

  #kick(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#flushing) return;
    this.#flushing = this.#drain().finally(() => {
      this.#flushing = undefined;
      if (this.#queue.length) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const batch = this.#queue;
      this.#queue = [];
      this.#queued = 0;
      try {
        await this.#store(batch.flatMap((p) => p.records));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
  }

  async #store(all: readonly LogRecord[]): Promise<void> {
    let todo = all;
    while (todo.length) {
      if (this.#o.signal.aborted) throw this.#o.signal.reason;
      let outcomes: ItemOutcome[];
      try {
        outcomes = await this.#writer.write(todo);
      } catch (err) {
        this.#o.onWarn?.(err);
        await sleep(this.#o.retryMs, this.#o.signal);
        continue;
      }
      const again: LogRecord[] = [];
      outcomes.forEach((o, i) => {
        if (o.kind === 'created') this.created++;
        else if (o.kind === 'duplicate') this.duplicates++;
        else if (o.kind === 'rejected') this.rejected++;
        else again.push(todo[i]!);
      });
      todo = again;
      if (todo.length) await sleep(this.#o.retryMs, this.#o.signal);
    }
  }
}

export { sleep };
