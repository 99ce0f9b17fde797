/**
 * Retry delays (pure): capped exponential backoff with "equal jitter" (half fixed, half
 * random), so a fleet of agents does not retry in lockstep after an aggregator restart, yet
 * each agent still waits at least half the nominal delay. A server's Retry-After wins over
 * the computed delay (up to {@link MAX_RETRY_AFTER_MS}) and gets up to 10% jitter on top.
 */
export const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

export function backoffDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  retryAfterMs: number | null,
  random: () => number,
): number {
  if (retryAfterMs !== null) {
    const ra = Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
    return Math.round(ra + ra * 0.1 * random());
  }
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(exp / 2 + (exp / 2) * random());
}
