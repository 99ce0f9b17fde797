/**
 * One `pods/log` read of one container instance into the store: request, parse, skip what
 * a resumed read replays (resume-position.ts), store through the job's sink, and advance
 * the position only past stored lines. Follow or not is the caller's choice; reconnecting
 * is the caller's too (continuous-collector.ts, batch-collector.ts).
 *
 * Outcome: `eof` when the API server ended the body (end of the log, or a follow ended by
 * rotation, container exit, idle timeout, API server shutdown…), `stale` when the pod no
 * longer shows the instance the read was opened for (nothing stored), `error` with a
 * PodLogError when it refused the request or the transport failed mid-stream; an abort of
 * `signal` rejects. Either way `position` is where the next read resumes.
 */
import { parseRfc3339Nanos } from '../../shared/time.ts';
import type { CollectKube, PodLogQuery } from './kube-collect-client.ts';
import { PodLogError } from './kube-collect-client.ts';
import { collectedRecord, type CollectPod } from './collect-pod.ts';
import { PodLogParser } from './pod-log-parser.ts';
import type { RecordSink } from './record-sink.ts';
import { ReplayFilter, advance, resumeSinceTime, type ContainerPosition } from './resume-position.ts';

export interface ContainerReadInput {
  kube: CollectKube;
  cluster: string;
  pod: CollectPod;
  container: string;
  /** The instance being read (goes into the line ids). */
  containerId: string;
  previous: boolean;
  follow: boolean;
  /** Lines stamped after this instant are not the job's (a continuous job's `end_time`). */
  untilNs?: bigint | undefined;
  /** Resume after this position (same instance); undefined = first read with `window`. */
  from: ContainerPosition | undefined;
  window: { sinceTime?: string; tailLines?: number; limitBytes?: number };
  labels: Record<string, string>;
  sink: RecordSink;
  signal: AbortSignal;
  /** Called after each stored batch with the new position and what it added. */
  onStored(position: ContainerPosition, lines: number, bytes: number): void;
  /**
   * Asked once the stream is open, before anything is stored: does the pod still show
   * `containerId`? A read without `previous` is of whatever instance runs when the kubelet
   * answers; if the container restarted since the caller looked at the pod, the lines are
   * the new instance's and must not be stored under the old id (nor move its position past
   * the old instance's unread tail). An API failure counts as yes.
   */
  stillCurrent?: () => Promise<boolean>;
}

export interface ContainerReadOutcome {
  /** `stale`: `stillCurrent` said no; the stream was closed with nothing stored. */
  end: 'eof' | 'error' | 'stale';
  error?: PodLogError;
  position: ContainerPosition | undefined;
  lines: number;
  bytes: number;
}

export async function readContainer(i: ContainerReadInput): Promise<ContainerReadOutcome> {
  const resumed = i.from !== undefined && i.from.last_ts !== '';
  const q: PodLogQuery = { follow: i.follow, previous: i.previous };
  if (resumed) q.sinceTime = resumeSinceTime(i.from!);
  else {
    if (i.window.sinceTime !== undefined) q.sinceTime = i.window.sinceTime;
    if (i.window.tailLines !== undefined) q.tailLines = i.window.tailLines;
  }
  if (i.window.limitBytes !== undefined) q.limitBytes = i.window.limitBytes;
  const filter = new ReplayFilter(
    resumed ? { ns: parseRfc3339Nanos(i.from!.last_ts)!, at: i.from!.at_last_ts } : undefined,
  );
  // A first read with since_time: lines before it are not the caller's (the API server rounds down).
  const sinceNs = !resumed && i.window.sinceTime !== undefined ? parseRfc3339Nanos(i.window.sinceTime) : undefined;
  let position = i.from;
  let lines = 0;
  let bytes = 0;
  const parser = new PodLogParser();
  const store = async (parsed: ReturnType<PodLogParser['push']>) => {
    const records = [];
    let last: ContainerPosition | undefined;
    let b = 0;
    for (const line of parsed) {
      const d = filter.next(line.ns);
      if (!d.keep || (sinceNs !== undefined && line.ns < sinceNs)) continue;
      if (i.untilNs !== undefined && line.ns > i.untilNs) continue;
      records.push(collectedRecord(i.cluster, i.pod, i.container, i.containerId, line, d.position, i.labels));
      last = advance(i.containerId, line.timestamp, d.position);
      b += line.bytes;
    }
    if (!records.length) return;
    await i.sink.add(records);
    position = last;
    lines += records.length;
    bytes += b;
    i.onStored(last!, records.length, b);
  };
  let body: AsyncIterable<Uint8Array>;
  try {
    body = await i.kube.podLog(i.pod.namespace, i.pod.name, i.container, q, i.signal);
  } catch (err) {
    if (i.signal.aborted) throw i.signal.reason;
    return { end: 'error', error: asPodLogError(err), position, lines, bytes };
  }
  if (i.stillCurrent && !(await i.stillCurrent().catch(() => true))) {
    await body[Symbol.asyncIterator]().return?.();
    return { end: 'stale', position, lines, bytes };
  }
  try {
    for await (const chunk of body) {
      await store(parser.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    }
  } catch (err) {
    if (i.signal.aborted) throw i.signal.reason;
    return { end: 'error', error: asPodLogError(err), position, lines, bytes };
  }
  // A limitBytes read ends inside a line on purpose; any other body ends at a newline
  // unless it was cut, and a cut line is read again on resume.
  await store(parser.end(i.window.limitBytes !== undefined && !i.follow));
  return { end: 'eof', position, lines, bytes };
}

function asPodLogError(err: unknown): PodLogError {
  return err instanceof PodLogError
    ? err
    : new PodLogError(0, `pods/log stream failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** Pure: the position of a new instance before its first line. */
export function freshPosition(containerId: string): ContainerPosition {
  return { container_id: containerId, last_ts: '', at_last_ts: 0 };
}
