// Nanosecond timestamps as bigint epoch nanoseconds, formatted the way the
// kubelet prefixes log lines (RFC 3339 with a fixed 9-digit fraction, UTC).

export type EpochNanos = bigint;

const NS_PER_MS = 1_000_000n;

/** Current time with sub-millisecond precision from the high-resolution clock. */
export function nowNanos(): EpochNanos {
  const micros = Math.round((performance.timeOrigin + performance.now()) * 1000);
  return BigInt(micros) * 1000n;
}

export function formatRfc3339Nano(ns: EpochNanos): string {
  const ms = ns / NS_PER_MS;
  const frac = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  return `${base}.${frac.toString().padStart(9, '0')}Z`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses RFC 3339 (any fraction up to nanoseconds, any offset); undefined when invalid. */
export function parseRfc3339Nano(text: string): EpochNanos | undefined {
  const m = RFC3339.exec(text.trim());
  if (!m) return undefined;
  const zone = (m[3] ?? 'Z').toUpperCase();
  const seconds = Date.parse(`${m[1]}${zone === 'Z' ? 'Z' : zone}`);
  if (Number.isNaN(seconds)) return undefined;
  const frac = BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  return BigInt(seconds) * NS_PER_MS + frac;
}

export function toNanos(time: Date | string | bigint): EpochNanos {
  if (typeof time === 'bigint') return time;
  if (time instanceof Date) return BigInt(time.getTime()) * NS_PER_MS;
  const parsed = parseRfc3339Nano(time);
  if (parsed === undefined) throw new Error(`fake-kube-api: not an RFC 3339 time: ${time}`);
  return parsed;
}
