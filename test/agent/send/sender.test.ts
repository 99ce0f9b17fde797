import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Compile } from 'typebox/compile';
import { HeartbeatSchema } from '../../../shared/schemas/ingest.ts';
import { containerLogName, cri, metricValue, runAgent, startSink, tempDir, until } from '../helpers.ts';

t.test('a refused request is bisected: only the offending records are discarded, with a reason', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  sink.refuseWhen = (line) => (line.includes('POISON') ? 400 : line.includes('HUGE') ? 413 : null);
  let text = '';
  for (let i = 0; i < 100; i++) text += cri(i === 37 ? 'POISON' : i === 80 ? 'HUGE' : `fine ${i}`);
  await writeFile(join(logs, containerLogName('p', 'ns', 'c')), text);
  const agent = await runAgent({ dir, sink, config: { maxBatchRecords: 1000, maxBatchAgeMs: 200 } });
  t.teardown(() => agent.stop());
  await sink.waitFor(() => sink.uniqueIds >= 98, 10_000, '98 good records');
  await until(
    async () =>
      (await metricValue(agent, 'k8s_logs_agent_discarded_records_total', { reason: 'invalid_record' })) === 1 &&
      (await metricValue(agent, 'k8s_logs_agent_discarded_records_total', { reason: 'record_too_large' })) === 1,
    5000,
    'refused records counted by reason',
  );
  t.notOk(sink.records.some((r) => r.message === 'POISON' || r.message === 'HUGE'));
  t.ok(await agent.flush(5000), 'nothing stays unsettled: the refused batch does not wedge the agent');
});

t.test('401 is retried (operator error), not dropped', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t, { token: 'right' });
  await writeFile(join(logs, containerLogName('p', 'ns', 'c')), cri('hello'));
  const agent = await runAgent({ dir, sink, config: { token: 'wrong' } });
  t.teardown(() => agent.stop(100));
  await until(
    async () => (await metricValue(agent, 'k8s_logs_agent_send_retries_total', { reason: 'status_4xx' })) >= 2,
    5000,
    '401 retried',
  );
  t.equal(sink.uniqueIds, 0);
  t.equal(await metricValue(agent, 'k8s_logs_agent_discarded_records_total'), 0, 'nothing discarded');
});

t.test('heartbeat carries node, version, files watched, bytes behind, last ack', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  await writeFile(join(logs, containerLogName('p', 'ns', 'c')), cri('hello'));
  const agent = await runAgent({ dir, sink, config: { heartbeatIntervalMs: 100 } });
  t.teardown(() => agent.stop());
  await sink.waitFor(() => sink.uniqueIds >= 1, 5000, 'record');
  await sink.waitFor(
    () => sink.heartbeats.some((h) => (h as { last_ack_at?: string }).last_ack_at !== undefined),
    5000,
    'heartbeat after an ack',
  );
  const hb = sink.heartbeats.at(-1);
  t.ok(Compile(HeartbeatSchema).Check(hb), 'matches HeartbeatSchema');
  t.match(hb, { cluster: 'test-cluster', node: 'test-node', files_watched: 1, bytes_behind: 0 });
});

t.test('/metrics and /healthz', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'logs'));
  const sink = await startSink(t);
  const agent = await runAgent({ dir, sink });
  t.teardown(() => agent.stop());
  const m = await fetch(`http://127.0.0.1:${agent.metricsPort}/metrics`);
  t.equal(m.status, 200);
  const text = await m.text();
  for (const name of [
    'k8s_logs_agent_read_bytes_total',
    'k8s_logs_agent_queue_bytes',
    'k8s_logs_agent_send_duration_seconds',
    'k8s_logs_agent_files_watched',
  ]) {
    t.match(text, name);
  }
  const h = await fetch(`http://127.0.0.1:${agent.metricsPort}/healthz`);
  t.equal(h.status, 200);
  t.match(await h.json(), { ok: true, stopping: false });
  t.equal((await fetch(`http://127.0.0.1:${agent.metricsPort}/nope`)).status, 404);
});
