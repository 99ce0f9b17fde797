/**
 * Archive area (issue 12), scope `archive`: policies (CRUD on the system-index repository,
 * `ETag`/`If-Match`), `POST /archive/start` (heavy class) submitting an `archive` job to the
 * job runner, `GET /archive/jobs`, and the S3 views `GET /s3/metadata`, `GET /s3/stats`
 * (from the archive catalog) and `GET /storage/info`. Registers the archive job type on
 * `app.jobs`. Validation is archive/policy-validation.ts; the routes hold no store logic.
 *
 * `GET /s3/content` reads archived records back (archive/archive-content.ts).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';

/** Routes that take no parameter refuse any (a typo is an error, not a silent default). */
const NoParameters = Type.Object({}, { additionalProperties: false });
import { AppError } from '../../errors.ts';
import type { AggregatorConfig } from '../../config.ts';
import { DEFAULT_LIMIT, PageProperties, PagingQueryProperties } from '../../http/paging.ts';
import { filterDigest } from '../../http/cursor.ts';
import { formatEtag, IfMatchHeadersSchema, parseIfMatch } from '../../http/etag.ts';
import { ArchivePolicySchema, type ArchivePolicy } from '../../archive/archive-policy.ts';
import { assertPolicyUsable, parsePolicyInput } from '../../archive/policy-validation.ts';
import { ArchiveCatalog } from '../../archive/archive-catalog.ts';
import { createS3Client, SdkArchiveBucket, type ArchiveBucket } from '../../archive/s3-bucket.ts';
import { ARCHIVE_JOB_TYPE, archiveJobHandler, policyTag } from '../../jobs/archive-job.ts';
import { JobSchema } from '../../jobs/job-schema.ts';
import { CatalogObjectSchema } from '../../archive/archive-catalog.ts';
import { RESTORE_JOB_TYPE, restoreJobHandler } from '../../jobs/restore-job.ts';
import { removeRestored } from '../../archive/restore-archive.ts';
import { ArchiveScheduler } from '../../jobs/archive-schedule.ts';
import { liftAbandonedWriteBlocks } from '../../archive/write-block.ts';
import { TERMINAL_STATUSES } from '../../jobs/job-schema.ts';
import { archiveRetentionGuard } from '../../archive/retention-guard.ts';
import { archiveStats, listArchiveObjects } from '../../archive/catalog-queries.ts';
import { storageInfo, StorageInfoSchema } from '../../archive/storage-info.ts';
import { archiveHealthComponent } from '../../archive/archive-health.ts';
import { ArchiveStatsSchema, POLICY_LOOKUP_CONCURRENCY, policyTouchesScope, type PolicyRun } from './archive-stats.ts';
import {
  candidateObjects,
  contentNdjson,
  contentPage,
  decodeContentCursor,
  encodeContentCursor,
  type ContentQuery,
} from '../../archive/archive-content.ts';
import { Levels, LogRecordSchema } from '../../../shared/record.ts';
import { formatNanos, nowNanos, parseTimeParam, InvalidTimeError } from '../../../shared/time.ts';
import { checkWithinScope, list, scopeOf } from '../../http/scope.ts';
import { invalidRequest } from '../../errors.ts';
import { Readable } from 'node:stream';
import { budgetFor, checkWindow, type QueryLimits } from '../../query/query-budget.ts';
import { CLUSTER_ID_PATTERN } from '../../store/log-indices.ts';
import { toAppError } from '../../store/opensearch.ts';
import { NDJSON, wantsNdjson } from '../logs/export.ts';

const errors = {
  400: ErrorEnvelopeSchema,
  401: ErrorEnvelopeSchema,
  403: ErrorEnvelopeSchema,
  404: ErrorEnvelopeSchema,
  412: ErrorEnvelopeSchema,
  429: ErrorEnvelopeSchema,
  503: ErrorEnvelopeSchema,
};
const IdQuery = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });
const PolicyBody = Type.Record(Type.String(), Type.Unknown(), {
  description: 'An archive policy (see the `ArchivePolicy` schema); validated with reasons per field.',
});

export interface ArchiveRoutesOptions {
  s3: AggregatorConfig['archive'];
  retentionDays: number;
  /** Request windows and store deadlines of `/s3/content` (those of `GET /`). */
  limits: QueryLimits;
}

export const archiveRoutes: FastifyPluginAsyncTypebox<ArchiveRoutesOptions> = async (app, opts) => {
  const indexPrefix = app.storeLayout.indexPrefix;
  const s3 = createS3Client({
    endpoint: opts.s3.s3Endpoint,
    region: opts.s3.s3Region,
    accessKeyId: opts.s3.s3AccessKeyId,
    secretAccessKey: opts.s3.s3SecretAccessKey,
    forcePathStyle: opts.s3.s3ForcePathStyle,
    requestTimeoutMs: opts.s3.s3RequestTimeoutMs,
  });
  app.addHook('onClose', async () => s3.destroy());
  const bucket = (name: string): ArchiveBucket => new SdkArchiveBucket(s3, name);
  const policies = app.systemRepository('archive_policies', ArchivePolicySchema, {
    resource: 'archive policy',
    sortField: 'created_at',
    tiebreakField: 'id',
  });
  const catalog = new ArchiveCatalog(app.opensearch, indexPrefix);
  const getPolicy = async (id: string) => (await policies.get(id))?.doc;
  app.jobs.register(archiveJobHandler({ client: app.opensearch, indexPrefix, bucket, policy: getPolicy, catalog }));
  app.jobs.register(restoreJobHandler({ client: app.opensearch, indexPrefix, catalog, bucket }));
  const allPolicies = async () => {
    const out: ArchivePolicy[] = [];
    let cursor: string | undefined;
    do {
      const page = await policies.list({ limit: 1000, digest: filterDigest({}), ...(cursor ? { cursor } : {}) });
      out.push(...page.items.map((p) => p.doc));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out;
  };
  const scheduler = new ArchiveScheduler({
    submit: (type, params, o) => app.jobs.submit(type, params, o),
    get: (id) => app.jobs.get(id),
    policies: allPolicies,
    tickMs: opts.s3.scheduleTickMs,
    sweep: async () => {
      const lifted = await liftAbandonedWriteBlocks(app.opensearch, indexPrefix, async (id) => {
        const job = await app.jobs.get(id);
        return job !== undefined && !TERMINAL_STATUSES.includes(job.doc.status);
      });
      if (lifted.length > 0) app.log.warn({ indices: lifted }, 'archive: lifted write blocks left by ended jobs');
    },
    log: app.log,
  });
  app.onStartJobs(() => scheduler.start());
  app.addRetentionGuard(archiveRetentionGuard({ client: app.opensearch, catalog, policies: allPolicies }));
  app.addHealthComponent(archiveHealthComponent({ policies: allPolicies, bucket, slowMs: 1000 }));
  app.addHook('onClose', async () => scheduler.stop());
  /** A policy's newest run, read again by id: a list can lag a just-finished job by a refresh, a get cannot. */
  const lastRun = async (policyId: string): Promise<PolicyRun['last_run']> => {
    const [newest] = (await app.jobs.list({ type: ARCHIVE_JOB_TYPE, tags: [policyTag(policyId)], limit: 1 })).items;
    const j = newest && (await app.jobs.get(newest.id));
    return j
      ? { job_id: j.id, status: j.doc.status, created_at: j.doc.created_at, finished_at: j.doc.finished_at }
      : null;
  };
  const usable = (p: ArchivePolicy | ReturnType<typeof parsePolicyInput>) =>
    assertPolicyUsable(p, { bucket, client: app.opensearch, indexPrefix });

  app.get(
    '/archive/policies',
    {
      config: { auth: 'archive' },
      schema: {
        summary: 'List archive policies, oldest first (one by `?id=`)',
        tags: ['archive'],
        querystring: Type.Object(
          { id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), ...PagingQueryProperties },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ policies: Type.Array(ArchivePolicySchema), ...PageProperties }), ...errors },
      },
    },
    async (request) => {
      if (request.query.id) {
        const one = await policies.get(request.query.id);
        if (!one) throw new AppError('AGG_ERR_NOT_FOUND', `archive policy "${request.query.id}" does not exist`);
        return { policies: [one.doc], has_more: false, next_cursor: null };
      }
      const page = await policies.list({
        limit: request.query.limit ?? DEFAULT_LIMIT,
        cursor: request.query.cursor,
        digest: filterDigest({}),
      });
      return { policies: page.items.map((s) => s.doc), has_more: page.has_more, next_cursor: page.next_cursor };
    },
  );

  app.post(
    '/archive/policies',
    {
      config: { auth: 'archive' },
      schema: {
        summary:
          'Create an archive policy (400 with the reason: bad field, unknown bucket, unreachable S3, archives nothing)',
        tags: ['archive'],
        body: PolicyBody,
        response: { 201: ArchivePolicySchema, ...errors },
      },
    },
    async (request, reply) => {
      const input = parsePolicyInput(request.body, { retentionDays: opts.retentionDays });
      await usable(input);
      const now = new Date().toISOString();
      const doc: ArchivePolicy = { id: `ap-${randomUUID()}`, ...input, created_at: now, updated_at: now };
      const stored = await policies.create(doc.id, doc);
      reply.header('etag', formatEtag(stored.version));
      return reply.code(201).send(stored.doc);
    },
  );

  app.put(
    '/archive/policies',
    {
      config: { auth: 'archive' },
      schema: {
        summary: 'Replace an archive policy (`?id=`; `If-Match` for a conditional write)',
        tags: ['archive'],
        querystring: IdQuery,
        headers: IfMatchHeadersSchema,
        body: PolicyBody,
        response: { 200: ArchivePolicySchema, ...errors },
      },
    },
    async (request, reply) => {
      const ifMatch = parseIfMatch(request.headers['if-match']);
      const current = await policies.get(request.query.id);
      if (!current) throw new AppError('AGG_ERR_NOT_FOUND', `archive policy "${request.query.id}" does not exist`);
      const input = parsePolicyInput(request.body, { retentionDays: opts.retentionDays });
      await usable(input);
      const doc: ArchivePolicy = {
        id: current.id,
        ...input,
        created_at: current.doc.created_at,
        updated_at: new Date().toISOString(),
      };
      const stored = await policies.replace(current.id, doc, {
        ifVersion: ifMatch === '*' || ifMatch === undefined ? current.version : ifMatch,
      });
      reply.header('etag', formatEtag(stored.version));
      return stored.doc;
    },
  );

  app.delete(
    '/archive/policies',
    {
      config: { auth: 'archive' },
      schema: {
        summary: 'Delete an archive policy (`?id=`); its archives stay in S3',
        tags: ['archive'],
        querystring: IdQuery,
        headers: IfMatchHeadersSchema,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const ifMatch = parseIfMatch(request.headers['if-match']);
      const deleted = await policies.delete(request.query.id, ifMatch && ifMatch !== '*' ? { ifVersion: ifMatch } : {});
      if (!deleted) throw new AppError('AGG_ERR_NOT_FOUND', `archive policy "${request.query.id}" does not exist`);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/archive/start',
    {
      config: { auth: 'archive', heavy: true },
      schema: {
        summary: 'Start an archive job for a policy now',
        tags: ['archive'],
        body: Type.Object(
          { policy_id: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ job_id: Type.String(), status: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      const policy = await getPolicy(request.body.policy_id);
      if (!policy) throw new AppError('AGG_ERR_NOT_FOUND', `archive policy "${request.body.policy_id}" does not exist`);
      const job = await app.jobs.submit(ARCHIVE_JOB_TYPE, { policy_id: policy.id });
      return reply.code(202).send({ job_id: job.id, status: job.doc.status });
    },
  );

  const RestoreRange = {
    cluster: Type.String({ pattern: CLUSTER_ID_PATTERN, description: 'Cluster id.' }),
    start: Type.String({ minLength: 1, maxLength: 64, description: 'RFC 3339, epoch s/ms/ns or `now-30d`.' }),
    end: Type.String({ minLength: 1, maxLength: 64, description: 'RFC 3339, epoch s/ms/ns or `now`.' }),
  };
  /** The range of a restore request, within the caller's scope (a restricted token restores only its namespaces). */
  const restoreRange = (
    principal: Parameters<typeof scopeOf>[0],
    q: { cluster: string; namespaces?: string[] | undefined; start: string; end: string },
  ) => {
    const scope = scopeOf(principal);
    const namespaces = q.namespaces && q.namespaces.length > 0 ? q.namespaces : undefined;
    checkWithinScope(scope, [q.cluster], namespaces, 'restore');
    const now = nowNanos();
    let startNs: bigint;
    let endNs: bigint;
    try {
      startNs = parseTimeParam(q.start, now);
      endNs = parseTimeParam(q.end, now);
    } catch (err) {
      if (err instanceof InvalidTimeError) throw invalidRequest(err.message);
      throw err;
    }
    if (endNs < startNs) throw invalidRequest('`end` is before `start`');
    return {
      cluster: q.cluster,
      namespaces: namespaces ?? (scope.namespaces ? [...scope.namespaces] : []),
      startTs: formatNanos(startNs),
      endTs: formatNanos(endNs),
    };
  };

  app.post(
    '/archive/restore',
    {
      config: { auth: 'archive', heavy: true },
      schema: {
        summary: 'Restore an archived range (cluster, namespaces, time range) into the store, as a job',
        description:
          'Records come back into `<prefix>-<cluster>-YYYY.MM.DD-restored`, visible to `GET /`, `/search` and LogQL. ' +
          'Idempotent by record id: a second restore of the same range stores nothing twice, and records still in their original day index are not copied. ' +
          'Follow the job with `GET /archive/jobs?id=`; remove the records with `DELETE /archive/restore`.',
        tags: ['archive'],
        body: Type.Object(
          {
            ...RestoreRange,
            namespaces: Type.Optional(
              Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
                maxItems: 500,
                description: 'Empty or absent = all.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ job_id: Type.String(), status: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      const r = restoreRange(request.principal, request.body);
      const job = await app.jobs.submit(RESTORE_JOB_TYPE, {
        cluster: r.cluster,
        namespaces: r.namespaces,
        start: r.startTs,
        end: r.endTs,
      });
      return reply.code(202).send({ job_id: job.id, status: job.doc.status });
    },
  );

  app.delete(
    '/archive/restore',
    {
      config: { auth: 'archive' },
      schema: {
        summary: 'Remove restored records of a range (the original day indices are never touched)',
        tags: ['archive'],
        querystring: Type.Object(
          {
            ...RestoreRange,
            namespace: Type.Optional(
              Type.String({ minLength: 1, maxLength: 2000, description: 'Comma-separated; absent = all.' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ deleted: Type.Integer({ description: 'Restored records removed.' }) }),
          ...errors,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const r = restoreRange(request.principal, { ...q, namespaces: list(q.namespace) });
      try {
        return { deleted: await removeRestored(app.opensearch, indexPrefix, r) };
      } catch (err) {
        throw toAppError(err, 'remove restored records');
      }
    },
  );

  app.get(
    '/archive/jobs',
    {
      config: { auth: 'archive' },
      schema: {
        summary: 'List archive and restore jobs (filter by type, policy and status; one by `?id=`)',
        tags: ['archive'],
        querystring: Type.Object(
          {
            id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            type: Type.Optional(
              Type.Enum([ARCHIVE_JOB_TYPE, RESTORE_JOB_TYPE], {
                default: ARCHIVE_JOB_TYPE,
                description: 'Archive runs or restores (`?id=` finds either).',
              }),
            ),
            policy_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            status: Type.Optional(Type.Enum(['pending', 'running', 'succeeded', 'failed', 'cancelled'])),
            ...PagingQueryProperties,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ jobs: Type.Array(JobSchema), ...PageProperties }),
          ...errors,
        },
      },
    },
    async (request) => {
      const q = request.query;
      if (q.id) {
        const one = await app.jobs.get(q.id);
        if (!one || (one.doc.type !== ARCHIVE_JOB_TYPE && one.doc.type !== RESTORE_JOB_TYPE))
          throw new AppError('AGG_ERR_NOT_FOUND', `archive job "${q.id}" does not exist`);
        return { jobs: [one.doc], has_more: false, next_cursor: null };
      }
      // The policy is a job tag, so the store filters and every page is full.
      const page = await app.jobs.list({
        type: q.type ?? ARCHIVE_JOB_TYPE,
        ...(q.status ? { status: q.status } : {}),
        ...(q.policy_id ? { tags: [policyTag(q.policy_id)] } : {}),
        limit: q.limit ?? DEFAULT_LIMIT,
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      return { jobs: page.items.map((s) => s.doc), has_more: page.has_more, next_cursor: page.next_cursor };
    },
  );

  app.get(
    '/s3/metadata',
    {
      config: { auth: 'archive' },
      schema: {
        summary: 'List archived objects (filter by cluster, namespace, time range; paged)',
        tags: ['archive'],
        querystring: Type.Object(
          {
            cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
            namespace: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
            start: Type.Optional(Type.String({ format: 'date-time' })),
            end: Type.Optional(Type.String({ format: 'date-time' })),
            ...PagingQueryProperties,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ objects: Type.Array(CatalogObjectSchema), ...PageProperties }),
          ...errors,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await listArchiveObjects(app.opensearch, catalog, {
        cluster: q.cluster,
        namespace: q.namespace,
        start: q.start,
        end: q.end,
        scopeNamespaces: request.principal?.namespaces ?? null,
        scopeClusters: request.principal?.clusters ?? null,
        limit: q.limit ?? DEFAULT_LIMIT,
        cursor: q.cursor,
      });
      return { objects: page.items, has_more: page.has_more, next_cursor: page.next_cursor };
    },
  );

  const Name = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 253, description }));
  app.get(
    '/s3/content',
    {
      config: { auth: 'archive', heavyWhen: (request) => wantsNdjson(request) },
      schema: {
        summary:
          'Archived log records read back from S3 (the filters and page shape of `GET /`, or one object by `key`)',
        description:
          'Reads the archive objects the catalog selects (scope, cluster, namespace, time overlap, or `key`), decompressed, and filters every record. ' +
          "The window is that of `GET /` (at most the request class's window; `start` defaults to that long before `end`), except that `key` alone reads the whole object. A request whose objects store more than the configured scan bound is a 400 (`window_too_large`). " +
          'With `Accept: application/x-ndjson` every match is streamed, object by object in key order (limit and cursor ignored; `max` caps it).',
        tags: ['archive'],
        querystring: Type.Object(
          {
            key: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 1024,
                description: 'One archived object (a key from `/s3/metadata`).',
              }),
            ),
            cluster: Name('Cluster id (comma-separated for several).'),
            namespace: Name('Namespace (comma-separated for several).'),
            pod: Name('Pod name (comma-separated for several).'),
            container: Name('Container name (comma-separated for several).'),
            stream: Type.Optional(Type.Union([Type.Literal('stdout'), Type.Literal('stderr')])),
            level: Type.Optional(Type.String({ maxLength: 200, description: 'Level, comma-separated for several.' })),
            q: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 1000,
                description: 'Text the message contains (case-insensitive).',
              }),
            ),
            start: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 64,
                description:
                  'RFC 3339, epoch s/ms/ns or `now-7d`. Default: the longest window of the request class (31 days by default; NDJSON 7 days) before `end`.',
              }),
            ),
            end: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 64,
                description: 'RFC 3339, epoch s/ms/ns or `now`. Default: now.',
              }),
            ),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
            cursor: Type.Optional(Type.String({ maxLength: 2000 })),
            direction: Type.Optional(
              Type.Union([Type.Literal('backward'), Type.Literal('forward')], {
                default: 'backward',
                description: 'backward = newest first.',
              }),
            ),
            max: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: 100_000_000,
                description: 'NDJSON only: stop after this many records.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            logs: Type.Array(LogRecordSchema),
            total: Type.Integer({ description: 'Matching records in the objects read (exact).' }),
            total_relation: Type.Literal('eq'),
            has_more: Type.Boolean(),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
            took_ms: Type.Integer(),
            scanned_objects: Type.Integer(),
            scanned_bytes: Type.Integer({ description: 'Stored bytes read from S3.' }),
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const began = Date.now();
      const p = request.query;
      const scope = scopeOf(request.principal);
      const clusters = list(p.cluster);
      const namespaces = list(p.namespace);
      checkWithinScope(scope, clusters, namespaces);
      const levels = list(p.level);
      const badLevel = levels?.find((l) => !(Levels as readonly string[]).includes(l));
      if (badLevel) throw invalidRequest(`level: unknown level "${badLevel}"; use ${Levels.join(', ')}`);
      const limit = p.limit ?? DEFAULT_LIMIT;
      if (!Number.isSafeInteger(limit)) throw invalidRequest('limit: an integer from 1 to 1000');
      // The window of GET /: the request class's longest window, ending at `end` (default now).
      // One object by key without a window is read whole.
      const budget = budgetFor(request, reply, opts.limits);
      const now = nowNanos();
      const time = (v: string, name: string) => {
        try {
          return parseTimeParam(v, now);
        } catch (err) {
          if (err instanceof InvalidTimeError) throw invalidRequest(`${name}: ${err.message}`);
          throw err;
        }
      };
      let startTs: string | null = null;
      let endTs: string | null = null;
      if (p.key === undefined || p.start !== undefined || p.end !== undefined) {
        const endNs = p.end === undefined ? now : time(p.end, 'end');
        const startNs =
          p.start === undefined ? endNs - BigInt(budget.maxWindowHours) * 3_600_000_000_000n : time(p.start, 'start');
        if (endNs < startNs) throw invalidRequest('`end` is before `start`');
        checkWindow(budget, startNs, endNs);
        startTs = formatNanos(startNs < 0n ? 0n : startNs);
        endTs = formatNanos(endNs);
      }
      const direction = p.direction ?? 'backward';
      const filters = {
        key: p.key,
        clusters,
        namespaces,
        pods: list(p.pod),
        containers: list(p.container),
        levels,
        streams: p.stream ? [p.stream] : undefined,
        q: p.q,
        scopeClusters: scope.clusters,
        scopeNamespaces: scope.namespaces,
        direction,
      };
      const digest = filterDigest({ ...filters, start: p.start, end: p.end });
      let after: ContentQuery['after'];
      if (p.cursor !== undefined && !wantsNdjson(request)) {
        const c = decodeContentCursor(p.cursor, digest);
        ({ after, startTs, endTs } = { after: c.after, startTs: c.startTs, endTs: c.endTs });
      }
      const query: ContentQuery = { ...filters, startTs, endTs, limit, after };
      const controller = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished)
          controller.abort(new AppError('AGG_ERR_CLIENT_CLOSED', 'the client closed the connection'));
      });
      const deps = {
        client: app.opensearch,
        catalog,
        bucket,
        maxScanBytes: opts.s3.contentMaxScanBytes,
        signal: controller.signal,
      };
      if (p.key !== undefined) {
        // One object: 404 when the archive has no such object, 403 when it is outside the token's scope.
        const [any] = await candidateObjects(deps, {
          ...query,
          scopeClusters: null,
          scopeNamespaces: null,
          clusters: undefined,
          namespaces: undefined,
          startTs: null,
          endTs: null,
          after: undefined,
        });
        if (!any) throw new AppError('AGG_ERR_NOT_FOUND', `no archived object with key "${p.key}"`);
        checkWithinScope(scope, [any.cluster], [any.namespace]);
      }
      if (wantsNdjson(request)) {
        const objects = await candidateObjects(deps, query);
        const body = Readable.from(contentNdjson(deps, objects, query, p.max), { objectMode: false });
        body.on('error', (err) => request.log.error({ err }, 's3 content export aborted'));
        reply.header('content-type', `${NDJSON}; charset=utf-8`);
        reply.header('cache-control', 'no-store');
        return reply.send(body as never);
      }
      const page = await contentPage(deps, query);
      return {
        logs: page.logs,
        total: page.total,
        total_relation: 'eq' as const,
        has_more: page.has_more,
        next_cursor: page.last ? encodeContentCursor(page.last, { ...query, startTs, endTs }, digest) : null,
        took_ms: Date.now() - began,
        scanned_objects: page.scanned_objects,
        scanned_bytes: page.scanned_bytes,
      };
    },
  );

  app.get(
    '/s3/stats',
    {
      config: { auth: 'archive' },
      schema: {
        summary: 'Aggregate statistics of the archive',
        querystring: NoParameters,
        tags: ['archive'],
        response: { 200: ArchiveStatsSchema, ...errors },
      },
    },
    async (request) => {
      const scope = scopeOf(request.principal);
      const [stats, visible] = await Promise.all([
        archiveStats(app.opensearch, catalog, { scopeNamespaces: scope.namespaces, scopeClusters: scope.clusters }),
        allPolicies().then((all) => all.filter((p) => policyTouchesScope(p.selection, scope))),
      ]);
      const policies: Record<string, PolicyRun> = {};
      for (let i = 0; i < visible.length; i += POLICY_LOOKUP_CONCURRENCY) {
        const chunk = visible.slice(i, i + POLICY_LOOKUP_CONCURRENCY);
        const runs = await Promise.all(chunk.map((p) => lastRun(p.id)));
        chunk.forEach((p, j) => (policies[p.id] = { name: p.name, enabled: p.enabled, last_run: runs[j]! }));
      }
      return { ...stats, policies };
    },
  );

  app.get(
    '/storage/info',
    {
      config: { auth: 'archive' },
      schema: {
        summary: 'Storage configuration: the store and the archive (no secret ever appears)',
        querystring: NoParameters,
        tags: ['archive'],
        response: { 200: StorageInfoSchema, ...errors },
      },
    },
    async () => {
      const all = await allPolicies();
      const buckets = [...new Set(all.map((p) => p.destination.bucket))];
      return storageInfo({
        client: app.opensearch,
        indexPrefix,
        retentionDays: opts.retentionDays,
        s3: opts.s3,
        buckets: buckets.map(bucket),
        policies: all,
      });
    },
  );
};
