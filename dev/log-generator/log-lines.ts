/**
 * Realistic container output for the demo pods: JSON and plain lines, several levels,
 * an occasional multi-line stack trace, stdout and stderr. Pure apart from the random
 * source passed in, so tests can seed it.
 */

export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

export type Random = () => number;

const PATHS = ['/api/cart', '/api/checkout', '/healthz', '/api/products?page=2', '/api/payments/authorize', '/static/app.js'];
const USERS = ['u-1842', 'u-7731', 'u-0203', 'u-5550'];

function pick<T>(rand: Random, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** The lines one "event" of a container produces (a stack trace is several lines). */
export function nextOutput(style: 'json' | 'plain' | 'nginx' | 'postgres', rand: Random, now: Date): OutputLine[] {
  const r = rand();
  const level = r < 0.03 ? 'error' : r < 0.1 ? 'warn' : r < 0.25 ? 'debug' : 'info';
  const ms = Math.round(2 + rand() * 400);
  const path = pick(rand, PATHS);
  switch (style) {
    case 'json': {
      if (level === 'error' && rand() < 0.5) return javaStackTrace(rand);
      const fields = level === 'error'
        ? { level, ts: now.toISOString(), msg: 'request failed', path, error: 'upstream connect error', user: pick(rand, USERS) }
        : { level, ts: now.toISOString(), msg: level === 'debug' ? 'cache lookup' : 'request served', path, status: 200, duration_ms: ms, user: pick(rand, USERS) };
      return [{ stream: level === 'error' ? 'stderr' : 'stdout', text: JSON.stringify(fields) }];
    }
    case 'nginx': {
      const status = level === 'error' ? 502 : level === 'warn' ? 404 : 200;
      return [{ stream: 'stdout', text: `10.244.0.${Math.floor(rand() * 250)} - - [${now.toUTCString()}] "GET ${path} HTTP/1.1" ${status} ${Math.floor(rand() * 5000)} "-" "Mozilla/5.0" ${(ms / 1000).toFixed(3)}` }];
    }
    case 'postgres': {
      if (level === 'error') return [{ stream: 'stderr', text: `${now.toISOString()} [${Math.floor(rand() * 900 + 100)}] ERROR:  duplicate key value violates unique constraint "ledger_pkey"` }];
      return [{ stream: 'stderr', text: `${now.toISOString()} [${Math.floor(rand() * 900 + 100)}] LOG:  checkpoint complete: wrote ${Math.floor(rand() * 300)} buffers` }];
    }
    case 'plain': {
      if (level === 'error' && rand() < 0.5) return pythonTraceback(rand);
      return [{ stream: level === 'error' || level === 'warn' ? 'stderr' : 'stdout', text: `${level.toUpperCase()} ${now.toISOString()} worker: processed batch of ${Math.floor(rand() * 500)} items in ${ms}ms` }];
    }
  }
}

function javaStackTrace(rand: Random): OutputLine[] {
  const lines = [
    `ERROR c.e.cart.CheckoutService - checkout failed for order ${Math.floor(rand() * 1e6)}`,
    'java.lang.IllegalStateException: inventory reservation expired',
    '\tat com.example.cart.Inventory.reserve(Inventory.java:88)',
    '\tat com.example.cart.CheckoutService.checkout(CheckoutService.java:142)',
    '\tat java.base/java.lang.Thread.run(Thread.java:1583)',
    'Caused by: java.net.SocketTimeoutException: Read timed out',
    '\t... 3 more',
  ];
  return lines.map((text) => ({ stream: 'stderr', text }));
}

function pythonTraceback(rand: Random): OutputLine[] {
  return [
    'Traceback (most recent call last):',
    '  File "/app/worker.py", line 57, in process',
    '    settle(batch)',
    '  File "/app/settle.py", line 12, in settle',
    `    raise ValueError("amount mismatch: ${Math.floor(rand() * 1000)}")`,
    'ValueError: amount mismatch',
  ].map((text) => ({ stream: 'stderr', text }));
}

/**
 * CRI log lines (`<RFC3339Nano> <stream> <P|F> <text>`) for one output line; long lines
 * are split into partial `P` pieces the way container runtimes do at their buffer size.
 */
export function toCriLines(line: OutputLine, timestamp: string, maxPiece = 16 * 1024): string {
  let out = '';
  let rest = line.text;
  while (Buffer.byteLength(rest) > maxPiece) {
    out += `${timestamp} ${line.stream} P ${rest.slice(0, maxPiece)}\n`;
    rest = rest.slice(maxPiece);
  }
  return out + `${timestamp} ${line.stream} F ${rest}\n`;
}

/** RFC 3339 with nanoseconds, as container runtimes write. */
export function runtimeTimestamp(ms: number, subMsNanos: number): string {
  return new Date(ms).toISOString().replace('Z', `${String(subMsNanos).padStart(6, '0')}Z`);
}
