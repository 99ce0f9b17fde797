/**
 * What the engine needs from storage: entries of the streams a selector matches, in one
 * time range, in timestamp order. The OpenSearch adapter (planning / push-down, later)
 * implements it; `InMemoryLogStore` implements it for tests and benchmarks.
 *
 * Contract of `select`:
 * - every entry whose stream labels satisfy all `matchers` and whose timestamp t has
 *   `startNs <= t < endNs`, ordered by t ascending (`forward`) or descending (`backward`)
 *   across all streams; ties in the order of the store's `id`;
 * - `after`, when given, resumes strictly past that position in the request's order: the
 *   order is (tsNs, id) ascending (`forward`) or descending (`backward`), `id` being the
 *   store's own tie-breaker, so entries sharing one nanosecond are neither skipped nor
 *   repeated across pages; every entry carries its `position` for the next request;
 * - `hint` is an optional pre-filter the store MAY apply (a line lacking a `lineContains`
 *   literal or holding a `lineExcludes` one can never pass the pipeline); the engine
 *   re-applies the exact filters, so a store that ignores the hint is still correct;
 * - `aggregateWindows`, when a store has it, answers exactly what the engine would compute
 *   from `select` for the request, or undefined;
 * - iteration stops early when the consumer stops (`return()` on the iterator) or `signal`
 *   aborts; a store error rejects the iteration.
 */
import type { Matcher } from './ast.ts';
import { compileMatcher, type Labels, type ValueTest } from './pipeline.ts';
import type { WindowAggregateRequest, WindowAggregateResult } from './metric-push-down.ts';

/** Where an entry sits in a store's total order: its timestamp, then the store's tie-breaker. */
export interface StorePosition {
  tsNs: bigint;
  /** Opaque to the engine; compared as a string, unique per entry within one store. */
  id: string;
}

export interface StoreEntry {
  tsNs: bigint;
  /** The entry's place in the store order, for resuming a read past it (`SelectRequest.after`). */
  position?: StorePosition | undefined;
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
  /** Resume strictly past this position (in `direction`'s order). */
  after?: StorePosition | undefined;
  signal?: AbortSignal | undefined;
}

/** Orders two positions (tsNs, then id); negative when `a` comes first going forward. */
export function comparePositions(a: StorePosition, b: StorePosition): number {
  if (a.tsNs !== b.tsNs) return a.tsNs < b.tsNs ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface LogStore {
  select(req: SelectRequest): AsyncIterable<StoreEntry>;
  /**
   * Optional metric push-down (metric-push-down.ts): per-window record counts (and bytes)
   * by built-in stream labels, computed by the store. Answers undefined when it cannot
   * apply the request *exactly* (the engine then evaluates in process); never an approximation.
   */
  aggregateWindows?(req: WindowAggregateRequest): Promise<WindowAggregateResult | undefined>;
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
    const out: (StoreEntry & { position: StorePosition })[] = [];
    const after = req.after;
    const sign = req.direction === 'backward' ? -1 : 1;
    this.#streams.forEach((s, si) => {
      if (!tests.every((t) => t.test(s.labels[t.name] ?? ''))) return;
      s.entries.forEach((e, ei) => {
        if (e.tsNs < req.startNs || e.tsNs >= req.endNs) return;
        if (req.hint.lineContains.some((l) => !e.line.includes(l))) return;
        if (req.hint.lineExcludes.some((l) => e.line.includes(l))) return;
        // Fixed-width id: string order = (stream, entry) order, stable across calls.
        const position = { tsNs: e.tsNs, id: `${String(si).padStart(8, '0')}:${String(ei).padStart(10, '0')}` };
        if (after && sign * comparePositions(position, after) <= 0) return;
        out.push({ tsNs: e.tsNs, position, line: e.line, labels: s.labels, meta: e.meta ?? {} });
      });
    });
    out.sort((a, b) => sign * comparePositions(a.position, b.position));
    for (const e of out) {
      if (req.signal?.aborted) return;
      yield e;
    }
  }
}
