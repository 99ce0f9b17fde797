// Discovery documents: /version, /api, /api/v1, /apis, /apis/{group}[/{version}].

import { RESOURCE_TYPES, type ResourceType } from './resource-types.ts';

export const VERSION_INFO = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.2-fake',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2024-10-22T20:28:14Z',
  goVersion: 'go1.22.8',
  compiler: 'gc',
  platform: 'linux/amd64',
};

function groups(): Map<string, ResourceType[]> {
  const byGroup = new Map<string, ResourceType[]>();
  for (const t of RESOURCE_TYPES) {
    if (!t.group) continue;
    byGroup.set(t.group, [...(byGroup.get(t.group) ?? []), t]);
  }
  return byGroup;
}

export function coreVersions(serverAddress: string): unknown {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDoc(name: string, versions: string[]): unknown {
  const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: list, preferredVersion: list[0] };
}

export function groupList(): unknown {
  const list = [...groups()].map(([name, types]) => groupDoc(name, [...new Set(types.map((t) => t.version))]));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: list };
}

export function group(name: string): unknown | undefined {
  const types = groups().get(name);
  if (!types) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...(groupDoc(name, [...new Set(types.map((t) => t.version))]) as object) };
}

/** APIResourceList for a group version ('' group = core), or undefined when not served. */
export function resourceList(groupName: string, version: string): unknown | undefined {
  const types = RESOURCE_TYPES.filter((t) => t.group === groupName && t.version === version);
  if (types.length === 0) return undefined;
  const resources: unknown[] = [];
  for (const t of types) {
    resources.push({
      name: t.plural,
      singularName: t.kind.toLowerCase(),
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: ['get', 'list', 'watch'],
      ...(t.shortNames ? { shortNames: t.shortNames } : {}),
    });
    if (t.plural === 'pods') {
      resources.push({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
    }
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: groupName ? `${groupName}/${version}` : version,
    resources,
  };
}
