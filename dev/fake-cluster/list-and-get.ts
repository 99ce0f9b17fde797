// GET of one object and of lists with limit/continue pagination. Like the real
// server, list items carry no apiVersion/kind (the list does), pagination is
// applied after filtering, and a continue token older than the retained
// history is answered with 410 Expired.

import type { ServerResponse } from 'node:http';
import type { ClusterState } from './cluster-state.ts';
import { objectKey } from './cluster-state.ts';
import { badRequest, expired, notFound, type KubeObject } from './kube-objects.ts';
import { buildObjectFilter } from './object-filter.ts';
import { apiVersionOf, type ResourceType } from './resource-types.ts';
import { intParam, sendJson } from './http-responses.ts';

interface ContinueToken {
  v: 'meta.k8s.io/v1';
  rv: number;
  /** Key (`namespace/name`) of the last item returned; the next page starts after it. */
  start: string;
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(text: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    if (t.v === 'meta.k8s.io/v1' && typeof t.rv === 'number' && typeof t.start === 'string') {
      return { v: t.v, rv: t.rv, start: t.start };
    }
  } catch {
    // fall through
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

function asListItem(obj: KubeObject): Omit<KubeObject, 'apiVersion' | 'kind'> {
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

export function serveList(
  res: ServerResponse,
  state: ClusterState,
  type: ResourceType,
  namespace: string | undefined,
  q: URLSearchParams,
): void {
  const filter = buildObjectFilter(type, namespace, q);
  const limit = intParam(q, 'limit', 0) || undefined;
  const cont = q.get('continue');
  let listRv = state.resourceVersion;
  let items = state.list(type.plural, namespace).filter(filter);
  if (cont) {
    const token = decodeContinue(cont);
    if ('expiredBefore' in state.changesSince(type.plural, token.rv)) {
      throw expired(
        'The provided continue parameter is too old to display a consistent list result. ' +
          'You can start a new list without the continue parameter.',
      );
    }
    listRv = token.rv;
    items = items.filter((o) => objectKey(o.metadata.namespace, o.metadata.name) > token.start);
  }
  const metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number } = {
    resourceVersion: String(listRv),
  };
  if (limit !== undefined && items.length > limit) {
    const last = items[limit - 1] as KubeObject;
    metadata.continue = encodeContinue({
      v: 'meta.k8s.io/v1',
      rv: listRv,
      start: objectKey(last.metadata.namespace, last.metadata.name),
    });
    metadata.remainingItemCount = items.length - limit;
    items = items.slice(0, limit);
  }
  sendJson(res, 200, { kind: type.listKind, apiVersion: apiVersionOf(type), metadata, items: items.map(asListItem) });
}

export function serveGet(
  res: ServerResponse,
  state: ClusterState,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
): void {
  const obj = state.get(type.plural, namespace, name);
  if (!obj) throw notFound(type.plural, name, type.group);
  sendJson(res, 200, obj);
}
