/**
 * Deterministic, realistic log records for the aggregator benchmarks: a cluster of
 * namespaces → Deployments → pods → containers, messages in the shapes real workloads
 * print (JSON access logs, logfmt, plain text with a level prefix, Java stack-trace
 * lines), a level mix dominated by info, pod labels as the agent attaches them.
 * Same seed → same records, so runs are comparable.
 */
import { createHash } from 'node:crypto';
import type { Level, LogRecord } from '../../shared/record.ts';
import { formatNanos } from '../../shared/time.ts';

/** mulberry32: small, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SUFFIX = 'bcdfghjklmnpqrstvwxz2456789';
const NAMESPACES = ['shop', 'payments', 'search', 'identity', 'platform', 'monitoring', 'ingress', 'data', 'ml', 'batch'];
const APPS = ['api', 'worker', 'web', 'cache', 'gateway', 'scheduler', 'indexer', 'notifier'];
const PATHS = ['/api/v1/orders', '/api/v1/cart', '/healthz', '/api/v1/users/me', '/api/v2/search', '/metrics', '/api/v1/payments/authorize'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];

export interface PodSpec {
  namespace: string;
  pod: string;
  app: string;
  node: string;
  podUid: string;
  containers: string[];
}

/** `podsPerNamespace` pods in each of `namespaces` namespaces, two containers each. */
export function podsOf(namespaces: number, podsPerNamespace: number, seed = 1): PodSpec[] {
  const rnd = prng(seed);
  const pods: PodSpec[] = [];
  for (let n = 0; n < namespaces; n++) {
    const ns = NAMESPACES[n % NAMESPACES.length] + (n >= NAMESPACES.length ? `-${Math.floor(n / NAMESPACES.length)}` : '');
    for (let p = 0; p < podsPerNamespace; p++) {
      const app = `${APPS[p % APPS.length]}${p >= APPS.length ? Math.floor(p / APPS.length) : ''}`;
      const s = (k: number) => Array.from({ length: k }, () => SUFFIX[Math.floor(rnd() * SUFFIX.length)]).join('');
      pods.push({
        namespace: ns,
        pod: `${app}-${s(10)}-${s(5)}`,
        app,
        node: `node-${1 + Math.floor(rnd() * 12)}`,
        podUid: createHash('sha256').update(`${ns}/${app}/${p}`).digest('hex').slice(0, 32),
        containers: [app, p % 3 === 0 ? 'istio-proxy' : 'log-shipper'],
      });
    }
  }
  return pods;
}

function level(r: number): Level {
  if (r < 0.70) return 'info';
  if (r < 0.82) return 'debug';
  if (r < 0.92) return 'warn';
  if (r < 0.99) return 'error';
  return 'unknown';
}

/** Words that appear in a known share of messages, for substring benchmarks. */
export const RARE_PHRASE = 'connection reset by peer';
/** Share of messages containing RARE_PHRASE. */
export const RARE_SHARE = 0.01;

function message(rnd: () => number, lvl: Level, p: PodSpec, tsIso: string): string {
  const shape = rnd();
  const dur = (rnd() * 900).toFixed(1);
  if (rnd() < RARE_SHARE) return `${lvl.toUpperCase()} upstream ${p.app}.${p.namespace}.svc:8080: read tcp 10.1.${Math.floor(rnd() * 255)}.7:4431->10.2.0.9:8080: ${RARE_PHRASE}`;
  if (shape < 0.4) {
    const status = lvl === 'error' ? 500 + Math.floor(rnd() * 4) : lvl === 'warn' ? 404 : 200;
    return JSON.stringify({
      time: tsIso, level: lvl, msg: 'request completed', method: METHODS[Math.floor(rnd() * METHODS.length)],
      path: PATHS[Math.floor(rnd() * PATHS.length)], status, duration_ms: Number(dur),
      trace_id: Math.floor(rnd() * 2 ** 52).toString(16).padStart(13, '0'), user_agent: 'Go-http-client/1.1',
    });
  }
  if (shape < 0.7) {
    return `time="${tsIso}" level=${lvl} msg="processed batch" component=${p.app} batch_id=${Math.floor(rnd() * 1e6)} items=${Math.floor(rnd() * 500)} took=${dur}ms`;
  }
  if (shape < 0.95) {
    const texts = ['Started worker pool with 8 threads', 'Cache miss for key user:%d, loading from database', 'Retrying request to payments-api (attempt %d of 5)', 'Flushed %d records to the queue', 'Received SIGTERM, draining connections'];
    return `${tsIso} ${lvl.toUpperCase().padEnd(5)} [${p.app}] ${texts[Math.floor(rnd() * texts.length)]!.replace('%d', String(Math.floor(rnd() * 10000)))}`;
  }
  return `\tat com.example.${p.app}.service.OrderService.process(OrderService.java:${Math.floor(rnd() * 400)})`;
}

/**
 * `count` records spread evenly over [startMs, endMs), pods drawn at random. Ids are unique
 * per (seed, index). A generator, so millions of records are never held at once.
 */
export function* generateRecords(
  opts: { cluster: string; pods: readonly PodSpec[]; count: number; startMs: number; endMs: number; seed: number },
): Generator<LogRecord> {
  const rnd = prng(opts.seed);
  const span = opts.endMs - opts.startMs;
  for (let i = 0; i < opts.count; i++) {
    const p = opts.pods[Math.floor(rnd() * opts.pods.length)]!;
    const ms = opts.startMs + Math.floor((i / opts.count) * span);
    const ts = formatNanos(BigInt(ms) * 1_000_000n + BigInt(Math.floor(rnd() * 1_000_000)));
    const lvl = level(rnd());
    const container = rnd() < 0.85 ? p.containers[0]! : p.containers[1]!;
    yield {
      id: `b${opts.seed.toString(36)}-${i.toString(36).padStart(8, '0')}`,
      timestamp: ts,
      cluster: opts.cluster,
      namespace: p.namespace,
      pod: p.pod,
      container,
      node: p.node,
      pod_uid: p.podUid,
      container_id: `containerd://${p.podUid}${p.podUid}`,
      stream: lvl === 'error' || lvl === 'warn' ? 'stderr' : 'stdout',
      level: lvl,
      message: message(rnd, lvl, p, ts),
      labels: {
        app: p.app,
        'pod-template-hash': p.pod.split('-').at(-2) ?? '',
        owner_kind: 'ReplicaSet',
        owner_name: p.pod.split('-').slice(0, -1).join('-'),
        tier: p.namespace === 'data' ? 'db' : 'backend',
      },
    };
  }
}
