import t from 'tap';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { buildApp } from '../../aggregator/app.ts';
import { configWith } from '../../aggregator/config.ts';

const agg = await startTestAggregator(t, { name: 'health' });

t.test('health, readiness and metrics are public', async (t) => {
  const health = await fetch(`${agg.url}/healthz`);
  t.equal(health.status, 200);
  t.ok(health.headers.get('x-request-id'), 'every response carries a request id');
  t.equal((await fetch(`${agg.url}/readyz`)).status, 200);
  const metrics = await fetch(`${agg.url}/metrics`);
  t.equal(metrics.status, 200);
  const text = await metrics.text();
  for (const name of [
    'k8s_logs_aggregator_http_request_duration_seconds',
    'k8s_logs_aggregator_received_records_total',
    'k8s_logs_aggregator_bulk_duration_seconds',
    'k8s_logs_aggregator_process_cpu_seconds_total',
  ]) {
    t.match(text, new RegExp(`# TYPE ${name} `), name);
  }
  t.match(
    text,
    /k8s_logs_aggregator_http_request_duration_seconds_count\{route="\/healthz",method="GET",status="200"\} \d+/,
  );
});

t.test('an incoming X-Request-Id is kept and echoed in error envelopes', async (t) => {
  const res = await fetch(`${agg.url}/v1/k8s/logs/`, { headers: { 'x-request-id': 'trace-abc-123' } });
  t.equal(res.status, 401);
  t.equal(res.headers.get('x-request-id'), 'trace-abc-123');
  t.equal(((await res.json()) as { request_id: string }).request_id, 'trace-abc-123');
  const missing = await fetch(`${agg.url}/v1/k8s/logs/nope`);
  t.equal(missing.status, 404);
  t.match(await missing.json(), { error: { status: 404, code: 'not_found' } });
});

t.test('the OpenAPI document at /docs describes the routes with their schemas', async (t) => {
  const ui = await fetch(`${agg.url}/docs/`);
  t.equal(ui.status, 200);
  t.match(ui.headers.get('content-type'), /text\/html/);
  const doc = (await (await fetch(`${agg.url}/docs/json`)).json()) as {
    openapi: string;
    paths: Record<string, Record<string, any>>;
  };
  t.match(doc.openapi, /^3\./);
  t.ok(doc.paths['/v1/k8s/logs/']?.['get'], 'GET /');
  t.ok(doc.paths['/v1/ingest']?.['post'], 'ingest');
  t.ok(doc.paths['/v1/k8s/logs/tokens']?.['post']?.requestBody, 'token body schema');
  const params = (doc.paths['/v1/k8s/logs/']?.['get']?.parameters as Array<{ name: string }>).map((p) => p.name);
  for (const p of ['namespace', 'pod', 'container', 'start', 'end', 'limit', 'cursor'])
    t.ok(params.includes(p), `parameter ${p}`);
});

t.test('/docs lists every control-plane endpoint (issue 8) with its parameters, body and answer schemas', async (t) => {
  type Op = {
    parameters?: Array<{ in: string; name: string; required?: boolean; schema?: object }>;
    requestBody?: { content?: Record<string, { schema?: object }> };
    responses?: Record<string, { content?: Record<string, { schema?: object }> }>;
  };
  const doc = (await (await fetch(`${agg.url}/docs/json`)).json()) as { paths: Record<string, Record<string, Op>> };
  // [method, path, success status, takes a body, parameters ("in:name", "!" when required)]
  const endpoints: Array<[string, string, number, boolean, string[]]> = [
    [
      'get',
      '/config',
      200,
      false,
      ['query:cluster', 'query:namespace', 'query:enabled', 'query:limit', 'query:cursor'],
    ],
    ['post', '/config', 201, true, []],
    ['put', '/config', 200, true, ['query:id!', 'header:if-match']],
    ['delete', '/config', 204, false, ['query:id!', 'header:if-match']],
    ['post', '/config/bulk-update', 200, true, []],
    ['post', '/config/disable', 200, true, []],
    ['post', '/config/disable/cluster', 200, true, []],
    ['get', '/clusters/status', 200, false, ['query:id']],
    ['get', '/clusters/configs', 200, false, ['query:limit', 'query:cursor']],
    ['post', '/clusters/configs', 201, true, []],
    ['put', '/clusters/configs', 200, true, ['query:id!', 'header:if-match']],
    ['delete', '/clusters/configs', 200, false, ['query:id!', 'header:if-match']],
    ['post', '/clusters/refresh', 200, false, ['query:id']],
    ['get', '/metrics', 200, false, ['query:start', 'query:end', 'query:interval', 'query:top', 'query:cluster']],
    [
      'get',
      '/clusters/{clusterId}/metrics',
      200,
      false,
      ['path:clusterId!', 'query:start', 'query:end', 'query:interval', 'query:top'],
    ],
    ['get', '/stats', 200, false, ['query:cluster']],
    ['get', '/health', 200, false, []],
  ];
  for (const [method, path, status, body, params] of endpoints) {
    const op = doc.paths[`/v1/k8s/logs${path}`]?.[method];
    const what = `${method.toUpperCase()} ${path}`;
    if (!op) {
      t.fail(`${what} is not in /docs`);
      continue;
    }
    const answer = op.responses?.[String(status)];
    t.ok(status === 204 || answer?.content?.['application/json']?.schema, `${what}: ${status} answer schema`);
    t.ok(op.responses?.['400'] || path === '/health', `${what}: error answers documented`);
    if (body) t.ok(op.requestBody?.content?.['application/json']?.schema, `${what}: body schema`);
    else t.notOk(op.requestBody, `${what}: no body`);
    t.same(
      (op.parameters ?? []).map((p) => `${p.in}:${p.name}${p.required ? '!' : ''}`).sort(),
      [...params].sort(),
      `${what}: its parameters`,
    );
    for (const p of op.parameters ?? []) t.ok(p.schema, `${what}: ${p.in} ${p.name} has a schema`);
  }
  // /health answers its state in the body on 503 as well: a monitor reads why.
  t.ok(
    doc.paths['/v1/k8s/logs/health']?.['get']?.responses?.['503']?.content?.['application/json']?.schema,
    'GET /health: 503 answer schema',
  );
});

t.test('until the store is prepared, API routes answer 503 and /readyz is not ready', async (t) => {
  const app = await buildApp(
    configWith({ opensearchUrl: agg.opensearchUrl, adminToken: 'x'.repeat(32), indexPrefix: `${agg.prefix}-cold` }),
  );
  t.teardown(() => app.close());
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 503);
  const api = await app.inject({
    method: 'GET',
    url: '/v1/k8s/logs/',
    headers: { authorization: `Bearer ${'x'.repeat(32)}` },
  });
  t.equal(api.statusCode, 503);
  t.equal(api.headers['retry-after'], '2');
  t.equal(api.json().error.code, 'store_unavailable');
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'alive meanwhile');
});
