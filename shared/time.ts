/**
 * Time handling shared by the API and the agent. Pure.
 *
 * Log timestamps are nanosecond-precise; JavaScript numbers are not, so instants are
 * carried as bigint nanoseconds since the epoch and formatted as canonical RFC 3339 UTC
 * with exactly nine fractional digits. Canonical strings sort lexicographically in time
 * order, which the cursor code relies on.
 */

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;
const RELATIVE = /^now(?:-(\d+)(ns|us|µs|ms|s|m|h|d|w))?$/;
const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};

/**
 * The instants an API time may name: from the epoch to the last one OpenSearch's
 * `date_nanos` can hold (2^63 - 1 ns, 2262-04-11T23:47:16.854775807Z). Outside it a time
 * cannot be formatted for the store, so it is the caller's error, not ours.
 */
export const MIN_TIME_NS = 0n;
export const MAX_TIME_NS = 9_223_372_036_854_775_807n;

export class InvalidTimeError extends Error {
  override readonly name = 'InvalidTimeError';
}

/** Parses an RFC 3339 timestamp with up to nanosecond precision; undefined if invalid. */
export function parseRfc3339Nanos(value: string): bigint | undefined {
  const m = RFC3339.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59) {
    return undefined;
  }
  if (Number(s) > 60) return undefined;
  let ms = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms) || new Date(ms).getUTCDate() !== day) return undefined;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const offsetMin = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6));
    ms -= sign * offsetMin * 60_000;
  }
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
}

/** Formats nanoseconds since the epoch as canonical `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`. */
export function formatNanos(nanos: bigint): string {
  // Floor to the whole second so that instants before 1970 format correctly too.
  let sub = nanos % 1_000_000_000n;
  if (sub < 0n) sub += 1_000_000_000n;
  const ms = (nanos - sub) / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // ...:SS.000Z
  return `${iso.slice(0, 19)}.${sub.toString().padStart(9, '0')}Z`;
}

const CANONICAL = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{9}Z$/;

/** Canonical form of an RFC 3339 timestamp, or undefined if it is not one. */
export function canonicalTimestamp(value: string): string | undefined {
  // Fast path for what agents send (runtimes write UTC with nanoseconds): already
  // canonical unless the day does not exist in its month, which the full parse checks.
  if (CANONICAL.test(value) && Number(value.slice(8, 10)) <= 28) return value;
  const n = parseRfc3339Nanos(value);
  return n === undefined ? undefined : formatNanos(n);
}

export function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * Parses an API time parameter: RFC 3339, epoch seconds / milliseconds / nanoseconds
 * (told apart by magnitude, as Loki does), or `now`, `now-15m`. `now` is passed in so a
 * request resolves all its times against one instant.
 */
export function parseTimeParam(value: string, now: bigint): bigint {
  const ns = parseTimeUnbounded(value, now);
  if (ns < MIN_TIME_NS || ns > MAX_TIME_NS) {
    throw new InvalidTimeError(`time "${value.length > 40 ? `${value.slice(0, 40)}…` : value}" is out of range: use an instant from 1970-01-01 to 2262-04-11`);
  }
  return ns;
}

function parseTimeUnbounded(value: string, now: bigint): bigint {
  const v = value.trim();
  const rel = RELATIVE.exec(v);
  if (rel) {
    const [, amount, unit] = rel;
    if (amount === undefined || unit === undefined) return now;
    return now - BigInt(amount) * (UNIT_NS[unit] ?? 1n);
  }
  if (/^\d+(\.\d+)?$/.test(v)) {
    const [intPart = '0', fracPart = ''] = v.split('.');
    const digits = intPart.length;
    if (digits <= 11) {
      // seconds, possibly fractional
      return BigInt(intPart) * 1_000_000_000n + BigInt(fracPart.slice(0, 9).padEnd(9, '0'));
    }
    if (fracPart !== '') throw new InvalidTimeError(`invalid time "${value}"`);
    if (digits <= 14) return BigInt(intPart) * 1_000_000n; // milliseconds
    if (digits <= 17) return BigInt(intPart) * 1_000n; // microseconds
    if (digits <= 20) return BigInt(intPart); // nanoseconds
    throw new InvalidTimeError(`invalid time "${value}"`);
  }
  const parsed = parseRfc3339Nanos(v);
  if (parsed === undefined) {
    throw new InvalidTimeError(
      `invalid time "${value}": use RFC 3339, epoch seconds/ms/ns, or now-<n><unit>`,
    );
  }
  return parsed;
}

/** UTC day `YYYY.MM.DD` of a canonical timestamp: the daily index suffix. */
export function indexDay(canonical: string): string {
  return `${canonical.slice(0, 4)}.${canonical.slice(5, 7)}.${canonical.slice(8, 10)}`;
}
