/**
 * Record encoder: one logical line + its file's metadata → one NDJSON line of the ingest
 * contract (shared/record.ts `LogRecordSchema`). Owns the JSON shape on the wire.
 *
 * Hot path (bench/agent): everything that is constant for a file (id prefix, cluster,
 * namespace, pod, container, node, uid, container id, labels) is serialised once into two
 * strings when the file's metadata changes; per line the encoder only formats the offset,
 * escapes the message with the native JSON.stringify and concatenates. No object is built
 * and nothing is round-tripped through JSON.parse.
 *
 * Concurrency: an encoder instance belongs to one file; `setMeta` and `encode` are
 * synchronous.
 */
import type { Level, Stream } from '../../shared/record.ts';

export interface RecordMeta {
  cluster: string;
  node: string;
  namespace: string;
  pod: string;
  container: string;
  containerId: string;
  podUid: string;
  /** Labels (pod labels, selected annotations, owner); empty object = none. */
  labels: Readonly<Record<string, string>>;
}

export class RecordEncoder {
  /** `{"id":"<fileKey>-` */
  private idPrefix: string;
  /** `,"cluster":…,"container_id":…,"stream":"` */
  private middle = '';
  /** `,"labels":{…}}\n` or `}\n` */
  private suffix = '}\n';

  constructor(fileKey: string, meta: RecordMeta) {
    this.idPrefix = `{"id":"${fileKey}-`;
    this.setMeta(meta);
  }

  setMeta(meta: RecordMeta): void {
    let m =
      `,"cluster":${JSON.stringify(meta.cluster)}` +
      `,"namespace":${JSON.stringify(meta.namespace)}` +
      `,"pod":${JSON.stringify(meta.pod)}` +
      `,"container":${JSON.stringify(meta.container)}`;
    if (meta.node !== '') m += `,"node":${JSON.stringify(meta.node)}`;
    if (meta.podUid !== '') m += `,"pod_uid":${JSON.stringify(meta.podUid)}`;
    if (meta.containerId !== '') m += `,"container_id":${JSON.stringify(meta.containerId)}`;
    this.middle = m + ',"stream":"';
    const keys = Object.keys(meta.labels);
    this.suffix = keys.length === 0 ? '}\n' : `,"labels":${JSON.stringify(meta.labels)}}\n`;
  }

  /**
   * One NDJSON line (with its trailing newline). With `jsonFields`, a message that is a JSON
   * object also has its top-level keys in `fields` (the one JSON.parse per line, only when
   * the collection config asks for it).
   */
  encode(offset: number, timestamp: string, stream: Stream, level: Level, message: string, jsonFields = false): string {
    const fields = jsonFields ? fieldsJson(message) : '';
    return (
      this.idPrefix +
      offset.toString(36) +
      '","timestamp":"' +
      timestamp +
      '"' +
      this.middle +
      stream +
      '","level":"' +
      level +
      '","message":' +
      JSON.stringify(message) +
      fields +
      this.suffix
    );
  }
}

/** `,"fields":{…}` for a message that is a non-empty JSON object, else ''. */
function fieldsJson(message: string): string {
  if (message.charCodeAt(0) !== 0x7b /* { */) return '';
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return '';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).length === 0) return '';
  return `,"fields":${JSON.stringify(v)}`;
}
