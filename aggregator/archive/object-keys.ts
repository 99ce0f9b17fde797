/**
 * Object layout of the archive (DESIGN.md §5). Pure, table-tested.
 *
 *   <prefix>/cluster=<c>/dt=<YYYY-MM-DD>/namespace=<ns>/part-<nnnnn>.ndjson.gz
 *   <prefix>/cluster=<c>/dt=<YYYY-MM-DD>/namespace=<ns>/_manifest.json
 *
 * Hive-style `key=value` directories so DuckDB / Athena / Spark read the partitions as
 * columns. Values are percent-encoded (UTF-8) outside `[A-Za-z0-9._-]`, so a `/`, `=`, `%`
 * or any other byte in a value can neither add a directory level nor collide with another
 * value; `encodePartitionValue` is injective and `decodePartitionValue` its inverse.
 * Part numbers are zero-padded so a plain lexicographic listing is in part order. The
 * manifest's name starts with `_`, which Hive-style readers skip, and does not end in a data
 * extension, so `**\/*.ndjson.gz` globs never pick it up.
 */

export type Compression = 'gzip' | 'zstd';

export interface PartitionId {
  cluster: string;
  /** UTC day `YYYY-MM-DD` of the records' own timestamps. */
  day: string;
  namespace: string;
}

const SAFE = /^[A-Za-z0-9._-]$/;
const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
/** A prefix is one or more safe segments separated by single slashes, no leading/trailing slash. */
const PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
export const PART_DIGITS = 5;
export const MAX_PARTS = 10 ** PART_DIGITS;
export const MANIFEST_NAME = '_manifest.json';

export function extensionOf(compression: Compression): string {
  return compression === 'gzip' ? '.ndjson.gz' : '.ndjson.zst';
}

/** Percent-encodes every UTF-8 byte outside `[A-Za-z0-9._-]`; `.` and `..` are encoded whole so no segment is a path step. */
export function encodePartitionValue(value: string): string {
  if (value === '') throw new RangeError('partition value is empty');
  if (value === '.' || value === '..') return value.replaceAll('.', '%2E');
  let out = '';
  for (const ch of value) {
    if (SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodePartitionValue(encoded: string): string {
  return decodeURIComponent(encoded);
}

export function isValidPrefix(prefix: string): boolean {
  return prefix.length <= 512 && PREFIX.test(prefix) && !prefix.split('/').some((s) => s === '.' || s === '..');
}

export function isValidDay(day: string): boolean {
  return DAY.test(day) && new Date(`${day}T00:00:00Z`).toISOString().startsWith(day);
}

/** `<prefix>/cluster=…/dt=…/namespace=…/` (with the trailing slash). Throws on a bad prefix or day. */
export function partitionDirectory(prefix: string, p: PartitionId): string {
  if (!isValidPrefix(prefix)) throw new RangeError(`invalid archive prefix "${prefix}"`);
  if (!isValidDay(p.day)) throw new RangeError(`invalid day "${p.day}"`);
  return `${prefix}/cluster=${encodePartitionValue(p.cluster)}/dt=${p.day}/namespace=${encodePartitionValue(p.namespace)}/`;
}

export function partKey(prefix: string, p: PartitionId, part: number, compression: Compression): string {
  if (!Number.isInteger(part) || part < 0 || part >= MAX_PARTS)
    throw new RangeError(`part number ${part} out of range`);
  return `${partitionDirectory(prefix, p)}part-${String(part).padStart(PART_DIGITS, '0')}${extensionOf(compression)}`;
}

export function manifestKey(prefix: string, p: PartitionId): string {
  return `${partitionDirectory(prefix, p)}${MANIFEST_NAME}`;
}

export type ParsedKey =
  | { kind: 'part'; partition: PartitionId; part: number; compression: Compression }
  | { kind: 'manifest'; partition: PartitionId };

const KEY_TAIL =
  /^cluster=([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\/namespace=([^/]+)\/(?:part-(\d{5})\.ndjson\.(gz|zst)|(_manifest\.json))$/;

/** The partition (and part) a key under `prefix` names; undefined for any other key. */
export function parseKey(prefix: string, key: string): ParsedKey | undefined {
  if (!key.startsWith(`${prefix}/`)) return undefined;
  const m = KEY_TAIL.exec(key.slice(prefix.length + 1));
  if (!m) return undefined;
  let partition: PartitionId;
  try {
    partition = { cluster: decodePartitionValue(m[1]!), day: m[2]!, namespace: decodePartitionValue(m[3]!) };
  } catch {
    return undefined;
  }
  // Only the canonical spelling counts: `%41` for `A` would name the same partition twice.
  if (
    !isValidDay(partition.day) ||
    encodePartitionValue(partition.cluster) !== m[1] ||
    encodePartitionValue(partition.namespace) !== m[3]
  )
    return undefined;
  if (m[6]) return { kind: 'manifest', partition };
  return { kind: 'part', partition, part: Number(m[4]), compression: m[5] === 'gz' ? 'gzip' : 'zstd' };
}

/** `YYYY.MM.DD` (index suffix) → `YYYY-MM-DD`. */
export function dayFromIndexDay(indexDay: string): string {
  return indexDay.replaceAll('.', '-');
}
