/**
 * The time window of a request (`start` / `end`, DESIGN.md §6): RFC 3339, epoch seconds /
 * ns or relative `now-15m`, resolved once on the server. Pure.
 */
import { parseTimeParam, InvalidTimeError, nowNanos } from '../../shared/time.ts';
import { invalidRequest } from '../errors.ts';

/** Default look-back when no `start` is given, ns. */
export const DEFAULT_WINDOW_NS = 3_600_000_000_000n;

export function resolveWindow(
  start: string | undefined,
  end: string | undefined,
  now = nowNanos(),
  defaultWindowNs = DEFAULT_WINDOW_NS,
): { startNs: bigint; endNs: bigint } {
  let endNs: bigint;
  let startNs: bigint;
  try {
    endNs = end === undefined ? now : parseTimeParam(end, now);
    startNs = start === undefined ? endNs - defaultWindowNs : parseTimeParam(start, now);
  } catch (err) {
    if (err instanceof InvalidTimeError) throw invalidRequest(err.message);
    throw err;
  }
  if (endNs < startNs) throw invalidRequest('`end` is before `start`');
  return { startNs, endNs };
}
