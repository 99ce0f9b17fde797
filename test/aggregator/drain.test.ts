/**
 * The SIGTERM drain (aggregator/drain.ts) ends in bounded time with a client's spare
 * keep-alive socket connected (open, no request sent): plain `app.close()` waits for it
 * until Node's header timeout (~70 s).
 */
import t from 'tap';
import { connect } from 'node:net';
import { drain } from '../../aggregator/drain.ts';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { ndjson, record } from '../helpers/records.ts';

t.test('drain closes promptly with an idle keep-alive connection open', async (t) => {
  const agg = await startTestAggregator(t, { name: 'drain' });
  const port = Number(new URL(agg.url).port);
  // A keep-alive client that made a request and keeps the socket (Fastify closes those at
  // close), and a spare socket that never sent a request (Node does not count it as idle).
  const used = await fetch(`${agg.url}/healthz`, { headers: { connection: 'keep-alive' } });
  t.equal(used.status, 200);
  await used.text();
  const spare = await openSpareSocket(t, port);

  let closed = false;
  const done = drain(agg.app, 200).then(() => (closed = true));
  // The deadline is far below the ~70 s a plain close would take, far above the grace.
  await waitFor(() => closed, { what: 'the drain to finish', timeoutMs: 15_000 });
  await done;
  await waitFor(() => spare.closed(), { what: 'the spare socket closed by the server', timeoutMs: 5000 });
  t.ok(closed && spare.closed(), 'closed, and the spare socket was cut');
});

t.test('a plain app.close() cuts sockets that never sent a request, and lets a running export finish', async (t) => {
  // A spare socket (what undici opens after an aborted request) held app.close() for the
  // header timeout: a minute per test teardown, and every graceful stop for the drain grace.
  const agg = await startTestAggregator(t, { name: 'close-spare', storeProxy: true });
  const port = Number(new URL(agg.url).port);
  const ingestToken = await agg.ingestToken('alpha');
  const res = await fetch(`${agg.url}/v1/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ingestToken}`, 'content-type': 'application/x-ndjson' },
    body: ndjson(Array.from({ length: 1500 }, () => record({ cluster: 'alpha' }))),
  });
  t.equal(res.status, 200);
  await agg.refresh();
  // An export held at its second page read is a request in progress when close starts.
  const page2 = agg.storeProxy!.hold((method, path, body) => method === 'POST' && /^\/_search(\?|$)/.test(path) && body.includes('"search_after"'));
  const exported = fetch(`${agg.url}/v1/k8s/logs/?start=now-1h`, {
    headers: { authorization: `Bearer ${agg.adminToken}`, accept: 'application/x-ndjson' },
  }).then((r) => r.text());
  await page2.reached;
  const spare = await openSpareSocket(t, port);

  let closed = false;
  const done = agg.app.close().then(() => (closed = true));
  await waitFor(() => spare.closed(), { what: 'the spare socket cut when close starts', timeoutMs: 5000 });
  t.notOk(closed, 'close still waits for the export in progress');
  page2.release();
  t.equal((await exported).split('\n').filter(Boolean).length, 1500, 'the export finished whole');
  await waitFor(() => closed, { what: 'close to finish after the export', timeoutMs: 15_000 });
  await done;
});

/** A connected socket that sends nothing: what undici keeps spare after an aborted request. */
async function openSpareSocket(t: { teardown(fn: () => unknown): void }, port: number): Promise<{ closed(): boolean }> {
  const socket = connect(port, '127.0.0.1');
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  t.teardown(() => socket.destroy());
  return { closed: () => closed };
}
