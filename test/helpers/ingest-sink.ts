/**
 * A loopback stand-in for the aggregator's ingest endpoints (shared/schemas/ingest.ts), for
 * agent tests and the agent benchmark. node:http, no framework.
 *
 * - `POST /v1/ingest`: checks the bearer token and headers, gunzips the NDJSON body, records
 *   every id (and, with `keepRecords`, every parsed record, validated against
 *   LogRecordSchema), answers 200 with an IngestResponse (ids already seen count as
 *   duplicates). Can be told to fail (any status, with Retry-After), to delay, to reset
 *   connections, or to stop listening altogether (connection refused) and come back on the
 *   same port.
 * - `POST /v1/ingest/heartbeat`: records heartbeats.
 * - `GET /v1/ingest/config`: serves `config` with an ETag; 304 on If-None-Match.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
  /** Records by arrival (keepRecords). */
  readonly records: LogRecord[] = [];
  /** id → times received. */
  readonly idCounts = new Map<string, number>();
  /** Records received in 200-answered requests, counting resends. */
  received = 0;
  /** Requests by status answered. */
  readonly statuses = new Map<number | 'reset', number>();
  requests = 0;
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
  private failure: SinkFailure | null = null;
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

  async listen(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5000;
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
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

  private count(status: number | 'reset'): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
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
      this.count(f.status);
      this.notify();
      if (f.status === 'reset') {
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> = {};
      if (f.retryAfter !== undefined) headers['retry-after'] = f.retryAfter;
      this.error(res, f.status, 'injected', 'injected failure', headers);
      return;
    }
    if (req.headers['content-encoding'] !== 'gzip' || req.headers['content-type'] !== 'application/x-ndjson') {
      this.count(415);
      return this.error(res, 415, 'unsupported_media_type', 'expected gzip NDJSON');
    }
    let text: string;
    try {
      text = gunzipSync(body).toString('utf8');
    } catch {
      this.count(400);
      return this.error(res, 400, 'invalid_gzip', 'body is not gzip');
    }
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
    let received = 0;
    let duplicates = 0;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const line = text.slice(start, nl);
      start = nl + 1;
      if (line.length === 0) continue;
      received++;
      const idEnd = line.indexOf('"', 7);
      const id = line.slice(7, idEnd);
      if (this.keepRecords) {
        let rec: unknown;
        try {
          rec = JSON.parse(line);
        } catch (err) {
          this.invalid.push({ line, errors: String(err) });
          continue;
        }
        if (!validate.Check(rec)) {
          this.invalid.push({ line, errors: [...validate.Errors(rec)].slice(0, 3) });
        }
        if ((rec as LogRecord).id !== id) this.invalid.push({ line, errors: 'id is not the first field' });
        this.records.push(rec as LogRecord);
      }
      if (this.keepIds) {
        const n = this.idCounts.get(id) ?? 0;
        if (n > 0) duplicates++;
        this.idCounts.set(id, n + 1);
      }
    }
    this.received += received;
    this.count(200);
    const response: IngestResponse = { received, accepted: received, duplicates, rejected: [] };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(response));
    this.notify();
  }

  private error(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    res
      .writeHead(status, { 'content-type': 'application/json', ...headers })
      .end(JSON.stringify({ error: { status, code, message }, request_id: 'sink' }));
  }
}
