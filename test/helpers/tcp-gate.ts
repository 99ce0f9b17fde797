/**
 * A loopback TCP forwarder between a client and a real server (the kube-apiserver, say)
 * that a test can cut or close: a network outage without stopping the server. TLS passes
 * through untouched (the client still verifies the server's certificate for 127.0.0.1).
 *
 * - cut(): drops every open connection (watches see a broken stream), keeps accepting.
 * - refuse(): drops every connection and stops listening (connection refused) until open().
 * - hold(): forwards nothing more from the clients (requests hang: a store that stopped
 *   answering, connections still up) until release() lets the held bytes through.
 *
 * Ownership: the caller closes it (close()); connections() counts live client connections.
 */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class TcpGate {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  /** Client socket → its upstream, for hold() and release(). */
  readonly #upstreams = new Map<Socket, Socket>();
  #held = false;
  #server: Server;
  #port = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = this.#newServer();
  }

  #newServer(): Server {
    return createServer((client) => {
      const upstream = connect(this.#target.port, this.#target.host);
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      this.#upstreams.set(client, upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
        this.#upstreams.delete(client);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      if (this.#held) client.pause();
      else client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async listen(): Promise<this> {
    this.#server.listen(this.#port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  get port(): number {
    return this.#port;
  }

  /** Open client connections. */
  connections(): number {
    return [...this.#sockets].filter((s) => s.remotePort !== this.#target.port).length;
  }

  cut(): void {
    for (const s of [...this.#sockets]) s.destroy();
  }

  /** Stops forwarding client bytes; connections stay open and requests hang. */
  hold(): void {
    this.#held = true;
    for (const [client, upstream] of this.#upstreams) {
      client.unpipe(upstream);
      client.pause();
    }
  }

  /** Forwards again, including what the clients sent while held. */
  release(): void {
    this.#held = false;
    for (const [client, upstream] of this.#upstreams) client.pipe(upstream);
  }

  async refuse(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.cut();
    await closed;
  }

  /** Listens again on the same port after refuse(). */
  async open(): Promise<void> {
    if (this.#server.listening) return;
    this.#server = this.#newServer();
    await this.listen();
  }

  async close(): Promise<void> {
    if (this.#server.listening) await this.refuse();
  }
}

export async function startTcpGate(target: { host: string; port: number }): Promise<TcpGate> {
  return new TcpGate(target).listen();
}
