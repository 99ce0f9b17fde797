/**
 * Adversarial-input timing for the agent's matchers: the worst of a few runs, so one
 * descheduling on a loaded machine cannot pass a slow matcher, and a bound (100 ms) that
 * the super-linear versions miss by orders of magnitude on 256 KiB inputs (seconds to hours).
 */
export const ADVERSARIAL_BOUND_MS = 100;
export const BIG = 256 * 1024;

/**
 * Worst wall time of `runs` calls of `f`, in ms, after one untimed call (so JIT warm-up on a
 * busy machine is not what is measured). The last result is returned so the calls are used.
 */
export function worstMs(f: () => unknown, runs = 3): { ms: number; result: unknown } {
  let worst = 0;
  let result: unknown = f();
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    result = f();
    const ms = performance.now() - t0;
    if (ms > worst) worst = ms;
  }
  return { ms: worst, result };
}
