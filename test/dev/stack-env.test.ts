import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_FIELDS } from '../../agent/config.ts';
import { agentEnv, aggregatorEnv } from '../../dev/stack-env.ts';

const env = {
  K8S_LOGS_RETENTION_DAYS: '3',
  K8S_LOGS_RATE_LIMIT_STANDARD_PER_MINUTE: '50',
  OPENSEARCH_USERNAME: 'admin',
  OPENSEARCH_URL: 'http://elsewhere:9200',
  K8S_LOGS_AGENT_MAX_BATCH_BYTES: '1000',
  K8S_LOGS_AGENT_CLUSTER: 'mine',
  K8S_LOGS_AGENT_STALE_AFTER_MS: '30000',
  HOME: '/root',
};

t.test('npm start passes every aggregator setting of its environment to the aggregator', async (t) => {
  t.same(
    aggregatorEnv(env, { OPENSEARCH_URL: 'http://127.0.0.1:9200', K8S_LOGS_ADMIN_TOKEN: 'x' }),
    {
      K8S_LOGS_RETENTION_DAYS: '3',
      K8S_LOGS_RATE_LIMIT_STANDARD_PER_MINUTE: '50',
      OPENSEARCH_USERNAME: 'admin',
      OPENSEARCH_URL: 'http://127.0.0.1:9200',
      K8S_LOGS_AGENT_STALE_AFTER_MS: '30000',
      K8S_LOGS_ADMIN_TOKEN: 'x',
    },
    "the stack's own services win; agent settings and unrelated variables stay out",
  );
});

t.test('and every agent setting to the agent', async (t) => {
  t.same(agentEnv(env, { cluster: 'demo', metricsPort: 0, includeAnnotations: ['a', 'b'] }), {
    K8S_LOGS_AGENT_MAX_BATCH_BYTES: '1000',
    K8S_LOGS_AGENT_CLUSTER: 'demo',
    K8S_LOGS_AGENT_STALE_AFTER_MS: '30000',
    K8S_LOGS_AGENT_METRICS_PORT: '0',
    K8S_LOGS_AGENT_INCLUDE_ANNOTATIONS: 'a,b',
  });
});

t.test('every variable either program reads reaches it, whatever its prefix', async (t) => {
  // The aggregator's names as its config.ts spells them (quoted), as the chart test reads them.
  const source = await readFile(join(import.meta.dirname, '..', '..', 'aggregator', 'config.ts'), 'utf8');
  const aggregatorNames = [
    ...new Set([...source.matchAll(/'((?:K8S_LOGS|OPENSEARCH)_[A-Z0-9_]+)'/g)].map((m) => m[1]!)),
  ];
  t.ok(aggregatorNames.length > 50, `${aggregatorNames.length} aggregator variables`);
  t.ok(aggregatorNames.includes('K8S_LOGS_AGENT_STALE_AFTER_MS'), 'one of them has the agent prefix');
  const agentNames = CONFIG_FIELDS.map((f) => f.env);
  const all = Object.fromEntries([...aggregatorNames, ...agentNames].map((n) => [n, `v-${n}`]));
  const agg = aggregatorEnv(all, {});
  for (const n of aggregatorNames) t.equal(agg[n], `v-${n}`, `aggregator gets ${n}`);
  for (const n of agentNames) t.notOk(n in agg, `aggregator does not get the agent's ${n}`);
  const agent = agentEnv(all, {});
  for (const n of agentNames) t.equal(agent[n], `v-${n}`, `agent gets ${n}`);
});
