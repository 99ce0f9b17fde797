import { once } from 'node:events';
import { createServer } from 'node:net';

/** Asks the kernel for a free loopback port. Another process could take it before we bind. */
export async function pickFreePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}
