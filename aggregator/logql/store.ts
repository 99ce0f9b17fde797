/**
 * What the engine needs from storage: entries of the streams a selector matches, in one
 * time range, in timestamp order. The OpenSearch adapter (planning / push-down, later)
 * implements it; `InMemoryLogStore` implements it for tests and benchmarks.
 *
 * Contract of `select`:
 * - every entry whose stream labels satisfy all `matchers` and whose timestamp t has
 *   `startNs <= t < endNs`, ordered by t ascending (`forward`) or descending (`backward`)
 *   across all streams; ties in any stable order;
 * - `hint` is an optional pre-filter the store MAY apply (a line lacking a `lineContains`
 *   literal or holding a `lineExcludes` one can never pass the pipeline); the engine
 *   re-applies the exact filters, so a store that ignores the hint is still correct;
 * - iteration stops early when the consumer stops (`return()` on the iterator) or `signal`
 *   aborts; a store error rejects the iteration.
 */
import type { Matcher } from './ast.ts';
import { compileMatcher, type Labels, type ValueTest } from './pipeline.ts';

export interface StoreEntry {
  tsNs: bigint;
  line: string;
  /** Stream labels (stream-labels.ts); shared by all entries of a stream, never mutated. */
  labels: Labels;
  /** Structured metadata (`detected_level`); shared, never mutated. */
  meta: Labels;
}

export interface PreFilterHint {
  /** Case-sensitive literals every line must contain. */
  lineContains: string[];
  /** Case-sensitive literals no line may contain. */
  lineExcludes: string[];
}

export interface SelectRequest {
  matchers: Matcher[];
  startNs: bigint;
  endNs: bigint;
  direction: 'forward' | 'backward';
  hint: PreFilterHint;
  signal?: AbortSignal | undefined;
}

export interface LogStore {
  select(req: SelectRequest): AsyncIterable<StoreEntry>;
}

export interface MemoryStream {
  labels: Labels;
  /** Entries in any order; `meta` defaults to none. */
  entries: { tsNs: bigint; line: string; meta?: Labels }[];
}

/** A LogStore over streams held in memory (tests, benchmarks). Applies the hint, as a real store would. */
export class InMemoryLogStore implements LogStore {
  readonly #streams: MemoryStream[];
  /** Requests seen, for tests that check what the engine asked for. */
  readonly requests: SelectRequest[] = [];

  constructor(streams: MemoryStream[]) {
    this.#streams = streams;
  }

  async *select(req: SelectRequest): AsyncIterable<StoreEntry> {
    this.requests.push(req);
    const tests: { name: string; test: ValueTest }[] = req.matchers.map((m) => ({
      name: m.name,
      test: compileMatcher(m),
    }));
    const out: StoreEntry[] = [];
    for (const s of this.#streams) {
      if (!tests.every((t) => t.test(s.labels[t.name] ?? ''))) continue;
      for (const e of s.entries) {
        if (e.tsNs < req.startNs || e.tsNs >= req.endNs) continue;
        if (req.hint.lineContains.some((l) => !e.line.includes(l))) continue;
        if (req.hint.lineExcludes.some((l) => e.line.includes(l))) continue;
        out.push({ tsNs: e.tsNs, line: e.line, labels: s.labels, meta: e.meta ?? {} });
      }
    }
    out.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
    if (req.direction === 'backward') out.reverse();
    for (const e of out) {
      if (req.signal?.aborted) return;
      yield e;
    }
  }
}
