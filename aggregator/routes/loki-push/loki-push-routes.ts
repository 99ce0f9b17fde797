/**
 * Loki push: `POST /loki/api/v1/push`, so Promtail, Grafana Alloy, Fluent Bit's `loki`
 * output and Vector's `loki` sink can send to the aggregator unchanged (issue 13 §3).
 *
 * Bodies, as Loki reads them: `Content-Type: application/json` is JSON (push-body.ts);
 * anything else is a snappy-compressed (raw block, not framed) `logproto.PushRequest`
 * (push-proto.ts). `Content-Encoding: gzip` or `deflate` may wrap either; `snappy` is
 * the protobuf's own compression and changes nothing.
 *
 * Answers, as Loki's: 204 when every entry is stored; 400 with a text body when the body
 * cannot be read (nothing stored) or when some entries were dropped (the others are
 * stored, the text says which and why; Loki agents do not resend a 400); 401 / 403 for a
 * missing or non-`ingest` token; 413 for a body over `ingest.maxBodyBytes` or inflating
 * past `ingest.maxInflatedBytes`; 429 / 503 + `Retry-After` when the ingest path sheds
 * load or the store refuses (agents resend, and deterministic ids store nothing twice).
 * Every error body is plain text, as Loki's are.
 *
 * Load shedding is the agent ingest route's: the same in-flight byte budget (shared
 * instance) and the same bulk writer and its queue bound. Collection config is not applied
 * here, as it is not on agent ingest (the agent applies it before sending).
 */
import { gunzip, inflate as inflateZlib } from 'node:zlib';
import { promisify } from 'node:util';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { uncompress as snappyUncompress } from 'snappyjs';
import { AppError } from '../../errors.ts';
import type { DiscardReason } from '../../../shared/reasons.ts';
import type { AggregatorMetrics } from '../../telemetry/metrics.ts';
import { DayIndexError, type BulkWriter, type ItemRetryCause } from '../../store/bulk-writer.ts';
import { BulkQueueFullError } from '../../store/bulk-gate.ts';
import { storeErrorFacts } from '../../store/opensearch.ts';
import { acceptanceWindow } from '../ingest/decode-batch.ts';
import type { InFlightBytes } from '../ingest/inflight-bytes.ts';
import { classifyIngestStoreFailure, itemRetryVerdict, verdictError } from '../ingest/store-refusal.ts';
import { decodePushJson, PushBodyError, type PushStream } from './push-body.ts';
import { decodePushProto } from './push-proto.ts';
import { pushRecords } from './push-records.ts';
import { pushMetrics } from './push-metrics.ts';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflateZlib);

export interface LokiPushRoutesOptions {
  writer: BulkWriter;
  metrics: AggregatorMetrics;
  /** The agent ingest route's budget: both paths shed load together. */
  inFlight: InFlightBytes;
  /** Largest request body as received (compressed), bytes: config `ingest.maxBodyBytes`. */
  maxBodyBytes: number;
  /** Largest body after gzip/deflate and after snappy, bytes: config `ingest.maxInflatedBytes`. */
  maxInflatedBytes: number;
  /** Longest accepted line, UTF-8 bytes: config `ingest.maxRecordBytes`. */
  maxRecordBytes: number;
  maxRecordAgeMs: number;
  maxRecordAheadMs: number;
}

const Text = (description: string) => Type.String({ description });

export const lokiPushRoutes: FastifyPluginAsyncTypebox<LokiPushRoutesOptions> = async (app, opts) => {
  const metrics = pushMetrics(opts.metrics.registry);
  // Every content type is read as bytes here: Loki treats anything but JSON as protobuf.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) =>
    done(null, body),
  );
  app.setErrorHandler(textErrorHandler);

  app.post(
    '/loki/api/v1/push',
    {
      config: { auth: 'ingest', basicAuth: true },
      bodyLimit: opts.maxBodyBytes,
      schema: {
        summary: 'Loki push API (Promtail, Grafana Alloy, Fluent Bit loki output, Vector loki sink)',
        description:
          'Body: JSON (`Content-Type: application/json`) or snappy-compressed `logproto.PushRequest` protobuf, optionally `Content-Encoding: gzip`. Stream labels map back to record fields (README "Loki push"). 204: all stored; 400 (text): unreadable body, nothing stored, or some entries dropped, the rest stored; 429/503 + `Retry-After`: send again. Needs an `ingest` token.',
        tags: ['loki'],
        response: {
          204: Type.Null(),
          400: Text('What was wrong (plain text).'),
          401: Text('No or unknown token.'),
          403: Text('The token lacks the ingest scope.'),
          413: Text('Body too large.'),
          429: Text('Busy; send again after Retry-After.'),
          503: Text('Store unavailable or refusing; send again after Retry-After.'),
        },
      },
    },
    async (request, reply) => {
      const cluster = ingestCluster(request.principal?.clusters);
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      let held = 0;
      const hold = (bytes: number) => {
        if (!opts.inFlight.tryAcquire(bytes, held)) {
          opts.metrics.ingestThrottled.inc({ reason: 'inflight_bytes' });
          throw new AppError(
            'AGG_ERR_INGEST_OVERLOADED',
            'the aggregator is busy with other batches; send this one again',
            { retryAfterSeconds: 1 },
          );
        }
        held += bytes;
        opts.metrics.ingestInFlightBytes.inc(bytes);
      };
      try {
        hold(raw.length);
        const body = await contentDecode(raw, request.headers['content-encoding'], opts.maxInflatedBytes);
        if (body !== raw) hold(body.length);
        const json = isJson(request.headers['content-type']);
        let streams: PushStream[];
        try {
          if (json) streams = decodePushJson(body.toString('utf8'));
          else {
            const message = snappyDecode(body, opts.maxInflatedBytes);
            hold(message.length);
            streams = decodePushProto(message);
          }
        } catch (err) {
          if (!(err instanceof PushBodyError)) throw err;
          const reason: DiscardReason = json ? 'invalid_json' : 'invalid_record';
          metrics.discardedBytes.inc({ reason }, body.length);
          throw new AppError('AGG_ERR_INVALID_REQUEST', err.message);
        }
        const problems = await store(streams, cluster);
        if (problems.length > 0) throw new AppError('AGG_ERR_INVALID_REQUEST', problems.join('\n'));
        return reply.status(204).send(null);
      } finally {
        opts.inFlight.release(held);
        opts.metrics.ingestInFlightBytes.dec(held);
      }
    },
  );

  /** Stores what can be stored; returns the messages of what was dropped (empty: all stored). */
  async function store(streams: PushStream[], cluster: string): Promise<string[]> {
    const window = acceptanceWindow(Date.now(), opts.maxRecordAgeMs, opts.maxRecordAheadMs);
    const batch = pushRecords(streams, { cluster, maxLineBytes: opts.maxRecordBytes, ...window });
    opts.metrics.receivedRecords.inc({ cluster }, batch.received);
    const messages = [...batch.messages];
    const discard = (reason: DiscardReason, lines: number, bytes: number) => {
      metrics.discardedLines.inc({ reason }, lines);
      metrics.discardedBytes.inc({ reason }, bytes);
      opts.metrics.rejectedRecords.inc({ reason }, lines);
    };
    if (batch.records.length === 0) {
      for (const [reason, d] of batch.discarded) discard(reason, d.lines, d.bytes);
      return messages;
    }
    const endTimer = opts.metrics.bulkDuration.startTimer();
    let outcomes;
    try {
      outcomes = await opts.writer.write(batch.records);
    } catch (err) {
      if (err instanceof BulkQueueFullError) {
        opts.metrics.ingestThrottled.inc({ reason: 'bulk_queue' });
        throw new AppError('AGG_ERR_INGEST_OVERLOADED', 'the store is busy with other batches; send this one again', {
          retryAfterSeconds: 1,
          cause: err,
        });
      }
      const operation = err instanceof DayIndexError ? 'create_index' : 'bulk';
      const verdict = classifyIngestStoreFailure(
        operation,
        storeErrorFacts(err instanceof DayIndexError ? err.cause : err),
      );
      const answer = verdictError(verdict, err);
      opts.metrics.storeErrors.inc({ operation, kind: answer.code });
      if (verdict.kind === 'refused') opts.metrics.ingestStoreRefusals.inc({ cause: verdict.cause });
      throw answer;
    } finally {
      endTimer();
    }
    let created = 0;
    let duplicates = 0;
    let acceptedBytes = 0;
    const retryCauses = new Set<ItemRetryCause>();
    outcomes.forEach((o, i) => {
      const bytes = batch.lineBytes[i]!;
      if (o.kind === 'created' || o.kind === 'duplicate') {
        if (o.kind === 'created') created++;
        else duplicates++;
        acceptedBytes += bytes;
      } else if (o.kind === 'retry') retryCauses.add(o.cause);
      else {
        const d = batch.discarded.get(o.reason);
        if (d) {
          d.lines++;
          d.bytes += bytes;
        } else batch.discarded.set(o.reason, { lines: 1, bytes });
        if (messages.length < 20) messages.push(`entry with timestamp ${batch.records[i]!.timestamp}: ${o.message}`);
      }
    });
    opts.metrics.indexedRecords.inc({ cluster, result: 'created' }, created);
    opts.metrics.indexedRecords.inc({ cluster, result: 'duplicate' }, duplicates);
    if (retryCauses.size > 0) {
      // Not settled: the agent resends the whole push; what was stored comes back as duplicates.
      const verdict = itemRetryVerdict(retryCauses);
      for (const c of retryCauses) opts.metrics.storeErrors.inc({ operation: 'bulk', kind: `item_${c}` });
      if (verdict.kind === 'refused') opts.metrics.ingestStoreRefusals.inc({ cause: verdict.cause });
      throw verdictError(verdict, undefined);
    }
    metrics.acceptedLines.inc({ cluster }, created + duplicates);
    metrics.acceptedBytes.inc({ cluster }, acceptedBytes);
    for (const [reason, d] of batch.discarded) discard(reason, d.lines, d.bytes);
    return messages;
  }
};

function ingestCluster(clusters: readonly string[] | null | undefined): string {
  if (!clusters || clusters.length !== 1 || !clusters[0]) {
    throw new AppError('AGG_ERR_FORBIDDEN', 'ingest tokens must be bound to exactly one cluster');
  }
  return clusters[0];
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** Undoes `Content-Encoding` (Loki: none, `snappy` (the protobuf's own), `gzip`, `deflate`). */
async function contentDecode(raw: Buffer, encoding: string | undefined, maxInflatedBytes: number): Promise<Buffer> {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity' || enc === 'snappy') return raw;
  if (enc !== 'gzip' && enc !== 'deflate')
    throw new AppError('AGG_ERR_INVALID_REQUEST', `Content-Encoding "${enc.slice(0, 50)}" not supported`);
  try {
    return await (enc === 'gzip' ? gunzipAsync : inflateAsync)(raw, { maxOutputLength: maxInflatedBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new AppError('AGG_ERR_PAYLOAD_TOO_LARGE', `inflated body exceeds ${maxInflatedBytes} bytes`);
    }
    throw new AppError('AGG_ERR_INVALID_REQUEST', `body is not valid ${enc}`);
  }
}

/** A raw snappy block (what Loki agents send), at most `maxBytes` once decoded. */
function snappyDecode(body: Buffer, maxBytes: number): Buffer {
  if (body.length === 0)
    throw new PushBodyError(
      'empty body: expected a snappy-compressed protobuf PushRequest (or Content-Type: application/json)',
    );
  let out: Buffer;
  try {
    out = snappyUncompress(body, maxBytes);
  } catch (err) {
    if (err instanceof Error && /too big/.test(err.message)) {
      throw new AppError('AGG_ERR_PAYLOAD_TOO_LARGE', `decompressed body exceeds ${maxBytes} bytes`);
    }
    throw new PushBodyError('decompression error: body is not snappy-compressed');
  }
  return out;
}

/** Loki answers errors in plain text; the status and Retry-After are those of the one error map. */
function textErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  let e: AppError;
  if (err instanceof AppError) e = err;
  else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    e = new AppError('AGG_ERR_PAYLOAD_TOO_LARGE', 'request body is too large');
  else if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)
    e = new AppError('AGG_ERR_INVALID_REQUEST', err.message);
  else e = new AppError('AGG_ERR_INTERNAL', 'internal error', { cause: err });
  if (e.status >= 500) request.log.error({ err: e.cause ?? err }, 'request failed');
  if (e.retryAfterSeconds !== undefined) reply.header('Retry-After', e.retryAfterSeconds);
  return reply.status(e.status).type('text/plain; charset=utf-8').send(`${e.message}\n`);
}
