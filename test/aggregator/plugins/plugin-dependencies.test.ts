/** Service plugins declare what they depend on: registering one without it fails at boot, naming it. */
import t from 'tap';
import Fastify from 'fastify';
import { metricsPlugin } from '../../../aggregator/plugins/metrics.ts';
import { repositoriesPlugin } from '../../../aggregator/plugins/repositories.ts';
import { jobsPlugin } from '../../../aggregator/plugins/jobs.ts';
import { configWith } from '../../../aggregator/config.ts';

const auth = configWith({ opensearchUrl: 'http://127.0.0.1:1' }).auth;

t.test('a plugin registered without a dependency fails at boot', async (t) => {
  const app = Fastify({ logger: false });
  void app.register(metricsPlugin, {});
  void app.register(repositoriesPlugin, { auth });
  await t.rejects(async () => app.ready(), /k8s-logs-opensearch/, 'names the missing plugin');
});

t.test('the job runner needs the repositories and the bulk writer', async (t) => {
  const app = Fastify({ logger: false });
  void app.register(jobsPlugin, { retentionDays: 7, retentionIntervalMs: 3_600_000, jobHistoryDays: 30 });
  await t.rejects(async () => app.ready(), /k8s-logs-opensearch/, 'refused');
});
