/**
 * The restore job (issue 12): loads an archived range (cluster, namespaces, time range) back
 * into the store (archive/restore-archive.ts). Runs on the job runner, so it is leased,
 * resumable and cancellable like the archive job.
 *
 * Steps: list the catalog objects overlapping the range (in key order); restore each and
 * checkpoint its counts. A resumed job skips the objects its progress lists; an object it
 * redoes writes nothing twice (ids are deterministic, writes are `create`).
 */
import { Type, type Static } from 'typebox';
import type { OpenSearch } from '../store/opensearch.ts';
import type { ArchiveCatalog } from '../archive/archive-catalog.ts';
import { candidateObjects } from '../archive/archive-content.ts';
import { restoreObject, type ObjectRestore } from '../archive/restore-archive.ts';
import type { ArchiveBucket } from '../archive/s3-bucket.ts';
import { CLUSTER_ID_PATTERN } from '../store/log-indices.ts';

export const RESTORE_JOB_TYPE = 'restore';

const Canonical = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{9}Z$' });
export const RestoreJobParamsSchema = Type.Object(
  {
    cluster: Type.String({ pattern: CLUSTER_ID_PATTERN }),
    namespaces: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 500 }),
    start: Canonical,
    end: Canonical,
  },
  { additionalProperties: false },
);
export type RestoreJobParams = Static<typeof RestoreJobParamsSchema>;

export interface RestoreJobContext {
  readonly id: string;
  readonly params: RestoreJobParams;
  readonly progress: Record<string, unknown> | null;
  readonly signal: AbortSignal;
  checkpoint(progress: Record<string, unknown>): Promise<void>;
}

export interface RestoreJobDeps {
  client: OpenSearch;
  indexPrefix: string;
  catalog: ArchiveCatalog;
  bucket(name: string): ArchiveBucket;
  /** Called after each object (tests stop the job at a known point). */
  onObject?: (key: string) => void | Promise<void>;
}

interface RestoreProgress {
  planned: number;
  objects: Record<string, ObjectRestore>;
}

export function restoreJobHandler(deps: RestoreJobDeps) {
  return {
    type: RESTORE_JOB_TYPE,
    paramsSchema: RestoreJobParamsSchema,
    async run(ctx: RestoreJobContext): Promise<Record<string, unknown>> {
      const range = {
        cluster: ctx.params.cluster,
        namespaces: ctx.params.namespaces,
        startTs: ctx.params.start,
        endTs: ctx.params.end,
      };
      const p = (ctx.progress as RestoreProgress | null) ?? { planned: 0, objects: {} };
      const objects = await candidateObjects(
        { client: deps.client, catalog: deps.catalog, bucket: deps.bucket, maxScanBytes: Number.MAX_SAFE_INTEGER },
        {
          clusters: [range.cluster],
          namespaces: range.namespaces.length > 0 ? range.namespaces : undefined,
          startTs: range.startTs,
          endTs: range.endTs,
          scopeClusters: null,
          scopeNamespaces: null,
          direction: 'forward',
          limit: 1,
        },
      );
      p.planned = objects.length;
      for (const o of objects) {
        ctx.signal.throwIfAborted();
        if (p.objects[o.key]) continue;
        p.objects[o.key] = await restoreObject({
          client: deps.client,
          indexPrefix: deps.indexPrefix,
          bucket: deps.bucket(o.bucket),
          object: o,
          range,
          signal: ctx.signal,
        });
        await ctx.checkpoint(p as unknown as Record<string, unknown>);
        await deps.onObject?.(o.key);
      }
      const sum = (k: keyof ObjectRestore) => Object.values(p.objects).reduce((n, x) => n + x[k], 0);
      await deps.client.indices.refresh({
        index: `${deps.indexPrefix}-${range.cluster}-*-restored`,
        ignore_unavailable: true,
        allow_no_indices: true,
      });
      return {
        ...ctx.params,
        objects: objects.length,
        read: sum('read'),
        restored: sum('restored'),
        already_present: sum('already_present'),
      };
    },
  };
}
