/**
 * Aborts a controller at an absolute instant (a continuous job's `end_time`), however far
 * ahead. Node's `setTimeout` takes at most 2^31−1 ms (~24.8 days): a longer delay is
 * replaced by 1 ms, so an `end_time` a month ahead would end the job at once. The wait is
 * therefore chained in steps of at most `MAX_TIMER_MS`, each re-reading the clock.
 *
 * Returns the canceller (clears the pending step); the caller cancels when the job ends
 * otherwise. Single-threaded; `now` is injectable for tests.
 */

/** The longest delay `setTimeout` honours, ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Pure: the next step to wait, ms (0 = the instant has come). */
export function nextStepMs(endNs: bigint, nowMs: number): number {
  const left = (endNs - BigInt(nowMs) * 1_000_000n + 999_999n) / 1_000_000n;
  if (left <= 0n) return 0;
  return left > BigInt(MAX_TIMER_MS) ? MAX_TIMER_MS : Number(left);
}

export function abortAt(
  endNs: bigint,
  ctl: AbortController,
  reason: unknown,
  now: () => number = Date.now,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const step = () => {
    const ms = nextStepMs(endNs, now());
    if (ms === 0) {
      ctl.abort(reason);
      return;
    }
    timer = setTimeout(step, ms);
  };
  step();
  return () => clearTimeout(timer);
}
