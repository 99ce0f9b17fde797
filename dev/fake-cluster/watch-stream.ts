// `?watch=true` on a list path: newline-delimited JSON events, as the API
// server's watch cache sends them.
//
// - No resourceVersion (or "0"): synthetic ADDED for every current object,
//   then live changes. With sendInitialEvents=true and allowWatchBookmarks, a
//   BOOKMARK annotated `k8s.io/initial-events-end` follows the initial ADDEDs.
// - resourceVersion=N: replays retained changes after N, then live changes;
//   when N is older than the retained history, one ERROR event with a 410
//   Expired Status, then the stream ends (clients relist).
// - Selector-filtered watches see an object that starts matching as ADDED and
//   one that stops matching as DELETED, like the real server.
// - timeoutSeconds ends the stream; allowWatchBookmarks adds periodic BOOKMARKs.

import type { ServerResponse } from 'node:http';
import type { ChangeEvent, ClusterState } from './cluster-state.ts';
import { failureStatus, type KubeObject } from './kube-objects.ts';
import { buildObjectFilter } from './object-filter.ts';
import type { OpenStreams } from './open-streams.ts';
import { apiVersionOf, type ResourceType } from './resource-types.ts';
import { boolParam, intParam, startStream } from './http-responses.ts';

export interface WatchContext {
  state: ClusterState;
  streams: OpenStreams;
  /** Interval of BOOKMARK events when the client allows them. */
  bookmarkIntervalMs: number;
}

export function serveWatch(
  res: ServerResponse,
  ctx: WatchContext,
  type: ResourceType,
  namespace: string | undefined,
  q: URLSearchParams,
): void {
  // Validate everything before the 200 goes out; errors after that can only be ERROR events.
  const matches = buildObjectFilter(type, namespace, q);
  const timeoutSeconds = intParam(q, 'timeoutSeconds', 0);
  const bookmarks = boolParam(q, 'allowWatchBookmarks');
  const rvParam = q.get('resourceVersion') ?? '';
  const fromRv = rvParam === '' || rvParam === '0' ? undefined : intParam(q, 'resourceVersion', 0);
  const replay = fromRv === undefined ? undefined : ctx.state.changesSince(type.plural, fromRv);

  startStream(res, 'application/json');
  const send = (eventType: string, object: unknown) => {
    res.write(`${JSON.stringify({ type: eventType, object })}\n`);
  };
  const bookmark = (annotations?: Record<string, string>) => {
    const metadata: Record<string, unknown> = { resourceVersion: String(ctx.state.resourceVersion) };
    if (annotations) metadata.annotations = annotations;
    send('BOOKMARK', { kind: type.kind, apiVersion: apiVersionOf(type), metadata });
  };

  if (replay !== undefined && 'expiredBefore' in replay) {
    send('ERROR', failureStatus(410, 'Expired', `too old resource version: ${fromRv} (${replay.expiredBefore})`));
    res.end();
    return;
  }

  const deliver = (e: ChangeEvent) => {
    const now = matches(e.object);
    const before = e.previous !== undefined && matches(e.previous);
    if (e.type === 'ADDED' && now) send('ADDED', e.object);
    else if (e.type === 'DELETED' && now) send('DELETED', e.object);
    else if (e.type === 'MODIFIED') {
      if (now && before) send('MODIFIED', e.object);
      else if (now) send('ADDED', e.object);
      else if (before) send('DELETED', e.object);
    }
  };

  if (replay === undefined) {
    for (const obj of ctx.state.list(type.plural, namespace)) if (matches(obj)) send('ADDED', obj as KubeObject);
    if (bookmarks && boolParam(q, 'sendInitialEvents')) bookmark({ 'k8s.io/initial-events-end': 'true' });
  } else {
    for (const e of replay) deliver(e);
  }

  const unsubscribe = ctx.state.subscribe(type.plural, deliver);
  const timers: NodeJS.Timeout[] = [];
  if (bookmarks && ctx.bookmarkIntervalMs > 0) timers.push(setInterval(() => bookmark(), ctx.bookmarkIntervalMs));
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    unregister();
    if (!res.writableEnded) res.end();
  };
  const unregister = ctx.streams.add('watch', finish);
  if (timeoutSeconds !== undefined && timeoutSeconds > 0) {
    timers.push(
      setTimeout(() => {
        if (bookmarks) bookmark();
        finish();
      }, timeoutSeconds * 1000),
    );
  }
  // 'close' fires when the client goes away (and after our own end).
  res.on('close', finish);
}
