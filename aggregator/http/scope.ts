/**
 * The caller's access scope (DESIGN.md §6): a token may be limited to clusters and
 * namespaces. Pure. Routes turn the principal into an AccessScope once; use cases apply it
 * inside every query and refuse (403) what a caller names outside it.
 */
import { AppError } from '../errors.ts';
import type { Principal } from '../auth/scopes.ts';

/** Clusters and namespaces a caller may see; null = no limit. */
export interface AccessScope {
  readonly clusters: readonly string[] | null;
  readonly namespaces: readonly string[] | null;
}

export const UNLIMITED_SCOPE: AccessScope = Object.freeze({ clusters: null, namespaces: null });

export function scopeOf(principal: Principal | null): AccessScope {
  return { clusters: principal?.clusters ?? null, namespaces: principal?.namespaces ?? null };
}

/** 403 when the caller explicitly names a cluster or namespace outside its limits. */
export function checkWithinScope(
  scope: AccessScope,
  clusters?: readonly string[],
  namespaces?: readonly string[],
  verb = 'read',
) {
  const outside = (allowed: readonly string[] | null, asked?: readonly string[]) =>
    allowed && asked ? asked.filter((a) => !allowed.includes(a)) : [];
  const badClusters = outside(scope.clusters, clusters);
  if (badClusters.length)
    throw new AppError('AGG_ERR_FORBIDDEN', `token may not ${verb} cluster(s) ${badClusters.join(', ')}`);
  const badNs = outside(scope.namespaces, namespaces);
  if (badNs.length) throw new AppError('AGG_ERR_FORBIDDEN', `token may not ${verb} namespace(s) ${badNs.join(', ')}`);
}

/**
 * May a caller with `scope` see a resource of (cluster, namespace)? A cluster-wide resource
 * (namespace null) is only within the scope of a token without a namespace limit.
 */
export function scopeCovers(scope: AccessScope, cluster: string, namespace: string | null): boolean {
  if (scope.clusters && !scope.clusters.includes(cluster)) return false;
  if (scope.namespaces && (namespace === null || !scope.namespaces.includes(namespace))) return false;
  return true;
}

/** Comma-separated query parameter → its non-empty items (undefined when none). */
export function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  return items.length ? items : undefined;
}
