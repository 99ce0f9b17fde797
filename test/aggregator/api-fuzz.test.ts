/**
 * Bounded API fuzz in `npm test` (the long run is `npm run fuzz`): schemathesis generates
 * requests from the aggregator's OpenAPI document, with a fixed small number of cases and
 * deterministic generation, and no response may be a 5xx or break its documented schema.
 *
 * Needs schemathesis in its venv under ~/.cache/k8s-logs (`node dev/schemathesis/install.ts`,
 * which .ci/run does); without it this test fails and says so.
 */
import t from 'tap';
import { createServer } from 'node:http';
import { findSchemathesis, schemathesisVenvDir } from '../../dev/schemathesis/schemathesis-venv.ts';
import { runSchemathesis } from '../../dev/schemathesis/schemathesis-run.ts';
import { fuzzAggregator, STREAMING } from '../../dev/schemathesis/aggregator-fuzz.ts';
import { seedFuzzRecords } from '../../bench/fuzz/seed-records.ts';
import { startTestAggregator } from '../helpers/aggregator.ts';

const MAX_EXAMPLES = 10;
const CHECKS = ['not_a_server_error', 'response_schema_conformance'];

const binary = await findSchemathesis();
if (binary === undefined) {
  t.fail(
    `schemathesis is not installed (expected a venv at ${schemathesisVenvDir()}); ` +
      'install it with `node_modules/.bin/node dev/schemathesis/install.ts` (.ci/run does this)',
  );
} else {
  t.test('the fuzz report catches a 5xx (self-check against a route that fails)', async (t) => {
    // A one-route API answering 500 whenever `n` is negative: the summary must show it.
    const doc = {
      openapi: '3.0.3',
      info: { title: 'broken', version: '1' },
      paths: {
        '/thing': {
          get: {
            parameters: [{ name: 'n', in: 'query', required: true, schema: { type: 'integer' } }],
            responses: { 200: { description: 'ok' }, 400: { description: 'bad' } },
          },
        },
      },
    };
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/openapi.json')
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      const n = Number(url.searchParams.get('n'));
      if (!Number.isInteger(n)) return void res.writeHead(400).end();
      res.writeHead(n < 0 ? 500 : 200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => server.close());
    const port = (server.address() as { port: number }).port;
    const s = await runSchemathesis({
      binary,
      schemaUrl: `http://127.0.0.1:${port}/openapi.json`,
      maxExamples: 10,
      deterministic: true,
      phases: ['fuzzing'],
      timeoutMs: 120_000,
    });
    t.ok(s.requests > 0, `requests were sent (${s.requests})`);
    t.ok(s.serverErrors.length > 0, 'the 500 answers are reported');
    t.match(s.serverErrors[0], { method: 'GET', status: 500, uri: /\/thing\?n=-/ });
  });

  t.test('no request generated from the OpenAPI document gets a 5xx or an off-schema response', async (t) => {
    const agg = await startTestAggregator(t, { name: 'fuzz' });
    const ingestToken = await agg.ingestToken('fuzz');
    await seedFuzzRecords(agg.url, ingestToken, agg.opensearchUrl, agg.prefix);
    const result = await fuzzAggregator({
      binary,
      url: agg.url,
      adminToken: agg.adminToken,
      ingestToken,
      maxExamples: MAX_EXAMPLES,
      deterministic: true,
      checks: CHECKS,
      workers: 2,
      timeoutMs: 240_000,
    });
    t.comment(
      `schemathesis sent ${result.requests} requests to ${result.operations.length} operations; by status ${JSON.stringify(result.byStatus)}`,
    );
    const doc = (await (await fetch(`${agg.url}/docs/json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    t.same(
      result.operations,
      documented.filter((op) => !STREAMING.includes(op)).sort(),
      'every documented operation but the endless streams was exercised',
    );
    t.ok(result.requests >= 10 * documented.length, `enough requests for a meaningful run (${result.requests})`);
    t.same(
      result.serverErrors.map(
        (e) =>
          `${e.status} ${e.method} ${e.uri}${e.requestBody ? ` body ${e.requestBody.slice(0, 300)}` : ''} -> ${e.responseBody?.slice(0, 300)}`,
      ),
      [],
      'no 5xx',
    );
    const stillAdmin = await fetch(`${agg.url}/v1/k8s/logs/tokens`, {
      headers: { authorization: `Bearer ${agg.adminToken}` },
    });
    t.equal(
      stillAdmin.status,
      200,
      'the fuzz did not revoke its own admin token half-way (its requests would all be 401)',
    );
    t.same(
      result.failures.map((f) => `${f.operation}: ${f.check} ${f.code} ${f.title}: ${f.message.slice(0, 300)}`),
      [],
      'no failed check',
    );
    if (result.serverErrors.length > 0 || result.failures.length > 0)
      for (const p of result.passes) t.comment(`--- ${p.pass} pass (exit ${p.exitCode})\n${p.outputTail}`);
  });
}
