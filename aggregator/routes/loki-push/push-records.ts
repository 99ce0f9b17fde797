/**
 * Loki push streams → log records (DESIGN.md §2), the inverse of logql/stream-labels.ts.
 * Pure; the caller owns the input and may not reuse it (label objects are not copied).
 *
 * Stream labels map back to record fields:
 *   - `namespace`, `pod`, `container`, `node`, `stream` (`stdout`/`stderr`) are the record's
 *     fields. When absent, the aliases agents commonly send fill them and stay labels too:
 *     `k8s_namespace_name` / `namespace_name`, `k8s_pod_name` / `pod_name`,
 *     `k8s_container_name` / `container_name`, `k8s_node_name` / `node_name`.
 *   - `cluster` must be the ingest token's cluster (else the stream is `cluster_mismatch`,
 *     as on agent ingest); records always carry the token's cluster.
 *   - `level` sets the record's level and stays a label (so `{level="error"}` still
 *     selects); `detected_level` sets the level only (it is structured metadata in our
 *     model). An entry's structured metadata `detected_level` / `level` wins over both;
 *     without any, the level is detected from the line as the agent does (Loki 3's
 *     `discover_log_levels`).
 *   - every other label → the record's `labels` (pod labels, so LogQL selects on it by the
 *     same name); other structured metadata → the record's `fields`.
 * Streams without Kubernetes labels are accepted: namespace {@link NO_NAMESPACE}, pod and
 * container {@link NO_NAME} — names no Kubernetes object can have, so they never mix with
 * a real namespace and a namespace-restricted token sees them only when granted
 * `_loki_push`. A `stream` label other than stdout/stderr is kept in `labels` (REST shows
 * it; LogQL's built-in `stream` label shows `stdout`).
 *
 * Ids are deterministic (DESIGN.md §3): a digest of (cluster, the stream's labels sorted,
 * timestamp in ns, position among equal entries of the request, line), so a retried push
 * produces the same ids and `create` stores nothing twice. As in Loki, an entry equal in
 * stream, timestamp and line to one already stored is a duplicate.
 *
 * Validation follows Loki's distributor: a stream with unreadable labels, no labels or the
 * wrong cluster loses all its entries; an entry outside the acceptance window or longer
 * than the line limit is dropped alone. Everything else is kept (the caller answers 400
 * with the reasons when anything was dropped, 204 otherwise).
 */
import { createHash } from 'node:crypto';
import { Compile } from 'typebox/compile';
import { LogRecordSchema, Streams, type Level, type LogRecord, type Stream } from '../../../shared/record.ts';
import type { DiscardReason } from '../../../shared/reasons.ts';
import { formatNanos, MAX_TIME_NS, MIN_TIME_NS } from '../../../shared/time.ts';
import { detectLevel, levelFromWord } from '../../../agent/parse/level.ts';
import { formatLabelString, LABEL_NAME, parseLabelString } from './label-string.ts';
import type { PushStream } from './push-body.ts';

export const NO_NAMESPACE = '_loki_push';
export const NO_NAME = '_unknown';

const ALIASES = {
  namespace: ['k8s_namespace_name', 'namespace_name'],
  pod: ['k8s_pod_name', 'pod_name'],
  container: ['k8s_container_name', 'container_name'],
  node: ['k8s_node_name', 'node_name'],
} as const;

/** Most messages an answer lists; the rest are counted ("and N more"). */
const MAX_MESSAGES = 20;

const checkRecord = Compile(LogRecordSchema);

export interface PushLimits {
  /** The ingest token's cluster. */
  cluster: string;
  /** Longest accepted line, UTF-8 bytes. */
  maxLineBytes: number;
  /** Canonical timestamps bounding the acceptance window, inclusive (decode-batch.ts `acceptanceWindow`). */
  oldest: string;
  newest: string;
}

export interface Discarded {
  lines: number;
  bytes: number;
}

export interface PushRecords {
  records: LogRecord[];
  /** UTF-8 bytes of each record's line, parallel to `records` (metrics). */
  lineBytes: number[];
  /** Entries of the request. */
  received: number;
  discarded: Map<DiscardReason, Discarded>;
  /** Loki-style messages of what was dropped, at most {@link MAX_MESSAGES}, then a count. */
  messages: string[];
}

export function pushRecords(streams: readonly PushStream[], limits: PushLimits): PushRecords {
  const out: PushRecords = { records: [], lineBytes: [], received: 0, discarded: new Map(), messages: [] };
  let dropped = 0;
  const drop = (reason: DiscardReason, bytes: number, message: string) => {
    const d = out.discarded.get(reason);
    if (d) {
      d.lines++;
      d.bytes += bytes;
    } else out.discarded.set(reason, { lines: 1, bytes });
    if (dropped++ < MAX_MESSAGES) out.messages.push(message);
  };
  // Per stream key, per timestamp: the lines seen so far (one string for the usual single
  // line), for the position of an entry among equal ones without a key string per entry.
  const seen = new Map<string, Map<bigint, string | string[]>>();
  const formatTs = lastMinuteFormatter();
  for (const stream of streams) {
    out.received += stream.entries.length;
    const base = streamBase(stream.labels, limits.cluster);
    if (!base.ok) {
      for (const e of stream.entries) drop(base.reason, Buffer.byteLength(e.line), base.message);
      continue;
    }
    const { template, levelFromLabel, key, shown } = base;
    let byTs = seen.get(key);
    if (!byTs) seen.set(key, (byTs = new Map()));
    for (const e of stream.entries) {
      const bytes = Buffer.byteLength(e.line);
      if (bytes > limits.maxLineBytes) {
        drop(
          'record_too_large',
          bytes,
          `Max entry size '${limits.maxLineBytes}' bytes exceeded for stream '${shown}' while adding an entry with length '${bytes}' bytes`,
        );
        continue;
      }
      if (e.tsNs < MIN_TIME_NS || e.tsNs > MAX_TIME_NS) {
        drop(
          'invalid_record',
          bytes,
          `entry for stream '${shown}' has timestamp ${e.tsNs} ns outside what can be stored`,
        );
        continue;
      }
      const timestamp = formatTs(e.tsNs);
      if (timestamp < limits.oldest) {
        drop(
          'too_old',
          bytes,
          `entry for stream '${shown}' has timestamp too old: ${timestamp}, oldest acceptable timestamp is: ${limits.oldest}`,
        );
        continue;
      }
      if (timestamp > limits.newest) {
        drop('too_new', bytes, `entry for stream '${shown}' has timestamp too new: ${timestamp}`);
        continue;
      }
      let occurrence = 0;
      const prev = byTs.get(e.tsNs);
      if (prev === undefined) byTs.set(e.tsNs, e.line);
      else if (typeof prev === 'string') {
        if (prev === e.line) occurrence = 1;
        byTs.set(e.tsNs, [prev, e.line]);
      } else {
        for (const l of prev) if (l === e.line) occurrence++;
        prev.push(e.line);
      }
      let level = template.level;
      let fields: Record<string, string> | undefined;
      if (e.metadata) {
        for (const name in e.metadata) {
          const value = e.metadata[name]!;
          if (name === 'detected_level' || name === 'level') {
            const l = levelOf(value);
            // `detected_level` names the level outright; `level` only when nothing else did.
            if (l && (name === 'detected_level' || !e.metadata['detected_level'])) level = l;
            if (name === 'detected_level') continue;
          }
          (fields ??= {})[name] = value;
        }
      }
      // Built field by field, not by spreading the template: the hot loop (loki-push.bench.ts).
      const record: LogRecord = {
        id: pushRecordId(limits.cluster, key, e.tsNs, occurrence, e.line),
        timestamp,
        cluster: template.cluster,
        namespace: template.namespace,
        pod: template.pod,
        container: template.container,
        stream: template.stream,
        level: level === 'unknown' && !levelFromLabel ? detectLevel(e.line) : level,
        message: e.line,
      };
      if (template.node !== undefined) record.node = template.node;
      if (template.labels) record.labels = template.labels;
      if (fields) record.fields = fields;
      out.records.push(record);
      out.lineBytes.push(bytes);
    }
  }
  if (dropped > MAX_MESSAGES) out.messages.push(`and ${dropped - MAX_MESSAGES} more entries dropped`);
  return out;
}

type Template = Omit<LogRecord, 'id' | 'timestamp' | 'message'>;

type StreamBase =
  | { ok: true; template: Template; levelFromLabel: boolean; key: string; shown: string }
  | { ok: false; reason: DiscardReason; message: string };

/** The record fields every entry of a stream shares, or why the whole stream is refused. */
function streamBase(raw: string | Record<string, string>, cluster: string): StreamBase {
  let labels: Record<string, string>;
  if (typeof raw === 'string') {
    const parsed = parseLabelString(raw);
    if (!parsed.ok) return { ok: false, reason: 'invalid_record', message: `error parsing labels: ${parsed.error}` };
    labels = parsed.labels;
  } else {
    labels = {};
    for (const name of Object.keys(raw)) {
      if (!LABEL_NAME.test(name))
        return {
          ok: false,
          reason: 'invalid_record',
          message: `error parsing labels: invalid label name ${JSON.stringify(name.slice(0, 100))}`,
        };
      if (raw[name] !== '') labels[name] = raw[name]!;
    }
  }
  const shown = formatLabelString(labels);
  if (Object.keys(labels).length === 0)
    return { ok: false, reason: 'invalid_record', message: 'error at least one label pair is required per stream' };
  if (labels['cluster'] !== undefined && labels['cluster'] !== cluster) {
    return {
      ok: false,
      reason: 'cluster_mismatch',
      message: `stream '${shown}': cluster "${labels['cluster']}" is not the token's cluster "${cluster}"`,
    };
  }
  const rest: Record<string, string> = { ...labels };
  delete rest['cluster'];
  // The id key: every label but cluster (the cluster enters the id on its own), so a stream
  // with or without an explicit `cluster` label of the token's cluster is the same stream.
  const key = formatLabelString(rest);
  const take = (name: 'namespace' | 'pod' | 'container' | 'node'): string | undefined => {
    const v = rest[name];
    if (v !== undefined) {
      delete rest[name];
      return v;
    }
    for (const alias of ALIASES[name]) if (rest[alias] !== undefined) return rest[alias];
    return undefined;
  };
  const namespace = take('namespace');
  const pod = take('pod');
  const container = take('container');
  const node = take('node');
  let stream: Stream = 'stdout';
  if ((Streams as readonly string[]).includes(rest['stream'] ?? '')) {
    stream = rest['stream'] as Stream;
    delete rest['stream'];
  }
  let level: Level = 'unknown';
  let levelFromLabel = false;
  const detected = rest['detected_level'];
  if (detected !== undefined) delete rest['detected_level'];
  for (const v of [detected, rest['level']]) {
    const l = v === undefined ? null : levelOf(v);
    if (l) {
      level = l;
      levelFromLabel = true;
      break;
    }
  }
  const template: Template = {
    cluster,
    namespace: namespace ?? NO_NAMESPACE,
    pod: pod ?? NO_NAME,
    container: container ?? NO_NAME,
    ...(node !== undefined ? { node } : {}),
    stream,
    level,
    ...(Object.keys(rest).length > 0 ? { labels: rest } : {}),
  };
  const probe = { ...template, id: 'p0000000', timestamp: '1970-01-01T00:00:00.000000000Z', message: '' };
  if (!checkRecord.Check(probe)) {
    const first = checkRecord.Errors(probe)[0];
    return {
      ok: false,
      reason: 'invalid_record',
      message: `stream '${shown}' does not make a valid record: ${first ? `${first.instancePath} ${first.message}` : 'schema'}`,
    };
  }
  return { ok: true, template, levelFromLabel, key, shown };
}

/**
 * `formatNanos` remembering the last whole minute: a push's entries mostly share their
 * minute, and the date part is most of the cost (bench/aggregator/loki-push.bench.ts).
 * Only for instants ≥ 0 (the caller checked MIN_TIME_NS); a minute never holds a leap second here.
 */
function lastMinuteFormatter(): (ns: bigint) => string {
  let minute = -1n;
  let prefix = '';
  return (ns) => {
    const m = ns / 60_000_000_000n;
    if (m !== minute) {
      minute = m;
      prefix = formatNanos(m * 60_000_000_000n).slice(0, 17);
    }
    const inMinute = ns - m * 60_000_000_000n;
    const sec = inMinute / 1_000_000_000n;
    return `${prefix}${sec < 10n ? '0' : ''}${sec}.${(inMinute - sec * 1_000_000_000n).toString().padStart(9, '0')}Z`;
  };
}

function levelOf(value: string): Level | null {
  return value.toLowerCase() === 'unknown' ? 'unknown' : levelFromWord(value);
}

/** `p` + 31 hex digits of sha256(cluster, labels, ts, occurrence, line): 32 characters. */
export function pushRecordId(
  cluster: string,
  labelKey: string,
  tsNs: bigint,
  occurrence: number,
  line: string,
): string {
  return (
    'p' +
    createHash('sha256').update(`${cluster}\0${labelKey}\0${tsNs}\0${occurrence}\0${line}`).digest('hex').slice(0, 31)
  );
}
