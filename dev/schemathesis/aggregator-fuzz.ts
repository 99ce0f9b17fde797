/**
 * The API fuzz of the aggregator: schemathesis generates requests from the aggregator's
 * own OpenAPI document (`/docs/json`) in passes, since no one token may call every route
 * and one route would end the run early:
 *
 * 1. the admin token on everything but ingest and token deletion;
 * 2. an ingest token on `/v1/ingest*` (admin implies every scope except `ingest`);
 * 3. the admin token on `DELETE /tokens` alone, last: the stateful phase follows
 *    `GET /tokens` → `DELETE /tokens?id=…` and revokes the very token it runs with
 *    (`bootstrap-admin`), after which every request of the run is a 401.
 *
 * The passes' summaries are merged. Streaming operations ({@link STREAMING}) are not fuzzed:
 * a valid request to them is a response that never ends (live tail), which schemathesis can
 * only time out on; their input validation is walked by test/aggregator/bad-input.test.ts.
 */
import { runSchemathesis, type SchemathesisOptions, type SchemathesisSummary } from './schemathesis-run.ts';

const DELETE_TOKENS = 'DELETE /v1/k8s/logs/tokens';
/** Operations whose successful answer is an endless stream. */
export const STREAMING = ['GET /v1/k8s/logs/tail'];

export interface AggregatorFuzzOptions extends Omit<
  SchemathesisOptions,
  'schemaUrl' | 'headers' | 'includePathRegex' | 'excludePathRegex' | 'includeNames' | 'excludeNames'
> {
  /** Aggregator base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  adminToken: string;
  /** Without it the ingest routes are fuzzed with the admin token (mostly 403s). */
  ingestToken?: string;
}

type Pass = 'admin' | 'ingest' | 'admin-delete-tokens';

export interface AggregatorFuzzResult extends Omit<SchemathesisSummary, 'exitCode' | 'outputTail'> {
  passes: Array<{ pass: Pass; requests: number; exitCode: number | null; outputTail: string }>;
}

export async function fuzzAggregator(o: AggregatorFuzzOptions): Promise<AggregatorFuzzResult> {
  const { url, adminToken, ingestToken, ...rest } = o;
  const schemaUrl = `${url}/docs/json`;
  const header = (t: string) => [`Authorization: Bearer ${t}`];
  const runs: Array<[Pass, SchemathesisSummary]> = [];
  runs.push([
    'admin',
    await runSchemathesis({
      ...rest,
      schemaUrl,
      headers: header(adminToken),
      excludeNames: [DELETE_TOKENS, ...STREAMING],
      ...(ingestToken !== undefined ? { excludePathRegex: '^/v1/ingest' } : {}),
    }),
  ]);
  if (ingestToken !== undefined) {
    runs.push([
      'ingest',
      await runSchemathesis({ ...rest, schemaUrl, headers: header(ingestToken), includePathRegex: '^/v1/ingest' }),
    ]);
  }
  runs.push([
    'admin-delete-tokens',
    await runSchemathesis({ ...rest, schemaUrl, headers: header(adminToken), includeNames: [DELETE_TOKENS] }),
  ]);
  const byStatus: Record<string, number> = {};
  for (const [, s] of runs) for (const [k, v] of Object.entries(s.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + v;
  return {
    requests: runs.reduce((n, [, s]) => n + s.requests, 0),
    byStatus,
    serverErrors: runs.flatMap(([, s]) => s.serverErrors),
    failures: runs.flatMap(([, s]) => s.failures),
    operations: [...new Set(runs.flatMap(([, s]) => s.operations))].sort(),
    passes: runs.map(([pass, s]) => ({ pass, requests: s.requests, exitCode: s.exitCode, outputTail: s.outputTail })),
  };
}
