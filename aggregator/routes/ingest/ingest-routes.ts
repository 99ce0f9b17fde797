/**
 * Agent ingest: `POST /v1/ingest` (gzip NDJSON batches), `POST /v1/ingest/heartbeat`,
 * `GET /v1/ingest/config`. The response semantics are the contract in
 * shared/schemas/ingest.ts: 200 only when every record is stored or rejected for good.
 */
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { HeartbeatSchema, IngestResponseSchema, type IngestRejection } from '../../../shared/schemas/ingest.ts';
import { CollectionConfigSchema } from '../../../shared/schemas/collection-config.ts';
import { AppError } from '../../errors.ts';
import { decodeBatch } from './decode-batch.ts';
import type { BulkWriter } from '../../store/bulk-writer.ts';
import type { AggregatorMetrics } from '../../telemetry/metrics.ts';
import type { HeartbeatStore } from '../../store/heartbeat-store.ts';
import type { CollectionConfigStore } from '../../store/collection-config-store.ts';
import { toAppError } from '../../store/opensearch.ts';

const gunzipAsync = promisify(gunzip);

export interface IngestRoutesOptions {
  writer: BulkWriter;
  metrics: AggregatorMetrics;
  heartbeats: HeartbeatStore;
  configs: CollectionConfigStore;
  maxBodyBytes: number;
  maxInflatedBytes: number;
  maxRecordBytes: number;
}

export const ingestRoutes: FastifyPluginAsyncTypebox<IngestRoutesOptions> = async (app, opts) => {
  app.addContentTypeParser(['application/x-ndjson', 'application/ndjson'], { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));

  const errors = { 400: ErrorEnvelopeSchema, 401: ErrorEnvelopeSchema, 403: ErrorEnvelopeSchema, 413: ErrorEnvelopeSchema, 415: ErrorEnvelopeSchema, 429: ErrorEnvelopeSchema, 503: ErrorEnvelopeSchema };

  app.post('/v1/ingest', {
    config: { auth: 'ingest' },
    bodyLimit: opts.maxBodyBytes,
    schema: {
      summary: 'Ingest a batch of log records (agents)',
      description: 'Body: NDJSON of log records, usually `Content-Encoding: gzip`. 200 settles the whole batch (stored, duplicate or rejected for good); 429/5xx mean send it again.',
      tags: ['ingest'],
      response: { 200: IngestResponseSchema, ...errors },
    },
  }, async (request) => {
    const cluster = ingestCluster(request.principal?.clusters);
    const raw = request.body as Buffer | undefined;
    if (!Buffer.isBuffer(raw)) throw new AppError('AGG_ERR_UNSUPPORTED_MEDIA_TYPE', 'send application/x-ndjson');
    const body = await inflate(raw, request.headers['content-encoding'], opts.maxInflatedBytes);
    const batch = decodeBatch(body, cluster, opts.maxRecordBytes);
    opts.metrics.receivedRecords.inc({ cluster }, batch.received);
    if (batch.received === 0) throw new AppError('AGG_ERR_INVALID_REQUEST', 'batch holds no records');
    if (batch.records.length === 0) {
      countRejections(opts.metrics, batch.rejections);
      throw new AppError('AGG_ERR_INVALID_REQUEST', 'no record in the batch is valid', { details: batch.rejections.slice(0, 100) });
    }
    const endTimer = opts.metrics.bulkDuration.startTimer();
    let outcomes;
    try {
      outcomes = await opts.writer.write(batch.records, batch.raw);
    } catch (err) {
      const e = toAppError(err, 'indexing');
      opts.metrics.storeErrors.inc({ operation: 'bulk', kind: e.code });
      throw e;
    } finally {
      endTimer();
    }
    let created = 0;
    let duplicates = 0;
    let retry = false;
    const rejected: IngestRejection[] = [...batch.rejections];
    outcomes.forEach((o, i) => {
      if (o.kind === 'created') created++;
      else if (o.kind === 'duplicate') duplicates++;
      else if (o.kind === 'retry') retry = true;
      else rejected.push({ line: batch.lines[i]!, id: batch.records[i]!.id, reason: o.reason, message: o.message });
    });
    opts.metrics.indexedRecords.inc({ cluster, result: 'created' }, created);
    opts.metrics.indexedRecords.inc({ cluster, result: 'duplicate' }, duplicates);
    if (retry) {
      // Some items were pushed back: the batch is not settled. What was stored comes back
      // as duplicates on the resend, so the agent loses and duplicates nothing.
      opts.metrics.storeErrors.inc({ operation: 'bulk', kind: 'item_backpressure' });
      throw new AppError('AGG_ERR_STORE_BUSY', 'the store pushed back part of the batch; send it again', { retryAfterSeconds: 1 });
    }
    countRejections(opts.metrics, rejected);
    rejected.sort((a, b) => a.line - b.line);
    return { received: batch.received, accepted: created + duplicates, duplicates, rejected };
  });

  app.post('/v1/ingest/heartbeat', {
    config: { auth: 'ingest' },
    schema: { summary: 'Agent heartbeat', tags: ['ingest'], body: HeartbeatSchema, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    const cluster = ingestCluster(request.principal?.clusters);
    if (request.body.cluster !== cluster) throw new AppError('AGG_ERR_FORBIDDEN', `token is bound to cluster "${cluster}"`);
    await opts.heartbeats.record(request.body).catch((err: unknown) => { throw toAppError(err, 'heartbeat'); });
    return reply.status(204).send(null);
  });

  app.get('/v1/ingest/config', {
    config: { auth: 'ingest' },
    schema: {
      summary: "The collection configuration of the token's cluster (agents; ETag / If-None-Match)",
      tags: ['ingest'],
      response: { 200: CollectionConfigSchema, 304: Type.Null(), ...errors },
    },
  }, async (request, reply) => {
    const cluster = ingestCluster(request.principal?.clusters);
    const { config, etag } = await opts.configs.get(cluster).catch((err: unknown) => { throw toAppError(err, 'config'); });
    reply.header('ETag', etag);
    if (request.headers['if-none-match'] === etag) return reply.status(304).send(null);
    return config;
  });
};

function ingestCluster(clusters: readonly string[] | null | undefined): string {
  if (!clusters || clusters.length !== 1 || !clusters[0]) {
    throw new AppError('AGG_ERR_FORBIDDEN', 'ingest tokens must be bound to exactly one cluster');
  }
  return clusters[0];
}

async function inflate(raw: Buffer, encoding: string | undefined, maxInflatedBytes: number): Promise<Buffer> {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return raw;
  if (enc !== 'gzip') throw new AppError('AGG_ERR_UNSUPPORTED_MEDIA_TYPE', `unsupported content-encoding "${enc}"; use gzip`);
  try {
    return await gunzipAsync(raw, { maxOutputLength: maxInflatedBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new AppError('AGG_ERR_PAYLOAD_TOO_LARGE', `inflated body exceeds ${maxInflatedBytes} bytes`);
    }
    throw new AppError('AGG_ERR_INVALID_REQUEST', 'body is not valid gzip');
  }
}

function countRejections(metrics: AggregatorMetrics, rejected: readonly IngestRejection[]) {
  for (const r of rejected) metrics.rejectedRecords.inc({ reason: r.reason });
}
