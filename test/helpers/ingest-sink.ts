/**
 * A loopback stand-in for the aggregator's ingest endpoints (shared/schemas/ingest.ts), for
 * agent tests and the agent benchmark. node:http, no framework.
 *
 * - `POST /v1/ingest`: checks the bearer token and headers, inflates the NDJSON body (gzip
 *   or identity, like the aggregator), and stores records **first write wins** by id, as
 *   OpenSearch `create` does: a second write of a stored id is a duplicate and does not
 *   replace the stored content (`records` holds what is stored, `writes` every write). With
 *   `keepRecords` every line is parsed and validated against LogRecordSchema; a line that
 *   does not parse or validate is rejected in the 200 (`invalid_json` / `invalid_record`)
 *   and not stored, as the aggregator does (decode-batch.ts). Answers as
 *   aggregator/routes/ingest/ingest-routes.ts does:
 *   - 200 IngestResponse: `accepted` = stored now or before, `duplicates`, `rejected` with
 *     reasons (also `rejectWhen`, e.g. `too_old` / `too_new` outside the timestamp window),
 *     also when no record of the batch is valid (settled: every record refused for good);
 *   - 400 `invalid_request` when the batch holds no record at all;
 *   - 415 for another content type or encoding, 400 for a body that is not gzip;
 *   - injected failures (`fail`): any status with Retry-After (429 `store_busy` /
 *     `ingest_overloaded`, 503 `store_unavailable` / `store_refused`), optionally after
 *     storing the batch
 *     (`storeFirst`: a store that took part of the bulk, then pushed back), or `reset`;
 *   - `hold()`: store the batch but never answer (the connection stays open until
 *     `release()`), for a crash between "stored" and "acknowledged".
 *   Can also delay, or stop listening altogether (connection refused) and come back on the
 *   same port.
 * - `POST /v1/ingest/heartbeat`: records heartbeats.
 * - `GET /v1/ingest/config`: serves `config` with an ETag; 304 on If-None-Match.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { Compile } from 'typebox/compile';
import { LogRecordSchema, type LogRecord } from '../../shared/record.ts';
import { INGEST_CONFIG_PATH, type CollectionConfig } from '../../shared/schemas/collection-config.ts';
import { INGEST_HEARTBEAT_PATH, INGEST_PATH, type IngestResponse } from '../../shared/schemas/ingest.ts';

export interface SinkFailure {
  /** HTTP status to answer, or 'reset' to destroy the connection. */
  status: number | 'reset';
  retryAfter?: string;
  /** How many requests to fail; Infinity until `heal()`. */
  times: number;
  /** Store the batch first, then answer the failure (the resend then finds duplicates). */
  storeFirst?: boolean;
  /**
   * Error envelope code; default by status: 429 `ingest_overloaded` (with `storeFirst`:
   * `store_busy`), 503 `store_unavailable`.
   */
  code?: string;
}

/** A per-record rejection in a 200 (the aggregator's validation, e.g. the timestamp window). */
export interface SinkRejection {
  reason: string;
  message: string;
}

/** Outcome of {@link IngestSink.contentReport}. */
export interface ContentReport {
  /** Expected lines not stored. */
  missing: string[];
  /** Expected lines stored more than once (with the count). */
  doubled: Array<[string, number]>;
  /** Stored lines nobody wrote. */
  unexpected: string[];
}

export interface IngestSinkOptions {
  token?: string;
  /** Parse and keep every record (tests). The benchmark only counts ids. */
  keepRecords?: boolean;
  /** Keep ids (default true). */
  keepIds?: boolean;
  port?: number;
}

const validate = Compile(LogRecordSchema);

export class IngestSink {
  readonly token: string;
  port = 0;
  /** Stored records (first write of each id wins), in arrival order (keepRecords). */
  readonly records: LogRecord[] = [];
  /** Every record written, duplicates included, in arrival order (keepRecords). */
  readonly writes: LogRecord[] = [];
  /** id → stored record (keepRecords). */
  readonly stored = new Map<string, LogRecord>();
  /** id → times received (stored or duplicate; not rejected). */
  readonly idCounts = new Map<string, number>();
  /** Records received in 200-answered requests, counting resends. */
  received = 0;
  /** Requests by status answered. */
  readonly statuses = new Map<number | 'reset', number>();
  requests = 0;
  /** Ingest answers in order, with the time they were given (Retry-After checks). */
  readonly answers: Array<{ atMs: number; status: number | 'reset'; firstId?: string }> = [];
  bodyBytes = 0;
  invalid: Array<{ line: string; errors: unknown }> = [];
  readonly heartbeats: unknown[] = [];
  config: CollectionConfig | null = null;
  configRequests = 0;
  delayMs = 0;
  /**
   * Refuse a whole request (this status) when any of its NDJSON lines makes this return a
   * number, as an aggregator refuses a body it cannot take (400, 413).
   */
  refuseWhen: ((line: string) => number | null) | null = null;
  /** Reject a record in the 200 (not stored) when this returns a rejection (keepRecords). */
  rejectWhen: ((record: LogRecord) => SinkRejection | null) | null = null;
  /** Records rejected in 200 answers, with the reason. */
  readonly rejections: Array<{ id: string; reason: string }> = [];
  private failure: SinkFailure | null = null;
  private holding = false;
  private readonly held: Array<{ req: IncomingMessage; res: ServerResponse }> = [];
  /** Requests stored and held without an answer since the last `hold()`. */
  heldRequests = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly keepRecords: boolean;
  private readonly keepIds: boolean;
  private waiters: Array<() => void> = [];

  constructor(opts: IngestSinkOptions = {}) {
    this.token = opts.token ?? 'test-token';
    this.keepRecords = opts.keepRecords ?? true;
    this.keepIds = opts.keepIds ?? true;
    this.port = opts.port ?? 0;
  }

  static async start(opts: IngestSinkOptions = {}): Promise<IngestSink> {
    const s = new IngestSink(opts);
    await s.listen();
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Unique ids received. */
  get uniqueIds(): number {
    return this.idCounts.size;
  }

  /** Ids received more than once in 200-answered requests. */
  duplicateIds(): string[] {
    const out: string[] = [];
    for (const [id, n] of this.idCounts) if (n > 1) out.push(id);
    return out;
  }

  fail(f: SinkFailure): void {
    this.failure = { ...f };
  }

  heal(): void {
    this.failure = null;
  }

  /** From now on, store each ingest batch but never answer it (until `release`). */
  hold(): void {
    this.holding = true;
    this.heldRequests = 0;
  }

  /** Stop holding; held requests get their connection destroyed (the agent never sees a 200). */
  release(): void {
    this.holding = false;
    for (const { req } of this.held.splice(0)) req.socket.destroy();
  }

  /** How often each line (a record's message split at `\n`) is stored. */
  contentCounts(filter: (r: LogRecord) => boolean = () => true): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.records) {
      if (!filter(r)) continue;
      for (const line of r.message.split('\n')) counts.set(line, (counts.get(line) ?? 0) + 1);
    }
    return counts;
  }

  /** Compares the stored lines with the lines written (each expected exactly once). */
  contentReport(expected: readonly string[], filter?: (r: LogRecord) => boolean): ContentReport {
    const counts = this.contentCounts(filter);
    const want = new Map<string, number>();
    for (const l of expected) want.set(l, (want.get(l) ?? 0) + 1);
    const missing: string[] = [];
    const doubled: Array<[string, number]> = [];
    for (const [l, n] of want) {
      const got = counts.get(l) ?? 0;
      if (got < n) missing.push(l);
      else if (got > n) doubled.push([l, got]);
    }
    const unexpected = [...counts.keys()].filter((l) => !want.has(l));
    return { missing, doubled, unexpected };
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5000;
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stop listening and drop connections: the agent sees connection refused / resets. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s === null) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const sock of this.sockets) sock.destroy();
    await closed;
  }

  /** Listen again on the same port. */
  async up(): Promise<void> {
    if (this.server === null) await this.listen();
  }

  async close(): Promise<void> {
    this.release();
    await this.down();
  }

  /** Resolves when `pred()` holds; rejects after `timeoutMs` with `what` in the message. */
  async waitFor(pred: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private count(status: number | 'reset', text?: string): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    const firstId = text !== undefined && text.startsWith('{"id":"') ? text.slice(7, text.indexOf('"', 7)) : undefined;
    this.answers.push({ atMs: Date.now(), status, ...(firstId !== undefined ? { firstId } : {}) });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const go = (): void => this.route(req, res, body);
      if (this.delayMs > 0) setTimeout(go, this.delayMs);
      else go();
    });
  }

  private route(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      this.count(401);
      return this.error(res, 401, 'unauthorized', 'missing or invalid token');
    }
    if (path === INGEST_PATH && req.method === 'POST') return this.ingest(req, res, body);
    if (path === INGEST_HEARTBEAT_PATH && req.method === 'POST') {
      this.heartbeats.push(JSON.parse(body.toString('utf8')));
      this.notify();
      res.writeHead(204).end();
      return;
    }
    if (path === INGEST_CONFIG_PATH && req.method === 'GET') {
      this.configRequests++;
      if (this.config === null) return this.error(res, 404, 'not_found', 'no config');
      const text = JSON.stringify(this.config);
      const etag = `"${createHash('sha256').update(text).digest('hex').slice(0, 16)}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag }).end();
      } else {
        res.writeHead(200, { etag, 'content-type': 'application/json' }).end(text);
      }
      this.notify();
      return;
    }
    this.error(res, 404, 'not_found', 'no route');
  }

  private ingest(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    this.requests++;
    const f = this.failure;
    if (f !== null && f.times > 0) {
      f.times--;
      if (f.times <= 0) this.failure = null;
      let text: string | undefined;
      try {
        text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body).toString('utf8') : body.toString('utf8');
      } catch {
        text = undefined;
      }
      if (f.storeFirst === true && f.status !== 'reset' && text !== undefined) this.store(text);
      this.count(f.status, text);
      this.notify();
      if (f.status === 'reset') {
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> = {};
      if (f.retryAfter !== undefined) headers['retry-after'] = f.retryAfter;
      const code =
        f.code ??
        (f.status === 503
          ? 'store_unavailable'
          : f.status === 429
            ? f.storeFirst
              ? 'store_busy'
              : 'ingest_overloaded'
            : 'injected');
      this.error(res, f.status, code, 'injected failure', headers);
      return;
    }
    const text = this.inflate(req, res, body);
    if (text === null) return;
    if (this.refuseWhen !== null) {
      for (const line of text.split('\n')) {
        const status = line === '' ? null : this.refuseWhen(line);
        if (status !== null) {
          this.count(status);
          this.notify();
          return this.error(res, status, status === 413 ? 'payload_too_large' : 'invalid_request', 'refused by test');
        }
      }
    }
    this.bodyBytes += body.length;
    const outcome = this.store(text);
    if (outcome.received === 0) {
      this.count(400);
      this.notify();
      return this.error(res, 400, 'invalid_request', 'batch holds no records');
    }
    if (this.holding) {
      // Stored; the answer never comes (the test kills the agent, then `release`s).
      this.heldRequests++;
      this.held.push({ req, res });
      this.notify();
      return;
    }
    this.count(200, text);
    const response: IngestResponse = {
      received: outcome.received,
      accepted: outcome.received - outcome.rejected.length,
      duplicates: outcome.duplicates,
      rejected: outcome.rejected as IngestResponse['rejected'],
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(response));
    this.notify();
  }

  /** The NDJSON text of the body, or null after answering 415/400. */
  private inflate(req: IncomingMessage, res: ServerResponse, body: Buffer): string | null {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const enc = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if ((type !== 'application/x-ndjson' && type !== 'application/ndjson') || (enc !== 'gzip' && enc !== 'identity')) {
      this.count(415);
      this.error(res, 415, 'unsupported_media_type', 'expected gzip NDJSON');
      return null;
    }
    if (enc === 'identity') return body.toString('utf8');
    try {
      return gunzipSync(body).toString('utf8');
    } catch {
      this.count(400);
      this.error(res, 400, 'invalid_request', 'body is not valid gzip');
      return null;
    }
  }

  /** Stores the batch, first write wins by id. */
  private store(text: string): {
    received: number;
    duplicates: number;
    rejected: Array<{ line: number; id?: string; reason: string; message: string }>;
  } {
    let received = 0;
    let duplicates = 0;
    const rejected: Array<{ line: number; id?: string; reason: string; message: string }> = [];
    let start = 0;
    let lineNo = 0;
    for (;;) {
      let nl = text.indexOf('\n', start);
      if (nl < 0) {
        if (start >= text.length) break;
        nl = text.length;
      }
      const line = text.slice(start, nl);
      start = nl + 1;
      lineNo++;
      if (line.length === 0) continue;
      received++;
      const idEnd = line.indexOf('"', 7);
      let id = line.slice(7, idEnd);
      if (this.keepRecords) {
        let rec: unknown;
        try {
          rec = JSON.parse(line);
        } catch (err) {
          this.invalid.push({ line, errors: String(err) });
          rejected.push({ line: lineNo, reason: 'invalid_json', message: 'line is not valid JSON' });
          continue;
        }
        if (!validate.Check(rec)) {
          this.invalid.push({ line, errors: [...validate.Errors(rec)].slice(0, 3) });
          rejected.push({ line: lineNo, reason: 'invalid_record', message: 'invalid record' });
          continue;
        }
        const r = rec as LogRecord;
        if (r.id !== id) this.invalid.push({ line, errors: 'id is not the first field' });
        id = r.id;
        const rej = this.rejectWhen?.(r) ?? null;
        if (rej !== null) {
          rejected.push({ line: lineNo, id, reason: rej.reason, message: rej.message });
          this.rejections.push({ id, reason: rej.reason });
          continue;
        }
        this.writes.push(r);
        if (!this.stored.has(id)) {
          this.stored.set(id, r);
          this.records.push(r);
        }
      }
      if (this.keepIds) {
        const n = this.idCounts.get(id) ?? 0;
        if (n > 0) duplicates++;
        this.idCounts.set(id, n + 1);
      }
    }
    this.received += received - rejected.length;
    return { received, duplicates, rejected };
  }

  private error(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
    details?: unknown[],
  ): void {
    const error = details !== undefined ? { status, code, message, details } : { status, code, message };
    res
      .writeHead(status, { 'content-type': 'application/json', ...headers })
      .end(JSON.stringify({ error, request_id: 'sink' }));
  }
}
