import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_COLLECTION_CONFIG } from '../../../shared/schemas/collection-config-default.ts';
import { append, containerLogName, cri, metricValue, runAgent, startSink, tempDir, until } from '../helpers.ts';

t.test('config changes apply within seconds: disable a namespace, min level, rate limit, multiline', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  sink.config = { ...DEFAULT_COLLECTION_CONFIG };
  const shop = join(logs, containerLogName('web', 'shop', 'c'));
  const ops = join(logs, containerLogName('mon', 'ops', 'c'));
  await writeFile(shop, cri('shop 1'));
  await writeFile(ops, cri('ops 1'));
  const agent = await runAgent({ dir, sink, config: { configPollIntervalMs: 200 } });
  t.teardown(() => agent.stop());
  await sink.waitFor(() => sink.uniqueIds >= 2, 5000, 'both namespaces');

  const changed = () => metricValue(agent, 'k8s_logs_agent_config_polls_total', { outcome: 'changed' });
  const before = await changed();
  // Disable namespace shop.
  sink.config = { ...DEFAULT_COLLECTION_CONFIG, exclude_namespaces: ['shop'] };
  const changedAt = Date.now();
  await until(async () => (await changed()) >= before + 1, 10_000, 'config applied');
  t.ok(Date.now() - changedAt < 10_000, 'applied within 10 s');
  await append(shop, cri('shop 2'));
  await append(ops, cri('ops 2'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'ops 2'), 5000, 'ops 2');
  await until(
    async () =>
      (await metricValue(agent, 'k8s_logs_agent_discarded_records_total', { reason: 'excluded_by_config' })) >= 1,
    5000,
    'shop 2 discarded',
  );
  t.notOk(sink.records.some((r) => r.message === 'shop 2'));

  // Min level warn for ops; rate limit 5/s for shop after re-enabling it.
  sink.config = {
    ...DEFAULT_COLLECTION_CONFIG,
    namespace_overrides: { ops: { min_level: 'warn' }, shop: { rate_limit_lines_per_second: 5 } },
  };
  await until(async () => (await changed()) >= before + 2, 10_000, 'second config applied');
  await append(ops, cri('INFO chatty') + cri('WARN careful') + cri('no level at all'));
  let burst = '';
  for (let i = 0; i < 100; i++) burst += cri(`burst ${i}`);
  await append(shop, burst + cri('ERROR last'));
  await sink.waitFor(() => sink.records.some((r) => r.message === 'no level at all'), 5000, 'ops lines');
  t.ok(sink.records.some((r) => r.message === 'WARN careful'));
  t.notOk(
    sink.records.some((r) => r.message === 'INFO chatty'),
    'below min level dropped',
  );
  await until(
    async () =>
      (await metricValue(agent, 'k8s_logs_agent_discarded_records_total', { reason: 'below_min_level' })) === 1,
    5000,
    'below_min_level',
  );
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_discarded_records_total', { reason: 'rate_limited' })) >= 80,
    5000,
    'rate limited',
  );
  const burstDelivered = sink.records.filter((r) => r.message.startsWith('burst ')).length;
  t.ok(burstDelivered >= 5 && burstDelivered <= 20, `about one second of burst delivered (${burstDelivered})`);
  t.ok(sink.configRequests > 3);
  t.ok((sink.statuses.get(200) ?? 0) > 0);
});

t.test('multiline merge follows the config per namespace', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  sink.config = { ...DEFAULT_COLLECTION_CONFIG, multiline: true, namespace_overrides: { raw: { multiline: false } } };
  const trace =
    cri('Exception in thread "main" java.lang.RuntimeException: x') +
    cri('\tat a.B.c(B.java:1)') +
    cri('\tat a.B.main(B.java:2)') +
    cri('done');
  await writeFile(join(logs, containerLogName('app', 'merged', 'c')), trace);
  await writeFile(join(logs, containerLogName('app', 'raw', 'c')), trace);
  const agent = await runAgent({ dir, sink });
  t.teardown(() => agent.stop());
  await sink.waitFor(() => sink.records.filter((r) => r.message === 'done').length >= 2, 5000, 'both files');
  const merged = sink.records.filter((r) => r.namespace === 'merged').map((r) => r.message);
  const raw = sink.records.filter((r) => r.namespace === 'raw').map((r) => r.message);
  t.same(merged, [
    'Exception in thread "main" java.lang.RuntimeException: x\n\tat a.B.c(B.java:1)\n\tat a.B.main(B.java:2)',
    'done',
  ]);
  t.equal(raw.length, 4);
  t.equal(sink.records.find((r) => r.namespace === 'merged')?.level, 'error');
});

t.test('the last config is kept across a restart while the aggregator is unreachable', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  sink.config = { ...DEFAULT_COLLECTION_CONFIG, exclude_namespaces: ['shop'] };
  const agent1 = await runAgent({ dir, sink });
  await agent1.stop();
  await sink.down();
  const shop = join(logs, containerLogName('web', 'shop', 'c'));
  await writeFile(shop, cri('must not be sent'));
  const agent2 = await runAgent({ dir, sink, config: { requestTimeoutMs: 500 } });
  t.teardown(() => agent2.stop(200));
  await until(
    async () =>
      (await metricValue(agent2, 'k8s_logs_agent_discarded_records_total', { reason: 'excluded_by_config' })) >= 1,
    5000,
    'excluded by the saved config',
  );
});
