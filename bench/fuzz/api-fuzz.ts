/**
 * API fuzz run (`npm run fuzz`; the bounded version is test/aggregator/api-fuzz.test.ts):
 * schemathesis (PyPI, pinned, in ~/.cache/k8s-logs; dev/schemathesis/) generates requests
 * from the aggregator's OpenAPI document, runs its phases (examples, coverage, fuzzing,
 * stateful) and checks every response. Goal: no 5xx.
 *
 *   npm run fuzz -- [--max-examples 200] [--seed N] [--workers 2] [--checks not_a_server_error,response_schema_conformance]
 *   npm run fuzz -- --url http://127.0.0.1:8080 --token <admin> [--ingest-token <t>]   # a running aggregator
 *
 * Without `--url` it starts an aggregator in this process on OPENSEARCH_URL (or an embedded
 * OpenSearch it stops again) with its own index prefix, and seeds a few records so reads
 * find something. Prints one JSON line on stdout (requests sent, by status, every 5xx with
 * its request, failed checks); progress and a short table on stderr. Exit 1 on any 5xx.
 */
import { parseArgs } from 'node:util';
import { ensureSchemathesis } from '../../dev/schemathesis/schemathesis-venv.ts';
import { fuzzAggregator } from '../../dev/schemathesis/aggregator-fuzz.ts';
import {
  benchAggregator,
  benchOpenSearch,
  dropPrefix,
  emitResult,
  freshPrefix,
  log,
} from '../aggregator/bench-services.ts';
import { seedFuzzRecords } from './seed-records.ts';

const { values } = parseArgs({
  options: {
    'max-examples': { type: 'string', default: '200' },
    seed: { type: 'string' },
    workers: { type: 'string', default: '2' },
    checks: { type: 'string', default: 'not_a_server_error,response_schema_conformance' },
    phases: { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
    'ingest-token': { type: 'string' },
  },
});
const command = `node bench/fuzz/api-fuzz.ts ${process.argv.slice(2).join(' ')}`.trim();
const binary = await ensureSchemathesis(log);

let target: { url: string; adminToken: string; ingestToken?: string };
let teardown = async () => {};
if (values.url) {
  const adminToken = values.token ?? process.env['K8S_LOGS_TOKEN'];
  if (!adminToken) throw new Error('--url needs --token (or K8S_LOGS_TOKEN): an admin token');
  target = { url: values.url, adminToken, ...(values['ingest-token'] ? { ingestToken: values['ingest-token'] } : {}) };
} else {
  const os = await benchOpenSearch(1024);
  const prefix = freshPrefix('fuzz');
  const agg = await benchAggregator(os.url, prefix);
  const ingestToken = await agg.token({ name: 'fuzz agent', scopes: ['ingest'], clusters: ['fuzz'] });
  await seedFuzzRecords(agg.url, ingestToken, os.url, prefix);
  target = { url: agg.url, adminToken: agg.adminToken, ingestToken };
  teardown = async () => {
    await agg.close();
    await dropPrefix(os.url, prefix);
    await os.stop();
  };
}

const started = Date.now();
log(`${command}: fuzzing ${target.url}`);
const result = await fuzzAggregator({
  binary,
  ...target,
  maxExamples: Number(values['max-examples']),
  ...(values.seed !== undefined ? { seed: Number(values.seed) } : {}),
  workers: Number(values.workers),
  checks: values.checks.split(','),
  ...(values.phases ? { phases: values.phases.split(',') } : {}),
  timeoutMs: 3_600_000,
}).finally(teardown);
const seconds = Math.round((Date.now() - started) / 1000);

process.stderr.write(
  `\n  command        ${command}\n  operations     ${result.operations.length}\n  requests sent  ${result.requests} in ${seconds} s\n` +
    `  by status      ${Object.entries(result.byStatus)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}\n` +
    `  5xx seen       ${result.serverErrors.length}${result.serverErrors.length ? '  ✗' : '  ✓'}\n` +
    `  failed checks  ${result.failures.length}\n`,
);
for (const e of result.serverErrors.slice(0, 20))
  process.stderr.write(
    `    ${e.status} ${e.method} ${e.uri}${e.requestBody ? ` body ${e.requestBody.slice(0, 200)}` : ''}\n`,
  );
for (const f of result.failures.slice(0, 20))
  process.stderr.write(`    ${f.operation}: ${f.check} ${f.code} ${f.title}: ${f.message.split('\n')[0]}\n`);
emitResult({
  bench: 'api-fuzz',
  command,
  seconds,
  requests: result.requests,
  server_errors: result.serverErrors.length,
  by_status: result.byStatus,
  operations: result.operations,
  five_xx: result.serverErrors,
  failed_checks: result.failures,
});
process.exit(result.serverErrors.length > 0 ? 1 : 0);
