// GET /api/v1/namespaces/{ns}/pods/{pod}/log with the kubelet's semantics:
// container defaulting and validation, previous instance, tailLines applied
// before sinceTime/sinceSeconds, timestamps as an RFC 3339 (9-digit) prefix,
// limitBytes counting prefixed output bytes, follow until the container
// instance ends (pod deleted, container restarted) or the client goes away.

import type { ServerResponse } from 'node:http';
import type { ContainerInstanceLog, LogLine } from './container-logs.ts';
import { renderLine, selectLines } from './container-logs.ts';
import type { FakeCluster } from './fake-cluster.ts';
import { badRequest, notFound, type Pod } from './kube-objects.ts';
import { nowNanos, parseRfc3339Nano, type EpochNanos } from './nano-time.ts';
import type { OpenStreams } from './open-streams.ts';
import { boolParam, intParam, startStream } from './http-responses.ts';

function chooseContainer(pod: Pod, requested: string | null): string {
  const names = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].map((c) => c.name);
  const name = pod.metadata.name;
  if (!requested) {
    if (pod.spec.containers.length === 1) return names[0] as string;
    throw badRequest(
      `a container name must be specified for pod ${name}, choose one of: [${pod.spec.containers.map((c) => c.name).join(' ')}]`,
    );
  }
  if (!names.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${name}`);
  return requested;
}

function sinceOf(q: URLSearchParams): EpochNanos | undefined {
  const sinceSeconds = intParam(q, 'sinceSeconds', 1);
  const sinceTime = q.get('sinceTime');
  if (sinceSeconds !== undefined && sinceTime) {
    throw badRequest('at most one of `sinceTime` or `sinceSeconds` may be specified');
  }
  if (sinceSeconds !== undefined) return nowNanos() - BigInt(sinceSeconds) * 1_000_000_000n;
  if (!sinceTime) return undefined;
  const t = parseRfc3339Nano(sinceTime);
  if (t === undefined) throw badRequest(`parsing time "${sinceTime}" as RFC3339: cannot parse`);
  return t;
}

export function servePodLog(
  res: ServerResponse,
  cluster: FakeCluster,
  streams: OpenStreams,
  namespace: string,
  podName: string,
  q: URLSearchParams,
): void {
  const pod = cluster.getPod(namespace, podName);
  if (!pod) throw notFound('pods', podName);
  const container = chooseContainer(pod, q.get('container'));
  const previous = boolParam(q, 'previous');
  const follow = boolParam(q, 'follow');
  const timestamps = boolParam(q, 'timestamps');
  const tailLines = intParam(q, 'tailLines', 0);
  const limitBytes = intParam(q, 'limitBytes', 1);
  const since = sinceOf(q);

  const logs = cluster.podLogs(pod.metadata.uid);
  let instance: ContainerInstanceLog | undefined;
  if (previous) {
    instance = logs?.previous(container);
    if (!instance) throw badRequest(`previous terminated container "${container}" in pod "${podName}" not found`);
  } else {
    const waiting = pod.status.containerStatuses?.find((s) => s.name === container)?.state.waiting;
    if (waiting) throw badRequest(`container "${container}" in pod "${podName}" is waiting to start: ${waiting.reason}`);
    instance = logs?.current(container);
  }

  startStream(res, 'text/plain');
  let remaining = limitBytes ?? Infinity;
  /** Writes one line within limitBytes; returns false once the limit is reached. */
  const write = (line: LogLine): boolean => {
    if (remaining <= 0) return false;
    let bytes = Buffer.from(renderLine(line, timestamps));
    if (bytes.length > remaining) bytes = bytes.subarray(0, remaining);
    remaining -= bytes.length;
    res.write(bytes);
    return remaining > 0;
  };

  let open = true;
  for (const line of selectLines(instance?.lines ?? [], { timestamps, since, tailLines })) {
    if (!write(line)) {
      open = false;
      break;
    }
  }
  if (!follow || previous || !open || !instance || instance.ended) {
    res.end();
    return;
  }

  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    stopFollowing();
    unregister();
    if (!res.writableEnded) res.end();
  };
  const stopFollowing = instance.follow({
    onLine: (line) => {
      if (since !== undefined && line.time < since) return;
      if (!write(line)) finish();
    },
    onEnd: () => finish(),
  });
  const unregister = streams.add('log', finish);
  res.on('close', finish);
}
