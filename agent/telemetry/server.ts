/**
 * `/metrics` (Prometheus text from the injected registry) and `/healthz` on the agent's own
 * port. `/healthz` is a liveness signal of the agent itself: 200 while its loops run, 503
 * when stopping, when it cannot persist checkpoints or the replay journal, or when batch
 * compression keeps failing (each holds tailing back). An unreachable aggregator does not
 * make the agent unhealthy (restarting it would not help; the queue and metrics show it).
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthReport {
  ok: boolean;
  [k: string]: unknown;
}

export interface TelemetryServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startTelemetryServer(
  host: string,
  port: number,
  registry: Registry,
  health: () => HealthReport,
): Promise<TelemetryServer> {
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/metrics' || url.startsWith('/metrics?')) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType }).end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
        },
      );
      return;
    }
    if (url === '/healthz' || url.startsWith('/healthz?')) {
      const h = health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  server.keepAliveTimeout = 5000;
  server.listen(port, host);
  await once(server, 'listening'); // rejects with the bind error (EADDRINUSE …)
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
