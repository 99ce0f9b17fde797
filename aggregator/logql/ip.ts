/**
 * `ip("…")` for line and label filters: a single address, a CIDR prefix (`10.0.0.0/8`) or an
 * inclusive range (`10.0.0.1-10.0.0.9`), IPv4 or IPv6. A line matches when any address in it
 * (a maximal run of address characters) falls in the pattern; a label when its value does.
 * Pure; Go's `net/netip` parsing rules for what an address is (no leading zeros in IPv4).
 */

interface Addr {
  v6: boolean;
  n: bigint;
}

export interface IpMatcher {
  test(addr: string): boolean;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    n = (n << 8n) | BigInt(p);
  }
  return n;
}

function parseV6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return undefined;
  let tail4: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail4 = parseV4(s.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8 || (halves.length === 2 && head.length + tail.length > 7)) return undefined;
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail4 !== undefined) n = (n & ~0xffffffffn) | tail4;
  return n;
}

export function parseAddr(s: string): Addr | undefined {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { v6: false, n: v4 };
  const v6 = parseV6(s);
  return v6 !== undefined ? { v6: true, n: v6 } : undefined;
}

/** Throws `ip: invalid pattern` (Loki's error) when the pattern is none of the three forms. */
export function compileIpPattern(pattern: string): IpMatcher {
  const single = parseAddr(pattern);
  if (single) return { test: (s) => sameAddr(parseAddr(s), single) };
  const slash = pattern.indexOf('/');
  if (slash > 0) {
    const base = parseAddr(pattern.slice(0, slash));
    const bitsText = pattern.slice(slash + 1);
    const width = base?.v6 ? 128 : 32;
    if (base && /^\d{1,3}$/.test(bitsText) && Number(bitsText) <= width) {
      const bits = BigInt(width - Number(bitsText));
      const lo = (base.n >> bits) << bits;
      const hi = lo | ((1n << bits) - 1n);
      return rangeMatcher(base.v6, lo, hi);
    }
  }
  const dash = pattern.indexOf('-');
  if (dash > 0) {
    const a = parseAddr(pattern.slice(0, dash));
    const b = parseAddr(pattern.slice(dash + 1));
    if (a && b && a.v6 === b.v6 && a.n <= b.n) return rangeMatcher(a.v6, a.n, b.n);
  }
  throw new Error('ip: invalid pattern');
}

function sameAddr(a: Addr | undefined, b: Addr): boolean {
  return a !== undefined && a.v6 === b.v6 && a.n === b.n;
}

function rangeMatcher(v6: boolean, lo: bigint, hi: bigint): IpMatcher {
  return {
    test: (s) => {
      const a = parseAddr(s);
      return a !== undefined && a.v6 === v6 && a.n >= lo && a.n <= hi;
    },
  };
}

const ADDR_RUN = /[0-9a-fA-F:.]+/g;

/** Does any address-looking run of the line match? */
export function lineHasIp(m: IpMatcher, line: string): boolean {
  for (const run of line.matchAll(ADDR_RUN)) {
    const s = run[0];
    if (s.length < 2) continue;
    if (m.test(s)) return true;
    // A run may glue an IPv4 to neighbouring hex/colons (`host:10.0.0.1:80`): try its dotted quads.
    for (const q of s.matchAll(/\d{1,3}(?:\.\d{1,3}){3}/g)) if (m.test(q[0])) return true;
  }
  return false;
}
