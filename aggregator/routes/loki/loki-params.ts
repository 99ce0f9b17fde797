/**
 * Loki's HTTP parameter parsing (pkg/loghttp/params.go, query.go), pure, with Loki's
 * defaults and error wording, so a client sees what Loki would have said:
 *
 * - times (`start`, `end`, `time`): integer ns, or integer seconds when 10 digits or fewer,
 *   float seconds (rounded to ms), or RFC 3339; `since` is a Prometheus duration;
 *   default range: the hour before `end` (or before now when `end` is in the future);
 * - `limit`: a positive integer, default 100 (Loki's `max_entries_limit_per_query`, 5000,
 *   bounds it); `direction`: `forward` / `backward` (any case), default `backward`;
 * - `step`: float seconds or a Prometheus duration, default `max(floor(range / 250), 1)` s,
 *   at most 11,000 points per series; `delay_for`: whole seconds, at most 5.
 *
 * Every problem is a LokiParamError (a 400 whose text is the message).
 */
import { MAX_TIME_NS, MIN_TIME_NS, parseRfc3339Nanos } from '../../../shared/time.ts';
import { parsePromDuration } from '../../logql/go-format.ts';

export class LokiParamError extends Error {
  override readonly name = 'LokiParamError';
}

/** The request's form: body values before URL values, as Go's `r.Form`. */
export interface LokiForm {
  /** The first value, or undefined when absent or empty (Go's `Form.Get` returns ""). */
  get(name: string): string | undefined;
  all(name: string): string[];
}

type Raw = Record<string, unknown> | null | undefined;

export function lokiForm(...sources: Raw[]): LokiForm {
  const values = new Map<string, string[]>();
  for (const src of sources) {
    if (!src || typeof src !== 'object') continue;
    for (const [k, v] of Object.entries(src)) {
      const list = values.get(k) ?? [];
      for (const item of Array.isArray(v) ? v : [v]) if (item !== undefined && item !== null) list.push(String(item));
      values.set(k, list);
    }
  }
  return {
    get: (name) => {
      const v = values.get(name)?.[0];
      return v === undefined || v === '' ? undefined : v;
    },
    all: (name) => values.get(name) ?? [],
  };
}

export const DEFAULT_QUERY_LIMIT = 100;
/** Loki's `max_entries_limit_per_query` default. */
export const MAX_ENTRIES_LIMIT = 5000;
export const DEFAULT_SINCE_NS = 3_600_000_000_000n;
export const MAX_POINTS_PER_SERIES = 11_000n;
export const MAX_DELAY_FOR_SECONDS = 5;

const goQuote = (s: string) => JSON.stringify(s);

/** Go's `strconv.Atoi` as the parameters use it: decimal, optional sign. */
function atoi(value: string): number {
  if (!/^[+-]?\d+$/.test(value)) throw new LokiParamError(`strconv.Atoi: parsing ${goQuote(value)}: invalid syntax`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new LokiParamError(`strconv.Atoi: parsing ${goQuote(value)}: value out of range`);
  return n;
}

/**
 * Loki's `parseTimestamp`: ns since the epoch; `def` when the value is absent. Times
 * before the epoch or past the store's last representable instant are clamped to it
 * (no record lives there, and the store's range cannot name them).
 */
export function parseLokiTime(value: string | undefined, def: bigint): bigint {
  const ns = parseLokiTimeUnclamped(value, def);
  return ns < MIN_TIME_NS ? MIN_TIME_NS : ns > MAX_TIME_NS ? MAX_TIME_NS : ns;
}

function parseLokiTimeUnclamped(value: string | undefined, def: bigint): bigint {
  if (value === undefined) return def;
  if (value.includes('.')) {
    const f = Number(value);
    if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value) && Number.isFinite(f)) {
      const s = Math.trunc(f);
      const frac = Math.round((f - s) * 1000) / 1000;
      return BigInt(s) * 1_000_000_000n + BigInt(Math.round(frac * 1000)) * 1_000_000n;
    }
  }
  if (/^[+-]?\d+$/.test(value)) {
    const n = BigInt(value);
    if (n > 9_223_372_036_854_775_807n || n < -9_223_372_036_854_775_808n) {
      throw new LokiParamError(`strconv.ParseInt: parsing ${goQuote(value)}: value out of range`);
    }
    return value.length <= 10 ? n * 1_000_000_000n : n;
  }
  const ns = parseRfc3339Nanos(value);
  if (ns !== undefined) return ns;
  throw new LokiParamError(`strconv.ParseInt: parsing ${goQuote(value)}: invalid syntax`);
}

function wrapped<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof LokiParamError) throw new LokiParamError(`${what}: ${err.message}`);
    throw err;
  }
}

/** Loki's `bounds` (`start`, `end`, `since`). */
export function lokiBounds(form: LokiForm, now: bigint): { startNs: bigint; endNs: bigint } {
  let sinceNs = DEFAULT_SINCE_NS;
  const since = form.get('since');
  if (since !== undefined) {
    sinceNs = wrapped("could not parse 'since' parameter", () => {
      let ns: number;
      try {
        ns = parsePromDuration(since);
      } catch (err) {
        throw new LokiParamError((err as Error).message);
      }
      if (!Number.isSafeInteger(ns)) throw new LokiParamError(`duration ${goQuote(since)} is out of range`);
      return BigInt(ns);
    });
  }
  const endNs = wrapped("could not parse 'end' parameter", () => parseLokiTime(form.get('end'), now));
  const endOrNow = endNs > now ? now : endNs;
  const startNs = wrapped("could not parse 'start' parameter", () =>
    parseLokiTime(form.get('start'), endOrNow - sinceNs),
  );
  return { startNs, endNs };
}

export function lokiLimit(form: LokiForm, name = 'limit', def = DEFAULT_QUERY_LIMIT): number {
  const raw = form.get(name);
  const l = raw === undefined ? def : atoi(raw);
  if (l <= 0) throw new LokiParamError('limit must be a positive value');
  if (l > 4_294_967_295) throw new LokiParamError(`${name} value ${l} is out of range [0, 4294967295]`);
  return l;
}

/** A query's entry limit, within Loki's `max_entries_limit_per_query`. */
export function lokiEntryLimit(form: LokiForm): number {
  const l = lokiLimit(form);
  if (l > MAX_ENTRIES_LIMIT) {
    throw new LokiParamError(
      `max entries limit per query exceeded, limit > max_entries_limit_per_query (${l} > ${MAX_ENTRIES_LIMIT})`,
    );
  }
  return l;
}

export function lokiDirection(form: LokiForm): 'forward' | 'backward' {
  const raw = form.get('direction');
  if (raw === undefined) return 'backward';
  const d = raw.toUpperCase();
  if (d === 'FORWARD') return 'forward';
  if (d === 'BACKWARD') return 'backward';
  throw new LokiParamError(`invalid direction '${raw}'`);
}

/** Loki's `parseSecondsOrDuration`, ns. */
export function parseSecondsOrDuration(value: string): bigint {
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value)) {
    const ns = Number(value) * 1e9;
    if (!Number.isFinite(ns) || Math.abs(ns) > 9.223372036854776e18) {
      throw new LokiParamError(`cannot parse ${goQuote(value)} to a valid duration. It overflows int64`);
    }
    return BigInt(Math.trunc(ns));
  }
  let ns: number;
  try {
    ns = parsePromDuration(value);
  } catch {
    throw new LokiParamError(`cannot parse ${goQuote(value)} to a valid duration`);
  }
  if (!Number.isSafeInteger(ns)) {
    throw new LokiParamError(`cannot parse ${goQuote(value)} to a valid duration. It overflows int64`);
  }
  return BigInt(ns);
}

export interface LokiRangeParams {
  query: string;
  startNs: bigint;
  endNs: bigint;
  stepNs: bigint;
  limit: number;
  direction: 'forward' | 'backward';
}

/** Loki's `ParseRangeQuery` (also `index/volume_range`, `index/stats`). */
export function parseRangeQuery(form: LokiForm, now: bigint): LokiRangeParams {
  const query = form.get('query') ?? '';
  const { startNs, endNs } = lokiBounds(form, now);
  if (endNs < startNs) throw new LokiParamError('end timestamp must not be before or equal to start time');
  const limit = lokiEntryLimit(form);
  const direction = lokiDirection(form);
  const rawStep = form.get('step');
  const stepNs = rawStep === undefined ? defaultStepNs(startNs, endNs) : parseSecondsOrDuration(rawStep);
  if (stepNs <= 0n) {
    throw new LokiParamError('zero or negative query resolution step widths are not accepted. Try a positive integer');
  }
  if ((endNs - startNs) / stepNs > MAX_POINTS_PER_SERIES) {
    throw new LokiParamError(
      'exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter',
    );
  }
  const interval = form.get('interval');
  if (interval !== undefined && parseSecondsOrDuration(interval) < 0n) {
    throw new LokiParamError('interval must be >= 0');
  }
  return { query, startNs, endNs, stepNs, limit, direction };
}

/** `max(floor(range_seconds / 250), 1)` seconds. */
export function defaultStepNs(startNs: bigint, endNs: bigint): bigint {
  const s = (endNs - startNs) / 1_000_000_000n / 250n;
  return (s < 1n ? 1n : s) * 1_000_000_000n;
}

export interface LokiInstantParams {
  query: string;
  timeNs: bigint;
  limit: number;
  direction: 'forward' | 'backward';
}

/** Loki's `ParseInstantQuery`: `time` defaults to now. */
export function parseInstantQuery(form: LokiForm, now: bigint): LokiInstantParams {
  const query = form.get('query') ?? '';
  const limit = lokiEntryLimit(form);
  const timeNs = parseLokiTime(form.get('time'), now);
  return { query, timeNs, limit, direction: lokiDirection(form) };
}

/** `match[]` (Prometheus) and `match` (Loki), deduplicated; a lone `{}` means "every stream". */
export function seriesMatches(form: LokiForm): string[] {
  const all = [...new Set([...form.all('match'), ...form.all('match[]')].filter((m) => m !== ''))];
  if (all.length === 1 && all[0]!.replaceAll(' ', '') === '{}') return [];
  return all;
}

export interface LokiTailParams {
  query: string;
  limit: number;
  startNs: bigint;
  delayForSeconds: number;
}

/** Loki's `ParseTailQuery`. */
export function parseTailQuery(form: LokiForm, now: bigint): LokiTailParams {
  const query = form.get('query') ?? '';
  const limit = lokiEntryLimit(form);
  const { startNs } = lokiBounds(form, now);
  const raw = form.get('delay_for');
  const delay = raw === undefined ? 0 : atoi(raw);
  if (delay < 0 || delay > 4_294_967_295) {
    throw new LokiParamError(`delay_for value ${delay} is out of range [0, 4294967295]`);
  }
  if (delay > MAX_DELAY_FOR_SECONDS) {
    throw new LokiParamError(`delay_for can't be greater than ${MAX_DELAY_FOR_SECONDS}`);
  }
  return { query, limit, startNs, delayForSeconds: delay };
}
