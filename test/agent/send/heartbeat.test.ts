import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { DEFAULT_COLLECTION_CONFIG } from '../../../shared/schemas/collection-config-default.ts';
import type { Heartbeat } from '../../../shared/schemas/ingest.ts';
import { AgentEvents } from '../../../agent/telemetry/events.ts';
import { createAgentMetrics } from '../../../agent/telemetry/metrics.ts';
import { createLogger } from '../../../agent/telemetry/logger.ts';
import { containerLogName, cri, metricValue, runAgent, startSink, tempDir, until } from '../helpers.ts';

t.test('reason totals follow the events that count discards and rejections', async (t) => {
  const events = new AgentEvents(
    createLogger('silent', {}),
    createAgentMetrics(new Registry(), { processMetrics: false }),
  );
  t.same(events.reasonTotals(), { discarded: {}, rejected: {} });
  events.discarded('rate_limited', 3);
  events.discarded('rate_limited', 0);
  events.discarded('excluded_by_config', 2);
  events.recordsRefused('invalid_record', 1, 400, {});
  events.recordsRejected('too_old', 4, 'sample');
  events.discarded('rate_limited', 1);
  t.same(events.reasonTotals(), {
    discarded: { rate_limited: 4, excluded_by_config: 2, invalid_record: 1 },
    rejected: { too_old: 4 },
  });
});

t.test('heartbeats carry the start time and the discards by reason since then', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  sink.config = { ...DEFAULT_COLLECTION_CONFIG, min_level: 'warn' };
  const agent = await runAgent({ dir, sink, config: { heartbeatIntervalMs: 50 } });
  t.teardown(() => agent.stop());
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_config_polls_total', { outcome: 'changed' })) >= 1,
    10_000,
    'config applied',
  );
  await writeFile(
    join(logs, containerLogName('web', 'shop', 'c')),
    cri('INFO one') + cri('INFO two') + cri('INFO three') + cri('ERROR four'),
  );
  await sink.waitFor(() => sink.records.some((r) => r.message === 'ERROR four'), 10_000, 'the error line');
  await sink.waitFor(
    () => (sink.heartbeats as Heartbeat[]).some((h) => h.discarded?.['below_min_level'] === 3),
    10_000,
    'a heartbeat with the three discards',
  );
  const last = (sink.heartbeats as Heartbeat[]).at(-1)!;
  t.match(last, { cluster: 'test-cluster', node: 'test-node', discarded: { below_min_level: 3 }, rejected: {} });
  t.ok(last.started_at && Date.parse(last.started_at) <= Date.parse(last.sent_at), 'started_at is before sent_at');
});
