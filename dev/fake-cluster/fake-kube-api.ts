// A fake Kubernetes API server over plain HTTP, realistic enough for the real
// @kubernetes/client-node (CoreV1Api, Watch, ListWatch/makeInformer, Log):
// discovery, list/get/watch of pods, namespaces, nodes and ReplicaSets with
// label/field selectors, resourceVersions, watch resumption and 410 Expired,
// bookmarks, pagination, and pod logs with the kubelet's options.
//
// Used by tests (start on port 0, drive with the FakeCluster control methods)
// and by `npm start` (see demo-cluster.ts).

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { FakeCluster, type FakeClusterOptions } from './fake-cluster.ts';
import { failureStatus, StatusError } from './kube-objects.ts';
import { OpenStreams } from './open-streams.ts';
import { route } from './routes.ts';
import { sendJson, sendStatus } from './http-responses.ts';

export interface FakeKubeApiOptions extends FakeClusterOptions {
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** When set, every request except /version and health checks needs `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * BOOKMARK interval for watches with allowWatchBookmarks=true. Default 15000
   * (below the client's 30 s watch inactivity timeout; the real server sends
   * roughly one per minute).
   */
  bookmarkIntervalMs?: number;
}

/** How an outage looks to clients: 503 Status responses, or refused connections. */
export type OutageMode = 'unavailable' | 'refuse';

const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);

export class FakeKubeApi extends FakeCluster {
  readonly #server: Server;
  readonly #streams = new OpenStreams();
  readonly #sockets = new Set<Socket>();
  readonly #token: string | undefined;
  readonly #host: string;
  #port = 0;
  #offline: OutageMode | undefined;

  constructor(options: FakeKubeApiOptions = {}) {
    super(options);
    this.#token = options.token;
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 15_000;
    this.#server = createServer((req, res) => {
      try {
        if (this.#offline) {
          return sendStatus(
            res,
            failureStatus(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'),
          );
        }
        const path = new URL(req.url ?? '/', 'http://fake').pathname;
        if (
          this.#token !== undefined &&
          !PUBLIC_PATHS.has(path) &&
          req.headers.authorization !== `Bearer ${this.#token}`
        ) {
          return sendStatus(res, failureStatus(401, 'Unauthorized', 'Unauthorized'));
        }
        route(req, res, {
          cluster: this,
          streams: this.#streams,
          bookmarkIntervalMs,
          serverAddress: `${this.#host}:${this.#port}`,
        });
      } catch (err) {
        if (res.headersSent) {
          res.destroy();
        } else if (err instanceof StatusError) {
          sendStatus(res, err.status);
        } else {
          sendJson(res, 500, failureStatus(500, 'InternalError', `fake-kube-api: ${String(err)}`));
        }
      }
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts listening; resolves once the port is bound. */
  async listen(): Promise<this> {
    this.#server.listen(this.#port, this.#host);
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://${this.#host}:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  /** A KubeConfig for the real client library pointing at this server (with the token, if any). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    const user = this.#token === undefined ? { name: 'fake-user' } : { name: 'fake-user', token: this.#token };
    kc.loadFromClusterAndUser({ name: 'fake-cluster', server: this.url, skipTLSVerify: true }, user);
    return kc;
  }

  /** Number of open watch / followed log streams, for tests that wait on (re)connection. */
  openStreams(kind?: 'watch' | 'log'): number {
    return this.#streams.count(kind);
  }

  /**
   * Forgets the change history (as an etcd compaction would) and drops open
   * watches: clients resuming from their last resourceVersion get a 410
   * Expired ERROR event and must relist.
   */
  expireWatches(): void {
    this.state.expireHistory();
    this.#streams.endAll('watch');
  }

  /** Ends open watch streams cleanly; clients resume from their resourceVersion. */
  closeWatches(): void {
    this.#streams.endAll('watch');
  }

  /**
   * Simulates an API outage: drops every open connection, then either answers
   * 503 (`unavailable`, default) or stops listening (`refuse`) until
   * `setOffline(false)`.
   */
  async setOffline(offline: boolean, mode: OutageMode = 'unavailable'): Promise<void> {
    if (offline) {
      if (this.#offline) return;
      this.#offline = mode;
      this.#streams.endAll();
      for (const s of this.#sockets) s.destroy();
      if (mode === 'refuse') await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    } else if (this.#offline) {
      const wasRefusing = this.#offline === 'refuse';
      this.#offline = undefined;
      if (wasRefusing) await this.listen();
    }
  }

  /** Ends all streams and connections and stops listening. */
  async close(): Promise<void> {
    this.#streams.endAll();
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    for (const s of this.#sockets) s.destroy();
    await closed;
  }
}

export async function startFakeKubeApi(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  return new FakeKubeApi(options).listen();
}

export type { FakeClusterOptions } from './fake-cluster.ts';
export type { PodInput, ContainerInput, OwnerKind, PodPhase } from './object-factory.ts';
export type { Pod, KubeObject, Status } from './kube-objects.ts';
