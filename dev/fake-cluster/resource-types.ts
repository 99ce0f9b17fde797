// The resource types the fake API server serves, with what routing, discovery
// and field selectors need to know about each. Adding a type here makes list,
// get and watch work for it.

import type { KubeObject } from './kube-objects.ts';

export interface ResourceType {
  /** URL segment, e.g. `pods`. */
  plural: string;
  kind: string;
  listKind: string;
  /** '' for the core group. */
  group: string;
  version: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Field selector fields the real server supports for this type. */
  fields: ReadonlySet<string>;
}

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

const metaFields = ['metadata.name', 'metadata.namespace'];

export const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    plural: 'pods',
    kind: 'Pod',
    listKind: 'PodList',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['po'],
    fields: new Set([
      ...metaFields,
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'spec.hostNetwork',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ]),
  },
  {
    plural: 'namespaces',
    kind: 'Namespace',
    listKind: 'NamespaceList',
    group: '',
    version: 'v1',
    namespaced: false,
    shortNames: ['ns'],
    fields: new Set([...metaFields, 'status.phase']),
  },
  {
    plural: 'nodes',
    kind: 'Node',
    listKind: 'NodeList',
    group: '',
    version: 'v1',
    namespaced: false,
    shortNames: ['no'],
    fields: new Set([...metaFields, 'spec.unschedulable']),
  },
  {
    plural: 'replicasets',
    kind: 'ReplicaSet',
    listKind: 'ReplicaSetList',
    group: 'apps',
    version: 'v1',
    namespaced: true,
    shortNames: ['rs'],
    fields: new Set([...metaFields, 'status.replicas']),
  },
];

export function findResourceType(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === plural);
}

export function resourceTypeOfKind(kind: string): ResourceType {
  const type = RESOURCE_TYPES.find((t) => t.kind === kind);
  if (!type) throw new Error(`fake-kube-api: no resource type for kind ${kind}`);
  return type;
}

/** Reads a dotted field path as the field selector sees it: scalars as strings, '' when unset. */
export function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (typeof cur === 'string') return cur;
  if (typeof cur === 'number' || typeof cur === 'boolean') return String(cur);
  // Unset booleans select as "false" on the real server (e.g. spec.unschedulable).
  if (cur === undefined && (path === 'spec.unschedulable' || path === 'spec.hostNetwork')) return 'false';
  return '';
}
