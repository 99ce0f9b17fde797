// A minimal JSON client for the Kubernetes API, for the driver and the tests' setup (the
// code under test uses its own clients: agent/enrich/kube-client.ts, @kubernetes/client-node).
// One undici Agent per client trusts the cluster CA; bearer-token auth.

import { Agent, fetch } from 'undici';
import type { KubeApiAccess } from './control-plane.ts';

/** A Kubernetes API answer that was not 2xx, with the Status reason (`NotFound`, `AlreadyExists`, …). */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly body: unknown;
  constructor(method: string, path: string, status: number, body: unknown) {
    const s = body as { reason?: string; message?: string } | undefined;
    super(
      `${method} ${path}: ${status} ${s?.reason ?? ''} ${s?.message ?? (typeof body === 'string' ? body : '')}`.trim(),
    );
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = s?.reason ?? '';
    this.body = body;
  }
}

export type PatchType = 'merge' | 'strategic' | 'json';

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
};

export class KubeApiClient {
  readonly access: KubeApiAccess;
  readonly #dispatcher: Agent;

  constructor(access: KubeApiAccess) {
    this.access = access;
    this.#dispatcher = new Agent({
      connect: { ca: access.caPem, ...(access.cert && access.key ? { cert: access.cert, key: access.key } : {}) },
    });
  }

  /** A client for the same cluster with another bearer token (a ServiceAccount's, say). */
  withToken(token: string): KubeApiClient {
    const { cert: _cert, key: _key, ...rest } = this.access;
    return new KubeApiClient({ ...rest, token });
  }

  async get<T = Record<string, unknown>>(path: string): Promise<T> {
    return this.#json<T>('GET', path);
  }

  async create<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    return this.#json<T>('POST', path, body);
  }

  async put<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    return this.#json<T>('PUT', path, body);
  }

  async patch<T = Record<string, unknown>>(path: string, body: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.#json<T>('PATCH', path, body, PATCH_CONTENT_TYPE[type]);
  }

  async delete<T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> {
    return this.#json<T>('DELETE', path, body);
  }

  /** Raw request: status, headers and text body, never throws on a status. */
  async raw(
    method: string,
    path: string,
    opts: { body?: string; contentType?: string; signal?: AbortSignal } = {},
  ): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.access.url}${path}`, {
      method,
      dispatcher: this.#dispatcher,
      headers: {
        ...(this.access.token ? { authorization: `Bearer ${this.access.token}` } : {}),
        accept: 'application/json, */*',
        ...(opts.body === undefined ? {} : { 'content-type': opts.contentType ?? 'application/json' }),
      },
      ...(opts.body === undefined ? {} : { body: opts.body }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return { status: res.status, text: await res.text() };
  }

  /** A streaming GET (follow logs, watches): the response body as a web stream. */
  async stream(
    path: string,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: ReadableStream<Uint8Array> | null }> {
    const res = await fetch(`${this.access.url}${path}`, {
      dispatcher: this.#dispatcher,
      headers: this.access.token ? { authorization: `Bearer ${this.access.token}` } : {},
      ...(signal ? { signal } : {}),
    });
    return { status: res.status, body: res.body as ReadableStream<Uint8Array> | null };
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  async #json<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const { status, text } = await this.raw(
      method,
      path,
      body === undefined ? {} : { body: JSON.stringify(body), contentType },
    );
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text for the error
    }
    if (status < 200 || status > 299) throw new KubeApiError(method, path, status, parsed);
    return parsed as T;
  }
}
