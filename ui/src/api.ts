/**
 * Typed client of the aggregator's API, same origin. The token comes from the session
 * (sessionStorage) and goes in `Authorization`, never in a URL. Every failure is an
 * ApiError with the envelope's status, code and message.
 */

export const API = '/v1/k8s/logs';

export type Scope = 'logs:read' | 'logs:write' | 'archive' | 'admin' | 'ingest';

export interface Me {
  id: string;
  name: string;
  scopes: Scope[];
  clusters: string[] | null;
  namespaces: string[] | null;
}

export interface LogRecord {
  id: string;
  timestamp: string;
  cluster: string;
  namespace: string;
  pod: string;
  container: string;
  node?: string;
  pod_uid?: string;
  container_id?: string;
  stream: string;
  level: string;
  message: string;
  labels?: Record<string, string>;
  fields?: Record<string, unknown>;
}

export interface SearchResponse {
  logs: LogRecord[];
  total: number;
  total_relation: 'eq' | 'gte';
  has_more: boolean;
  next_cursor: string | null;
  took_ms: number;
  histogram?: { interval: string; buckets: Array<{ start: string; count: number }> };
  aggregations?: { level?: { buckets: Array<{ key: string; count: number }>; other_count: number } };
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const TOKEN_KEY = 'k8s-logs.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Does the token grant `needed`? Mirrors the API (admin implies all; logs:write implies logs:read). */
export function grants(me: Me | null, needed: Scope): boolean {
  if (!me) return false;
  if (me.scopes.includes(needed)) return true;
  if (needed === 'ingest') return false;
  if (me.scopes.includes('admin')) return true;
  return needed === 'logs:read' && me.scopes.includes('logs:write');
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  opts: { token?: string; signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<T> {
  const token = opts.token ?? session.token();
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${API}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: opts.signal,
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = json?.error;
    throw new ApiError(res.status, e?.code ?? 'http_error', e?.message ?? `${res.status} ${res.statusText}`);
  }
  return json as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, undefined, { signal });
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body);
export const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
export const del = <T>(path: string) => request<T>('DELETE', path);

export const qs = (params: Record<string, string | number | undefined | null>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

/** The Loki-compatible read API (label names and values for LogQL completion), same origin and token. */
export const LOKI_API = '/loki/api/v1';

/** `GET` of the Loki API: its body is `{status, data}`; its errors are plain text (Loki's), kept as the message. */
export async function lokiGet<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(`${LOKI_API}${path}`, {
    headers: { authorization: `Bearer ${session.token() ?? ''}`, accept: 'application/json' },
    signal,
  });
  if (!res.ok) {
    const text = (await res.text()).trim();
    throw new ApiError(res.status, 'http_error', text.slice(0, 300) || `${res.status} ${res.statusText}`);
  }
  return ((await res.json()) as { data: T }).data;
}

export type TailEvent =
  | { type: 'ready'; since: string | null }
  | { type: 'record'; record: LogRecord }
  | { type: 'caught_up'; backfilled: number; truncated: boolean }
  | { type: 'gap'; count: number; from: string; to: string }
  | { type: 'heartbeat' };

/** Reads `GET /tail` as a stream of events until `signal` aborts or the server ends it. */
export async function tail(
  params: URLSearchParams,
  onEvent: (e: TailEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await fetch(`${API}/tail?${params}`, {
    headers: { authorization: `Bearer ${session.token() ?? ''}`, accept: 'application/x-ndjson' },
    signal,
  });
  if (!res.ok || !res.body) {
    const json = await res.json().catch(() => undefined);
    throw new ApiError(
      res.status,
      json?.error?.code ?? 'http_error',
      json?.error?.message ?? `tail failed: ${res.status}`,
    );
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    pending += value;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line) onEvent(JSON.parse(line) as TailEvent);
  }
}
