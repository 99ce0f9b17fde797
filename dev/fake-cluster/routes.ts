// URL routing of the fake API server (GET only: the cluster is driven through
// the control API, not through HTTP writes).
//
//   /version /healthz /livez /readyz /api /api/v1 /apis /apis/{g} /apis/{g}/{v}
//   {prefix}/{plural}                                   list / watch (all namespaces)
//   {prefix}/{plural}/{name}                            get (cluster-scoped types)
//   {prefix}/namespaces/{ns}/{plural}                   list / watch
//   {prefix}/namespaces/{ns}/{plural}/{name}            get
//   /api/v1/namespaces/{ns}/pods/{name}/log             pod log
//   {prefix}/watch/...                                  legacy watch paths
// where {prefix} is /api/v1 or /apis/{group}/{version}.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { coreVersions, group, groupList, resourceList, VERSION_INFO } from './discovery.ts';
import type { FakeCluster } from './fake-cluster.ts';
import { failureStatus, StatusError } from './kube-objects.ts';
import { serveGet, serveList } from './list-and-get.ts';
import type { OpenStreams } from './open-streams.ts';
import { servePodLog } from './pod-log-stream.ts';
import { findResourceType } from './resource-types.ts';
import { boolParam, queryOf, sendJson, sendText } from './http-responses.ts';
import { serveWatch } from './watch-stream.ts';

export interface RouteContext {
  cluster: FakeCluster;
  streams: OpenStreams;
  bookmarkIntervalMs: number;
  serverAddress: string;
}

function notServed(): StatusError {
  return new StatusError(failureStatus(404, 'NotFound', 'the server could not find the requested resource', {}));
}

export function route(req: IncomingMessage, res: ServerResponse, ctx: RouteContext): void {
  if (req.method !== 'GET') {
    throw new StatusError(failureStatus(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
  }
  const url = new URL(req.url ?? '/', 'http://fake');
  const q = queryOf(req);
  const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);

  switch (url.pathname.replace(/\/$/, '')) {
    case '/version':
      return sendJson(res, 200, VERSION_INFO);
    case '/healthz':
    case '/livez':
    case '/readyz':
      return sendText(res, 200, 'ok');
    case '/api':
      return sendJson(res, 200, coreVersions(ctx.serverAddress));
    case '/apis':
      return sendJson(res, 200, groupList());
  }

  let groupName: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    groupName = '';
    version = parts[1] as string;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length === 2) {
    const doc = group(parts[1] as string);
    if (!doc) throw notServed();
    return sendJson(res, 200, doc);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    groupName = parts[1] as string;
    version = parts[2] as string;
    rest = parts.slice(3);
  } else {
    throw notServed();
  }

  if (rest.length === 0) {
    const doc = resourceList(groupName, version);
    if (!doc) throw notServed();
    return sendJson(res, 200, doc);
  }

  let watch = boolParam(q, 'watch');
  if (rest[0] === 'watch') {
    watch = true;
    rest = rest.slice(1);
  }

  // namespaces/{ns}/{plural}[/{name}[/log]] — unless it is the namespaces resource itself.
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  const type = plural === undefined ? undefined : findResourceType(groupName, version, plural);
  if (!type || extra.length > 0 || (namespace !== undefined && !type.namespaced)) throw notServed();

  if (subresource !== undefined) {
    if (type.plural === 'pods' && subresource === 'log' && namespace !== undefined && name !== undefined) {
      return servePodLog(res, ctx.cluster, ctx.streams, namespace, name, q);
    }
    throw notServed();
  }
  if (name !== undefined) {
    if (type.namespaced && namespace === undefined) throw notServed();
    if (watch) {
      // Watching one object is a watch with a metadata.name field selector.
      q.set('fieldSelector', [q.get('fieldSelector'), `metadata.name=${name}`].filter(Boolean).join(','));
      return serveWatch(res, { state: ctx.cluster.state, streams: ctx.streams, bookmarkIntervalMs: ctx.bookmarkIntervalMs }, type, namespace, q);
    }
    return serveGet(res, ctx.cluster.state, type, namespace, name);
  }
  if (watch) {
    return serveWatch(res, { state: ctx.cluster.state, streams: ctx.streams, bookmarkIntervalMs: ctx.bookmarkIntervalMs }, type, namespace, q);
  }
  return serveList(res, ctx.cluster.state, type, namespace, q);
}
