/**
 * Agent ingest: `POST /v1/ingest` (gzip NDJSON batches), `POST /v1/ingest/heartbeat`,
 * `GET /v1/ingest/config`. The response semantics are the contract in
 * shared/schemas/ingest.ts: 200 only when every record is stored or rejected for good;
 * 429 when the store or this aggregator pushes back; 503 when the store is down or refuses
 * the batch as a whole (store-refusal.ts says whose fault a failure is).
 */
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorEnvelopeSchema } from '../../../shared/schemas/error.ts';
import { HeartbeatSchema, IngestResponseSchema, type IngestRejection, type IngestResponse } from '../../../shared/schemas/ingest.ts';
import { CollectionConfigSchema } from '../../../shared/schemas/collection-config.ts';
import { AppError } from '../../errors.ts';
import { acceptanceWindow, decodeBatch } from './decode-batch.ts';
import { InFlightBytes } from './inflight-bytes.ts';
import { classifyIngestStoreFailure, itemRetryVerdict, verdictError } from './store-refusal.ts';
import { DayIndexError, type BulkWriter, type ItemRetryCause } from '../../store/bulk-writer.ts';
import { BulkQueueFullError } from '../../store/bulk-gate.ts';
import type { AggregatorMetrics } from '../../telemetry/metrics.ts';
import type { HeartbeatStore } from '../../store/heartbeat-store.ts';
import type { CollectionConfigStore } from '../../store/collection-config-store.ts';
import { storeErrorFacts, toAppError } from '../../store/opensearch.ts';

const gunzipAsync = promisify(gunzip);

export interface IngestRoutesOptions {
  writer: BulkWriter;
  metrics: AggregatorMetrics;
  heartbeats: HeartbeatStore;
  configs: CollectionConfigStore;
  maxBodyBytes: number;
  maxInflatedBytes: number;
  maxRecordBytes: number;
  maxRecordAgeMs: number;
  maxRecordAheadMs: number;
  maxInFlightBytes: number;
  /** The in-flight budget, when shared with another ingest path (Loki push); default: its own of `maxInFlightBytes`. */
  inFlight?: InFlightBytes;
}

export const ingestRoutes: FastifyPluginAsyncTypebox<IngestRoutesOptions> = async (app, opts) => {
  const inFlight = opts.inFlight ?? new InFlightBytes(opts.maxInFlightBytes);
  app.addContentTypeParser(['application/x-ndjson', 'application/ndjson'], { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));

  const errors = { 400: ErrorEnvelopeSchema, 401: ErrorEnvelopeSchema, 403: ErrorEnvelopeSchema, 413: ErrorEnvelopeSchema, 415: ErrorEnvelopeSchema, 429: ErrorEnvelopeSchema, 503: ErrorEnvelopeSchema };

  app.post('/v1/ingest', {
    config: { auth: 'ingest' },
    bodyLimit: opts.maxBodyBytes,
    schema: {
      summary: 'Ingest a batch of log records (agents)',
      description: 'Body: NDJSON of log records, usually `Content-Encoding: gzip`. 200 settles the whole batch (stored, duplicate or rejected for good, e.g. `too_old` / `too_new` outside the accepted time window); 429 (push-back, in-flight limit) and 503 (store unavailable or refusing, e.g. a day index cannot be created) mean send it again after `Retry-After`.',
      tags: ['ingest'],
      response: { 200: IngestResponseSchema, ...errors },
    },
  }, async (request) => {
    const cluster = ingestCluster(request.principal?.clusters);
    const raw = request.body as Buffer | undefined;
    if (!Buffer.isBuffer(raw)) throw new AppError('AGG_ERR_UNSUPPORTED_MEDIA_TYPE', 'send application/x-ndjson');
    // The compressed body is held first (so a full budget refuses before paying for
    // gunzip), then the inflated one; both are released once the batch is answered.
    let held = 0;
    const hold = (bytes: number) => {
      if (!inFlight.tryAcquire(bytes, held)) {
        opts.metrics.ingestThrottled.inc({ reason: 'inflight_bytes' });
        throw new AppError('AGG_ERR_INGEST_OVERLOADED', 'the aggregator is busy with other batches; send this one again', { retryAfterSeconds: 1 });
      }
      held += bytes;
      opts.metrics.ingestInFlightBytes.inc(bytes);
    };
    try {
      hold(raw.length);
      const body = await inflate(raw, request.headers['content-encoding'], opts.maxInflatedBytes);
      if (body !== raw) hold(body.length);
      return await ingestBatch(body, cluster);
    } finally {
      inFlight.release(held);
      opts.metrics.ingestInFlightBytes.dec(held);
    }
  });

  async function ingestBatch(body: Buffer, cluster: string): Promise<IngestResponse> {
    const window = acceptanceWindow(Date.now(), opts.maxRecordAgeMs, opts.maxRecordAheadMs);
    const batch = decodeBatch(body, cluster, { maxRecordBytes: opts.maxRecordBytes, ...window });
    opts.metrics.receivedRecords.inc({ cluster }, batch.received);
    if (batch.received === 0) throw new AppError('AGG_ERR_INVALID_REQUEST', 'batch holds no records');
    if (batch.records.length === 0) {
      // Every record is refused for its own content: the batch is settled, with reasons. A
      // 400 here would make the agent bisect it and discard each line as `invalid_record`.
      countRejections(opts.metrics, batch.rejections);
      return { received: batch.received, accepted: 0, duplicates: 0, rejected: batch.rejections };
    }
    const endTimer = opts.metrics.bulkDuration.startTimer();
    let outcomes;
    try {
      outcomes = await opts.writer.write(batch.records, batch.raw);
    } catch (err) {
      if (err instanceof BulkQueueFullError) {
        // Shed before OpenSearch's own write queue overflows: nothing of the batch was sent.
        opts.metrics.ingestThrottled.inc({ reason: 'bulk_queue' });
        throw new AppError('AGG_ERR_INGEST_OVERLOADED', 'the store is busy with other batches; send this one again', { retryAfterSeconds: 1, cause: err });
      }
      const operation = err instanceof DayIndexError ? 'create_index' : 'bulk';
      const cause = err instanceof DayIndexError ? err.cause : err;
      const verdict = classifyIngestStoreFailure(operation, storeErrorFacts(cause));
      const answer = verdictError(verdict, err);
      opts.metrics.storeErrors.inc({ operation, kind: answer.code });
      // The error handler logs the store's own words (5xx); the answer carries none of them.
      if (verdict.kind === 'refused') opts.metrics.ingestStoreRefusals.inc({ cause: verdict.cause });
      throw answer;
    } finally {
      endTimer();
    }
    let created = 0;
    let duplicates = 0;
    const retryCauses = new Set<ItemRetryCause>();
    const rejected: IngestRejection[] = [...batch.rejections];
    outcomes.forEach((o, i) => {
      if (o.kind === 'created') created++;
      else if (o.kind === 'duplicate') duplicates++;
      else if (o.kind === 'retry') retryCauses.add(o.cause);
      else rejected.push({ line: batch.lines[i]!, id: batch.records[i]!.id, reason: o.reason, message: o.message });
    });
    opts.metrics.indexedRecords.inc({ cluster, result: 'created' }, created);
    opts.metrics.indexedRecords.inc({ cluster, result: 'duplicate' }, duplicates);
    if (retryCauses.size > 0) {
      // Some items were pushed back or refused: the batch is not settled. What was stored
      // comes back as duplicates on the resend, so the agent loses and duplicates nothing.
      const verdict = itemRetryVerdict(retryCauses);
      for (const c of retryCauses) opts.metrics.storeErrors.inc({ operation: 'bulk', kind: `item_${c}` });
      if (verdict.kind === 'refused') opts.metrics.ingestStoreRefusals.inc({ cause: verdict.cause });
      throw verdictError(verdict, undefined);
    }
    countRejections(opts.metrics, rejected);
    rejected.sort((a, b) => a.line - b.line);
    return { received: batch.received, accepted: created + duplicates, duplicates, rejected };
  }

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
