// In-memory object store of the fake cluster: one monotonically increasing
// resourceVersion counter shared by all resource types (like etcd's revision),
// a bounded history of changes per type for watch resumption, and change
// listeners for open watches. Single-threaded by construction (Node event
// loop); every method runs to completion, so "replay history then subscribe"
// cannot miss an event.
//
// Ownership: stored objects are never mutated after being stored; updates
// store a modified deep copy. Objects handed to listeners and returned by
// get/list are the stored ones — callers must not mutate them.

import { randomUUID } from 'node:crypto';
import { StatusError, failureStatus, notFound, type KubeObject } from './kube-objects.ts';
import { RESOURCE_TYPES, apiVersionOf, type ResourceType } from './resource-types.ts';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ChangeEvent {
  type: ChangeType;
  resourceVersion: number;
  /** State after the change; for DELETED, the last state with the deletion's resourceVersion. */
  object: KubeObject;
  /** State before a MODIFIED change, so selector-filtered watches can turn it into ADDED/DELETED. */
  previous?: KubeObject;
}

export type ChangeListener = (event: ChangeEvent) => void;

class Collection {
  readonly type: ResourceType;
  readonly objects = new Map<string, KubeObject>();
  readonly history: ChangeEvent[] = [];
  /** A watch may resume from any resourceVersion >= this. */
  oldestResumable = 0;
  readonly listeners = new Set<ChangeListener>();
  constructor(type: ResourceType) {
    this.type = type;
  }
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export interface ClusterStateOptions {
  /** Change events kept per resource type for watch resumption. Default 1000. */
  historyLimit?: number;
}

export class ClusterState {
  #resourceVersion = 1;
  readonly #historyLimit: number;
  readonly #collections = new Map<string, Collection>();

  constructor(options: ClusterStateOptions = {}) {
    this.#historyLimit = options.historyLimit ?? 1000;
    for (const type of RESOURCE_TYPES) this.#collections.set(type.plural, new Collection(type));
  }

  get resourceVersion(): number {
    return this.#resourceVersion;
  }

  #collection(plural: string): Collection {
    const c = this.#collections.get(plural);
    if (!c) throw new Error(`fake-kube-api: unknown resource ${plural}`);
    return c;
  }

  #record(c: Collection, event: ChangeEvent): void {
    c.history.push(event);
    while (c.history.length > this.#historyLimit) {
      const dropped = c.history.shift();
      if (dropped) c.oldestResumable = dropped.resourceVersion;
    }
    for (const listener of [...c.listeners]) listener(event);
  }

  get(plural: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#collection(plural).objects.get(objectKey(namespace, name));
  }

  /** Objects sorted by namespace then name, the order the real server lists in. */
  list(plural: string, namespace?: string): KubeObject[] {
    const c = this.#collection(plural);
    const items = [...c.objects.entries()]
      .filter(([, o]) => namespace === undefined || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return items.map(([, o]) => o);
  }

  /** Stores a new object, filling uid, creationTimestamp, apiVersion/kind and resourceVersion. */
  create(plural: string, input: KubeObject): KubeObject {
    const c = this.#collection(plural);
    const obj = structuredClone(input);
    obj.apiVersion = apiVersionOf(c.type);
    obj.kind = c.type.kind;
    if (!c.type.namespaced) delete obj.metadata.namespace;
    const key = objectKey(obj.metadata.namespace, obj.metadata.name);
    if (c.objects.has(key)) {
      throw new StatusError(
        failureStatus(409, 'AlreadyExists', `${c.type.plural} "${obj.metadata.name}" already exists`, {
          name: obj.metadata.name,
          kind: c.type.plural,
        }),
      );
    }
    obj.metadata.uid ||= randomUUID();
    obj.metadata.creationTimestamp ||= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const rv = ++this.#resourceVersion;
    obj.metadata.resourceVersion = String(rv);
    c.objects.set(key, obj);
    this.#record(c, { type: 'ADDED', resourceVersion: rv, object: obj });
    return obj;
  }

  /**
   * Applies `mutate` to a deep copy and stores it with a new resourceVersion.
   * `mutate` may modify its argument in place or return a replacement.
   */
  update<T extends KubeObject>(
    plural: string,
    namespace: string | undefined,
    name: string,
    mutate: (obj: T) => T | void,
  ): T {
    const c = this.#collection(plural);
    const key = objectKey(namespace, name);
    const previous = c.objects.get(key);
    if (!previous) throw notFound(plural, name, c.type.group);
    const draft = structuredClone(previous) as T;
    const next = mutate(draft) ?? draft;
    // Identity and kind are not the caller's to change.
    next.apiVersion = previous.apiVersion;
    next.kind = previous.kind;
    next.metadata.name = previous.metadata.name;
    if (previous.metadata.namespace !== undefined) next.metadata.namespace = previous.metadata.namespace;
    next.metadata.uid = previous.metadata.uid;
    next.metadata.creationTimestamp = previous.metadata.creationTimestamp;
    const rv = ++this.#resourceVersion;
    next.metadata.resourceVersion = String(rv);
    c.objects.set(key, next);
    this.#record(c, { type: 'MODIFIED', resourceVersion: rv, object: next, previous });
    return next;
  }

  delete(plural: string, namespace: string | undefined, name: string): KubeObject {
    const c = this.#collection(plural);
    const key = objectKey(namespace, name);
    const existing = c.objects.get(key);
    if (!existing) throw notFound(plural, name, c.type.group);
    c.objects.delete(key);
    const rv = ++this.#resourceVersion;
    const last = structuredClone(existing);
    last.metadata.resourceVersion = String(rv);
    this.#record(c, { type: 'DELETED', resourceVersion: rv, object: last });
    return last;
  }

  subscribe(plural: string, listener: ChangeListener): () => void {
    const c = this.#collection(plural);
    c.listeners.add(listener);
    return () => c.listeners.delete(listener);
  }

  /**
   * Changes after `resourceVersion`, or `{ expiredBefore }` when history no
   * longer reaches back that far (the caller answers 410 Expired).
   */
  changesSince(plural: string, resourceVersion: number): ChangeEvent[] | { expiredBefore: number } {
    const c = this.#collection(plural);
    if (resourceVersion < c.oldestResumable) return { expiredBefore: c.oldestResumable };
    return c.history.filter((e) => e.resourceVersion > resourceVersion);
  }

  /**
   * Forgets all history (as after an etcd compaction): the counter moves on and
   * only the new current resourceVersion can be watched from.
   */
  expireHistory(): void {
    const rv = ++this.#resourceVersion;
    for (const c of this.#collections.values()) {
      c.history.length = 0;
      c.oldestResumable = rv;
    }
  }
}
