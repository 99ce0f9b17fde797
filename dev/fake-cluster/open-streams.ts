// Registry of long-lived responses (watches, followed logs) so the server can
// end them on demand: closeWatches(), an outage, shutdown.

export type StreamKind = 'watch' | 'log';

export class OpenStreams {
  readonly #streams = new Map<() => void, StreamKind>();

  /** Registers `end`; returns the function to call when the stream ends by itself. */
  add(kind: StreamKind, end: () => void): () => void {
    this.#streams.set(end, kind);
    return () => this.#streams.delete(end);
  }

  count(kind?: StreamKind): number {
    let n = 0;
    for (const k of this.#streams.values()) if (kind === undefined || k === kind) n++;
    return n;
  }

  /** Ends every registered stream of `kind` (all when omitted). */
  endAll(kind?: StreamKind): void {
    for (const [end, k] of [...this.#streams]) {
      if (kind === undefined || k === kind) {
        this.#streams.delete(end);
        end();
      }
    }
  }
}
