/**
 * The one way a test waits for something to have happened: poll the condition that proves
 * it, with a deadline. Never sleep for a guessed time instead — on a loaded machine any
 * guess is too short, and a wait that ends on the proof costs only as long as the event.
 *
 * The deadline is a failure bound, not a synchronisation: set it generously (the default
 * suits a busy CI machine), since a passing test never waits for it.
 */

export interface WaitForOptions {
  /** What is awaited, in words, for the timeout message ("three rename rotations counted"). */
  what: string;
  /** Give up after this long, ms. Default 10 000. */
  timeoutMs?: number;
  /** Pause between two probes, ms. Default 20. */
  intervalMs?: number;
}

/** Thrown when the deadline passes; names what was awaited and the last value seen. */
export class WaitTimeoutError extends Error {
  readonly last: unknown;
  constructor(what: string, timeoutMs: number, last: unknown) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}; last observed: ${describe(last)}`);
    this.name = 'WaitTimeoutError';
    this.last = last;
  }
}

/**
 * Resolves with the first truthy value `probe` returns; rejects with a WaitTimeoutError
 * once `timeoutMs` has passed. An error thrown by `probe` is not retried: it rejects at once
 * (a probe that throws is a broken test, not a condition that does not hold yet).
 * The probe runs once more after the deadline, so a stalled event loop cannot fail a
 * condition that holds by then.
 */
export function waitFor<T>(probe: () => T | Promise<T>, opts: WaitForOptions): Promise<NonNullable<T>> {
  // A truthy value is never null or undefined, so callers get the narrowed type.
  return waitForValue(probe, (v) => Boolean(v), opts) as Promise<NonNullable<T>>;
}

/**
 * Reads a value until `accept` holds for it and resolves with that value; the timeout
 * message names the last value read (e.g. "last observed: 2" for a counter awaited at 3).
 */
export async function waitForValue<T>(
  read: () => T | Promise<T>,
  accept: (v: T) => boolean,
  opts: WaitForOptions,
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const overdue = Date.now() >= deadline;
    const v = await read();
    if (accept(v)) return v;
    if (overdue) throw new WaitTimeoutError(opts.what, timeoutMs, v);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function describe(v: unknown): string {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}…` : v);
  try {
    const s = JSON.stringify(v);
    if (s === undefined) return String(v);
    return s.length > 300 ? `${s.slice(0, 300)}…` : s;
  } catch {
    return String(v);
  }
}
