/**
 * The API fuzz of the aggregator: schemathesis generates requests from the aggregator's
 * own OpenAPI document (`/docs/json`) in two passes, since no one token may call every
 * route: the admin token for everything but ingest, an ingest token for `/v1/ingest*`
 * (admin implies every scope except `ingest`). The passes' summaries are merged.
 */
import { runSchemathesis, type SchemathesisOptions, type SchemathesisSummary } from './schemathesis-run.ts';

export interface AggregatorFuzzOptions extends Omit<
  SchemathesisOptions,
  'schemaUrl' | 'headers' | 'includePathRegex' | 'excludePathRegex'
> {
  /** Aggregator base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  adminToken: string;
  /** Without it the ingest routes are fuzzed with the admin token (mostly 403s). */
  ingestToken?: string;
}

export interface AggregatorFuzzResult extends Omit<SchemathesisSummary, 'exitCode' | 'outputTail'> {
  passes: Array<{ token: 'admin' | 'ingest'; requests: number; exitCode: number | null; outputTail: string }>;
}

export async function fuzzAggregator(o: AggregatorFuzzOptions): Promise<AggregatorFuzzResult> {
  const { url, adminToken, ingestToken, ...rest } = o;
  const schemaUrl = `${url}/docs/json`;
  const header = (t: string) => [`Authorization: Bearer ${t}`];
  const runs: Array<['admin' | 'ingest', SchemathesisSummary]> = [];
  if (ingestToken === undefined) {
    runs.push(['admin', await runSchemathesis({ ...rest, schemaUrl, headers: header(adminToken) })]);
  } else {
    runs.push([
      'admin',
      await runSchemathesis({ ...rest, schemaUrl, headers: header(adminToken), excludePathRegex: '^/v1/ingest' }),
    ]);
    runs.push([
      'ingest',
      await runSchemathesis({ ...rest, schemaUrl, headers: header(ingestToken), includePathRegex: '^/v1/ingest' }),
    ]);
  }
  const byStatus: Record<string, number> = {};
  for (const [, s] of runs) for (const [k, v] of Object.entries(s.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + v;
  return {
    requests: runs.reduce((n, [, s]) => n + s.requests, 0),
    byStatus,
    serverErrors: runs.flatMap(([, s]) => s.serverErrors),
    failures: runs.flatMap(([, s]) => s.failures),
    operations: [...new Set(runs.flatMap(([, s]) => s.operations))].sort(),
    passes: runs.map(([token, s]) => ({ token, requests: s.requests, exitCode: s.exitCode, outputTail: s.outputTail })),
  };
}
