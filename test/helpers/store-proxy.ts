/**
 * A loopback HTTP proxy in front of the shared OpenSearch, for tests that must see or
 * pause what the aggregator asks of its store: every exchange is recorded, and `hold`
 * keeps one matching request from being forwarded until the test releases it. That makes
 * "the server is still reading when X happens" a state the test creates, not a race it hopes
 * to win.
 *
 * Bodies are buffered whole (test-sized); compression is not negotiated.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface StoreExchange {
  method: string;
  /** Path and query, e.g. `/logs-*\/_search`. */
  path: string;
  requestBody: string;
  status: number;
  responseBody: string;
}

export interface HeldRequest {
  /** Resolves once a matching request has arrived (and is being held). */
  readonly reached: Promise<void>;
  /** Forward it now (idempotent; also done at close). */
  release(): void;
}

type Match = (method: string, path: string, body: string) => boolean;

const HOP_BY_HOP = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'accept-encoding',
  'keep-alive',
]);

export class StoreProxy {
  readonly url: string;
  /** Completed exchanges, in completion order. */
  readonly exchanges: StoreExchange[] = [];
  readonly #server: Server;
  readonly #upstream: string;
  readonly #holds: Array<{ match: Match; arrived: () => void; gate: Promise<void>; release: () => void }> = [];
  readonly #releases = new Set<() => void>();

  private constructor(server: Server, url: string, upstream: string) {
    this.#server = server;
    this.url = url;
    this.#upstream = upstream.replace(/\/$/, '');
  }

  /** Listens on a loopback port; the caller closes it. */
  static async start(upstream: string): Promise<StoreProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const proxy = new StoreProxy(server, `http://127.0.0.1:${address.port}`, upstream);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void proxy.handle(req, res));
    return proxy;
  }

  /** Holds the next request matching `match` (one request) until `release()`. */
  hold(match: Match): HeldRequest {
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    this.#holds.push({ match, arrived, gate, release });
    this.#releases.add(release);
    return { reached, release };
  }

  /** Ids of the points in time the store handed out through this proxy. */
  pitIds(): string[] {
    const ids = new Set<string>();
    for (const x of this.exchanges) {
      if (x.status !== 200 || !/\/_search\/point_in_time(\?|$)/.test(x.path) || x.method !== 'POST') continue;
      const id = (JSON.parse(x.responseBody) as { pit_id?: string }).pit_id;
      if (id !== undefined) ids.add(id);
    }
    return [...ids];
  }

  async close(): Promise<void> {
    for (const release of this.#releases) release();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** Forwards one request (after its hold, if one matches) and records the exchange. */
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const requestBody = Buffer.concat(chunks).toString('utf8');
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const i = this.#holds.findIndex((h) => h.match(method, path, requestBody));
      if (i >= 0) {
        const [h] = this.#holds.splice(i, 1);
        h!.arrived();
        await h!.gate;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      const up = await fetch(`${this.#upstream}${path}`, {
        method,
        headers,
        ...(method === 'GET' || method === 'HEAD' || requestBody === '' ? {} : { body: requestBody }),
      });
      const responseBody = Buffer.from(await up.arrayBuffer());
      const out: Record<string, string> = {};
      up.headers.forEach((v, k) => {
        if (!HOP_BY_HOP.has(k) && k !== 'content-encoding') out[k] = v;
      });
      out['content-length'] = String(responseBody.length);
      res.writeHead(up.status, out).end(method === 'HEAD' ? undefined : responseBody);
      this.exchanges.push({
        method,
        path,
        requestBody,
        status: up.status,
        responseBody: responseBody.toString('utf8'),
      });
    } catch (err) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    }
  }
}
