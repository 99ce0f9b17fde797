// Response and query helpers shared by the fake API server's handlers.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { badRequest, type Status } from './kube-objects.ts';

export function commonHeaders(): Record<string, string> {
  return { 'Audit-Id': randomUUID(), 'Cache-Control': 'no-cache, private' };
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    ...commonHeaders(),
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendStatus(res: ServerResponse, status: Status): void {
  sendJson(res, status.code, status);
}

export function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { ...commonHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Starts a long-lived streaming response and sends the headers now, so the client's fetch resolves. */
export function startStream(res: ServerResponse, contentType: string): void {
  res.writeHead(200, { ...commonHeaders(), 'Content-Type': contentType, 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
}

export function queryOf(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://fake').searchParams;
}

/** Kubernetes accepts `true`/`1`/`True` etc. for boolean query parameters. */
export function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && /^(1|t|true)$/i.test(v);
}

/** An integer parameter; undefined when absent or empty; 400 when malformed or below `min`. */
export function intParam(q: URLSearchParams, name: string, min: number): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid ${name}: "${v}" is not an integer`);
  const n = Number(v);
  if (n < min) throw badRequest(`${name}: Invalid value: ${n}: must be greater than or equal to ${min}`);
  return n;
}
