/**
 * The web UI's server side: the static bundle under /ui/ (public, with a strict CSP) and
 * GET /tokens/self, which tells the UI what its token may do.
 */
import t from 'tap';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { getJson } from '../helpers/records.ts';
import { buildUi, uiIsStale } from '../../ui/build.ts';

if (await uiIsStale()) await buildUi();
const agg = await startTestAggregator(t, { name: 'uiroutes' });

t.test('the bundle is served under /ui/ without a token, with a CSP; /ui redirects', async (t) => {
  const redirect = await fetch(`${agg.url}/ui`, { redirect: 'manual' });
  t.equal(redirect.status, 302);
  t.equal(redirect.headers.get('location'), '/ui/');
  const index = await fetch(`${agg.url}/ui/`);
  t.equal(index.status, 200);
  t.match(index.headers.get('content-type'), /text\/html/);
  t.match(index.headers.get('content-security-policy'), /default-src 'self'/);
  const html = await index.text();
  t.match(html, /<script type="module" src="\.\/app\.js">/);
  const js = await fetch(`${agg.url}/ui/app.js`);
  t.equal(js.status, 200);
  t.match(js.headers.get('content-type'), /javascript/);
  t.ok((await js.text()).length > 10_000, 'the bundle');
  t.equal((await fetch(`${agg.url}/ui/app.css`)).status, 200);
  t.equal((await fetch(`${agg.url}/ui/nope.js`)).status, 404);
});

t.test('GET /tokens/self: any valid token reads its own scopes and limits, never a secret', async (t) => {
  const reader = await agg.createToken({ name: 'shop reader', scopes: ['logs:read'], namespaces: ['shop'] });
  const ingest = await agg.ingestToken('c1');
  const r = await getJson(`${agg.url}/v1/k8s/logs/tokens/self`, reader);
  t.equal(r.status, 200);
  t.same({ ...r.body, id: 'x' }, { id: 'x', name: 'shop reader', scopes: ['logs:read'], clusters: null, namespaces: ['shop'] });
  const i = await getJson(`${agg.url}/v1/k8s/logs/tokens/self`, ingest);
  t.equal(i.status, 200, 'an ingest token too (it has no API scope)');
  t.same(i.body['clusters'], ['c1']);
  const admin = await getJson(`${agg.url}/v1/k8s/logs/tokens/self`, agg.adminToken);
  t.same(admin.body['scopes'], ['admin']);
  t.equal((await getJson(`${agg.url}/v1/k8s/logs/tokens/self`, undefined)).status, 401);
  t.equal((await getJson(`${agg.url}/v1/k8s/logs/tokens/self`, 'nope')).status, 401);
  // Other admin routes stay admin-only for the reader.
  t.equal((await getJson(`${agg.url}/v1/k8s/logs/tokens`, reader)).status, 403);
});
