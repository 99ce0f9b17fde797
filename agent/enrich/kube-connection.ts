/**
 * Where and how to reach the Kubernetes API: resolved once from the agent's `kubernetes`
 * setting into a plain {@link KubeConnection}, which kube-http.ts turns into an undici Pool.
 *
 * - `off` → none.
 * - `auto` → in-cluster when KUBERNETES_SERVICE_HOST is set (service account token and CA
 *   from the mounted secret directory), else none.
 * - anything else → a kubeconfig path (YAML or JSON): current-context's cluster and user.
 *
 * Supported credentials: bearer token (inline or `tokenFile`), client certificate + key
 * (inline `*-data` or file), basic auth. CA from `certificate-authority-data` or
 * `certificate-authority`; `insecure-skip-tls-verify`; `tls-server-name`. `exec` and
 * `auth-provider` users are rejected with a clear error rather than silently unauthenticated
 * (the agent runs in-cluster in production; kubeconfigs are for development).
 *
 * Token files are re-read (at most every `tokenRefreshMs`) because projected service account
 * tokens rotate; a failed re-read keeps the last token.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConnection {
  /** Base URL of the API server, e.g. `https://10.96.0.1:443` (may carry a path prefix). */
  readonly server: string;
  /** PEM CA bundle to trust instead of the system store. */
  readonly ca?: string;
  /** PEM client certificate and key (mutual TLS). */
  readonly cert?: string;
  readonly key?: string;
  readonly insecureSkipTlsVerify: boolean;
  /** SNI / certificate name override. */
  readonly tlsServerName?: string;
  /** Value of the Authorization header (current token), or undefined. Called per request. */
  readonly authorization: () => string | undefined;
}

export type ReadText = (path: string) => string;

const readText: ReadText = (p) => readFileSync(p, 'utf8');

/**
 * A bearer-token source that re-reads `path` at most every `refreshMs` (default 60 s);
 * keeps the last good token when a re-read fails. Throws only when the first read fails.
 */
export function tokenFileAuth(
  path: string,
  read: ReadText = readText,
  refreshMs = 60_000,
  now: () => number = Date.now,
): () => string {
  let token = read(path).trim();
  let readAt = now();
  return () => {
    if (now() - readAt >= refreshMs) {
      readAt = now();
      try {
        token = read(path).trim();
      } catch {
        // keep the last token; the API answers 401 if it really expired
      }
    }
    return `Bearer ${token}`;
  };
}

/** In-cluster connection from the service environment and the mounted secret (null outside a cluster). */
export function inClusterConnection(
  env: Readonly<Record<string, string | undefined>>,
  dir: string = SERVICE_ACCOUNT_DIR,
  read: ReadText = readText,
  tokenRefreshMs?: number,
): KubeConnection | null {
  const host = env['KUBERNETES_SERVICE_HOST'];
  if (host === undefined || host === '') return null;
  const port = env['KUBERNETES_SERVICE_PORT'] || '443';
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return Object.freeze({
    server: `https://${h}:${port}`,
    ca: read(join(dir, 'ca.crt')),
    insecureSkipTlsVerify: false,
    authorization: tokenFileAuth(join(dir, 'token'), read, tokenRefreshMs),
  });
}

interface Named<T> {
  name?: string;
  [k: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

function pick(list: unknown, name: string | undefined, field: 'cluster' | 'user' | 'context', what: string) {
  const arr = Array.isArray(list) ? (list as Named<Record<string, unknown>>[]) : [];
  const found = arr.find((e) => e !== null && typeof e === 'object' && e.name === name);
  if (found === undefined) throw new Error(`kubeconfig: ${what} "${String(name)}" not found`);
  const v = found[field];
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Connection from a parsed kubeconfig document (pure apart from reading referenced files
 * through `read`). Relative file paths are relative to the kubeconfig's directory.
 */
export function kubeconfigConnection(
  doc: unknown,
  kubeconfigPath: string,
  read: ReadText = readText,
  tokenRefreshMs?: number,
): KubeConnection {
  if (doc === null || typeof doc !== 'object') throw new Error('kubeconfig: not a mapping');
  const d = doc as Record<string, unknown>;
  const ctxName = str(d, 'current-context');
  if (ctxName === undefined) throw new Error('kubeconfig: no current-context');
  const ctx = pick(d['contexts'], ctxName, 'context', 'context');
  const cluster = pick(d['clusters'], str(ctx, 'cluster'), 'cluster', 'cluster');
  const user = str(ctx, 'user') === undefined ? {} : pick(d['users'], str(ctx, 'user'), 'user', 'user');
  const base = dirname(kubeconfigPath);
  const file = (p: string): string => read(isAbsolute(p) ? p : join(base, p));
  const inlineOrFile = (o: Record<string, unknown>, dataKey: string, fileKey: string): string | undefined => {
    const data = str(o, dataKey);
    if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
    const f = str(o, fileKey);
    return f === undefined ? undefined : file(f);
  };

  const server = str(cluster, 'server');
  if (server === undefined) throw new Error(`kubeconfig: cluster of context "${ctxName}" has no server`);
  if (user['exec'] !== undefined || user['auth-provider'] !== undefined) {
    throw new Error(
      'kubeconfig: exec and auth-provider credentials are not supported; use a token or client certificate',
    );
  }

  let authorization: () => string | undefined = () => undefined;
  const token = str(user, 'token');
  const tokenFile = str(user, 'tokenFile');
  const username = str(user, 'username');
  if (token !== undefined) {
    const h = `Bearer ${token}`;
    authorization = () => h;
  } else if (tokenFile !== undefined) {
    authorization = tokenFileAuth(isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile), read, tokenRefreshMs);
  } else if (username !== undefined) {
    const h = `Basic ${Buffer.from(`${username}:${str(user, 'password') ?? ''}`).toString('base64')}`;
    authorization = () => h;
  }

  const conn: { -readonly [K in keyof KubeConnection]: KubeConnection[K] } = {
    server,
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    authorization,
  };
  const ca = inlineOrFile(cluster, 'certificate-authority-data', 'certificate-authority');
  if (ca !== undefined) conn.ca = ca;
  const cert = inlineOrFile(user, 'client-certificate-data', 'client-certificate');
  if (cert !== undefined) conn.cert = cert;
  const key = inlineOrFile(user, 'client-key-data', 'client-key');
  if (key !== undefined) conn.key = key;
  const sni = str(cluster, 'tls-server-name');
  if (sni !== undefined) conn.tlsServerName = sni;
  return Object.freeze(conn);
}

/** Parses kubeconfig text: JSON directly, YAML through the `yaml` package (loaded only then). */
export async function parseKubeconfig(text: string): Promise<unknown> {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      // not JSON after all: YAML is a superset
    }
  }
  const { parse } = await import('yaml');
  return parse(text) as unknown;
}

/** The connection for the agent's `kubernetes` setting, or null when metadata is off. Throws on bad config. */
export async function resolveConnection(
  setting: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<KubeConnection | null> {
  if (setting === 'off') return null;
  if (setting === 'auto') return inClusterConnection(env);
  return kubeconfigConnection(await parseKubeconfig(readFileSync(setting, 'utf8')), setting);
}
