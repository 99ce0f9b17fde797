import t from 'tap';
import { agentEnv, aggregatorEnv } from '../../dev/stack-env.ts';

const env = {
  K8S_LOGS_RETENTION_DAYS: '3',
  K8S_LOGS_RATE_LIMIT_STANDARD_PER_MINUTE: '50',
  OPENSEARCH_USERNAME: 'admin',
  OPENSEARCH_URL: 'http://elsewhere:9200',
  K8S_LOGS_AGENT_MAX_BATCH_BYTES: '1000',
  K8S_LOGS_AGENT_CLUSTER: 'mine',
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
      K8S_LOGS_ADMIN_TOKEN: 'x',
    },
    "the stack's own services win; agent settings and unrelated variables stay out",
  );
});

t.test('and every agent setting to the agent', async (t) => {
  t.same(agentEnv(env, { cluster: 'demo', metricsPort: 0, includeAnnotations: ['a', 'b'] }), {
    K8S_LOGS_AGENT_MAX_BATCH_BYTES: '1000',
    K8S_LOGS_AGENT_CLUSTER: 'demo',
    K8S_LOGS_AGENT_METRICS_PORT: '0',
    K8S_LOGS_AGENT_INCLUDE_ANNOTATIONS: 'a,b',
  });
});
