/** Token scopes (DESIGN.md §6) and what each grants. Pure. */
export const Scopes = ['logs:read', 'logs:write', 'archive', 'admin', 'ingest'] as const;
export type Scope = (typeof Scopes)[number];

export interface Principal {
  readonly tokenId: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** Clusters this token is limited to; null = all. Ingest tokens have exactly one. */
  readonly clusters: readonly string[] | null;
  /** Namespaces this token is limited to; null = all. */
  readonly namespaces: readonly string[] | null;
}

/**
 * `admin` implies every API scope; `logs:write` implies `logs:read`. `ingest` is only
 * what it says: an agent's token reads nothing.
 */
export function grants(principal: Principal, needed: Scope): boolean {
  const has = principal.scopes;
  if (has.includes(needed)) return true;
  if (needed === 'ingest') return false;
  if (has.includes('admin')) return true;
  return needed === 'logs:read' && has.includes('logs:write');
}
