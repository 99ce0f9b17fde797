// Turns a request's scope (namespace from the path) and its labelSelector /
// fieldSelector parameters into one predicate over stored objects.

import type { KubeObject } from './kube-objects.ts';
import { fieldValue, type ResourceType } from './resource-types.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';

export type ObjectFilter = (obj: KubeObject) => boolean;

/** Throws StatusError(400) for malformed selectors or unsupported fields. */
export function buildObjectFilter(type: ResourceType, namespace: string | undefined, q: URLSearchParams): ObjectFilter {
  const labels = parseLabelSelector(q.get('labelSelector'));
  const fields = parseFieldSelector(q.get('fieldSelector'), type.fields);
  return (obj) =>
    (namespace === undefined || obj.metadata.namespace === namespace) &&
    matchesLabels(labels, obj.metadata.labels) &&
    matchesFields(fields, (f) => fieldValue(obj, f));
}
