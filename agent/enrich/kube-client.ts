/**
 * GET requests to the Kubernetes API over one undici Pool (the agent's cheap Pool loader,
 * send/undici-pool.ts), for list-watch.ts. Not a general client: GET only, JSON only.
 *
 * Concurrency: one client serves all list-watches; the Pool opens a connection per
 * concurrent request (each watch holds one for its lifetime).
 */
import type { Dispatcher } from 'undici';
import { Pool, request } from '../send/undici-pool.ts';
import type { KubeConnection } from './kube-connection.ts';

/** A non-2xx answer from the API server; `reason` is the Status reason when the body had one. */
export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly reason: string;
  constructor(statusCode: number, reason: string, message: string) {
    super(`kube API ${statusCode}${reason === '' ? '' : ` ${reason}`}: ${message}`);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

export interface GetOptions {
  signal: AbortSignal;
  /** Longest silence while reading the body (watches: a little over their timeoutSeconds). */
  bodyTimeoutMs: number;
}

export interface KubeClient {
  /** GET `path` + `query`; resolves with the open body for a 2xx, rejects with KubeApiError otherwise. */
  get(path: string, query: URLSearchParams, opts: GetOptions): Promise<Dispatcher.ResponseData['body']>;
  /**
   * Calls `fn` after every 2xx answer, so watches sharing this client that are waiting out
   * a backoff can retry as soon as the API is reachable again. Returns the unsubscribe.
   */
  onSuccess(fn: () => void): () => void;
  close(): Promise<void>;
}

/** Reads a whole JSON body (list responses; a page is bounded by `limit`). */
export async function readJson(body: Dispatcher.ResponseData['body']): Promise<unknown> {
  return JSON.parse(await body.text()) as unknown;
}

export function createKubeClient(conn: KubeConnection): KubeClient {
  const url = new URL(conn.server);
  const prefix = url.pathname.replace(/\/+$/, '');
  const connect: Record<string, unknown> = { rejectUnauthorized: !conn.insecureSkipTlsVerify };
  if (conn.ca !== undefined) connect['ca'] = conn.ca;
  if (conn.cert !== undefined) connect['cert'] = conn.cert;
  if (conn.key !== undefined) connect['key'] = conn.key;
  if (conn.tlsServerName !== undefined) connect['servername'] = conn.tlsServerName;
  const successListeners = new Set<() => void>();
  const pool = new Pool(url.origin, { connect, headersTimeout: 30_000, keepAliveTimeout: 30_000 });

  return {
    async get(path, query, opts) {
      const headers: Record<string, string> = { accept: 'application/json' };
      const auth = conn.authorization();
      if (auth !== undefined) headers['authorization'] = auth;
      const qs = query.toString();
      const res = await request(pool, {
        method: 'GET',
        path: `${prefix}${path}${qs === '' ? '' : `?${qs}`}`,
        headers,
        signal: opts.signal,
        bodyTimeout: opts.bodyTimeoutMs,
      });
      if (res.statusCode >= 200 && res.statusCode < 300) {
        for (const fn of [...successListeners]) fn();
        return res.body;
      }
      let reason = '';
      let message = '';
      try {
        const text = await res.body.text();
        message = text.slice(0, 500);
        const status = JSON.parse(text) as { reason?: unknown; message?: unknown };
        if (typeof status.reason === 'string') reason = status.reason;
        if (typeof status.message === 'string') message = status.message;
      } catch {
        // not a Status body; keep what we have
      }
      throw new KubeApiError(res.statusCode, reason, message);
    },
    onSuccess(fn) {
      successListeners.add(fn);
      return () => successListeners.delete(fn);
    },
    async close() {
      await pool.destroy();
    },
  };
}
