/**
 * Write-ahead gate in front of the sender: a sealed batch is released only after a journal
 * write that started after it was sealed has completed, so the checkpoint file on disk holds
 * the replay journal (replay-journal.ts) of every record of every batch that may have reached
 * the aggregator. Batches arriving while a write runs wait for the next one: one write (and
 * fsync) per burst of batches, not per batch.
 *
 * A failing write is retried with capped backoff, holding the batches (and so, through the
 * byte budget, tailing); `failures` counts consecutive failures for /healthz.
 *
 * Concurrency: single-threaded; `submit` may be called from any callback. Batches are
 * released in submission order.
 */
const RETRY_BASE_MS = 50;
const RETRY_MAX_MS = 5000;

export class JournalGate<B> {
  private readonly write: () => Promise<void>;
  private readonly release: (batch: B) => void;
  private readonly onError: (err: unknown) => void;
  private waiting: B[] = [];
  private inGate = 0;
  private running = false;
  private closed = false;
  /** Consecutive failed writes (0 after a success). */
  failures = 0;

  constructor(write: () => Promise<void>, release: (batch: B) => void, onError: (err: unknown) => void) {
    this.write = write;
    this.release = release;
    this.onError = onError;
  }

  /** Batches submitted and not yet released. */
  get pending(): number {
    return this.inGate;
  }

  submit(batch: B): void {
    this.waiting.push(batch);
    this.inGate++;
    if (!this.running) void this.run();
  }

  /** Stops retrying; batches still held stay unsent (re-read from the checkpoint next start). */
  close(): void {
    this.closed = true;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0 && !this.closed) {
        const batches = this.waiting;
        this.waiting = [];
        for (;;) {
          try {
            await this.write();
            this.failures = 0;
            break;
          } catch (err) {
            this.failures++;
            this.onError(err);
            const ms = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(this.failures - 1, 20));
            await new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
            if (this.closed) return;
          }
        }
        for (const b of batches) {
          this.inGate--;
          this.release(b);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
