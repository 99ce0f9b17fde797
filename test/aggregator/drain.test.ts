/**
 * The SIGTERM drain (aggregator/drain.ts) ends in bounded time with a client's spare
 * keep-alive socket connected (open, no request sent): plain `app.close()` waits for it
 * until Node's header timeout (~70 s).
 */
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { drain } from '../../aggregator/drain.ts';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { waitFor } from '../helpers/wait-for.ts';

t.test('drain closes promptly with an idle keep-alive connection open', async (t) => {
  const agg = await startTestAggregator(t, { name: 'drain' });
  const port = Number(new URL(agg.url).port);
  // A keep-alive client that made a request and keeps the socket (Fastify closes those at
  // close), and a spare socket that never sent a request (Node does not count it as idle).
  const used = await fetch(`${agg.url}/healthz`, { headers: { connection: 'keep-alive' } });
  t.equal(used.status, 200);
  await used.text();
  const spare: Socket = connect(port, '127.0.0.1');
  let spareClosed = false;
  spare.on('close', () => (spareClosed = true));
  spare.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => spare.once('connect', resolve).once('error', reject));
  t.teardown(() => spare.destroy());

  let closed = false;
  const done = drain(agg.app, 200).then(() => (closed = true));
  // The deadline is far below the ~70 s a plain close would take, far above the grace.
  await waitFor(() => closed, { what: 'the drain to finish', timeoutMs: 15_000 });
  await done;
  await waitFor(() => spareClosed, { what: 'the spare socket closed by the server', timeoutMs: 5000 });
  t.ok(closed && spareClosed, 'closed, and the spare socket was cut');
});
