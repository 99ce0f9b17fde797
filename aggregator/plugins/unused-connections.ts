/**
 * `app.close()` cuts the connections that never carried a request. HTTP clients open spare
 * keep-alive sockets ahead of need (undici does after an aborted request); Node counts such
 * a socket as neither idle nor busy, so `server.close()` waits for it until the header
 * timeout (~60–70 s). That held every graceful stop for the drain grace (aggregator/drain.ts)
 * and every test's teardown for a minute. A socket that has sent no request has nothing to
 * lose: cutting it is what closing an idle keep-alive socket already is, and its client
 * opens a new one. Connections serving a request are left to finish (the drain's grace
 * bounds them), then closed.
 */
import fp from 'fastify-plugin';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { PluginNames } from './names.ts';

export const unusedConnectionsPlugin = fp(
  async (app: FastifyInstance) => {
    const unused = new Set<Socket>();
    let closing = false;
    app.server.on('connection', (socket: Socket) => {
      if (closing) return void socket.destroy();
      unused.add(socket);
      socket.once('close', () => unused.delete(socket));
    });
    // A WebSocket upgrade is a request too (its routes close it with a close frame).
    app.server.on('upgrade', (request: IncomingMessage) => void unused.delete(request.socket));
    app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      unused.delete(request.socket);
      // Node closes idle keep-alive sockets once, when close starts; one that finishes its
      // response later would stay open for the keep-alive timeout.
      response.once('finish', () => {
        if (closing) request.socket.end();
      });
    });
    app.addHook('preClose', async () => {
      closing = true;
      for (const socket of unused) socket.destroy();
      unused.clear();
    });
  },
  { name: PluginNames.unusedConnections, fastify: '5.x' },
);
