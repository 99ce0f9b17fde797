/**
 * `/s3/stats`'s shape: the catalog's figures (archive/catalog-queries.ts) plus each policy's
 * last run. Pure.
 */
import { Type, type Static } from 'typebox';
import { Nullable } from '../../../shared/schemas/nullable.ts';
import { ArchiveFiguresSchema } from '../../archive/catalog-queries.ts';
import { JobStatuses } from '../../jobs/job-schema.ts';
import type { AccessScope } from '../../http/scope.ts';
import type { ArchivePolicy } from '../../archive/archive-policy.ts';

/** Policies whose last run is looked up at once (two small searches each). */
export const POLICY_LOOKUP_CONCURRENCY = 8;

const PolicyRunSchema = Type.Object({
  name: Type.String(),
  enabled: Type.Boolean(),
  last_run: Nullable(
    Type.Object({
      job_id: Type.String(),
      status: Type.Enum(JobStatuses),
      created_at: Type.String({ format: 'date-time' }),
      finished_at: Nullable(Type.String({ format: 'date-time' })),
    }),
  ),
});
export type PolicyRun = Static<typeof PolicyRunSchema>;

export const ArchiveStatsSchema = Type.Object({
  ...ArchiveFiguresSchema.properties,
  policies: Type.Record(Type.String(), PolicyRunSchema, {
    description:
      "Every policy that can archive logs within the token's scope, by id, with its newest run (null: never run).",
  }),
});

/**
 * Can a policy archive anything a token with `scope` may see? A selection's empty list is
 * "all", which meets any limit.
 */
export function policyTouchesScope(selection: ArchivePolicy['selection'], scope: AccessScope): boolean {
  const meets = (chosen: readonly string[], allowed: readonly string[] | null) =>
    allowed === null || chosen.length === 0 || chosen.some((c) => allowed.includes(c));
  return meets(selection.clusters, scope.clusters) && meets(selection.namespaces, scope.namespaces);
}
