/**
 * logrotate `copytruncate` and an agent SIGKILLed before the aggregator acknowledged the end
 * of the old generation: after the restart the checkpointed inode holds new content and the
 * rest of the old generation lives only in the copy (`x.log.1`, another inode). The restarted
 * agent must read it from there under the old identity, so every line is stored exactly once
 * (the sink keeps the first write of an id, as OpenSearch `create` does).
 *
 * The sink holds the first batch sent after the setup (stored, never answered) and the agent
 * sends one request at a time, so everything read after it is unacknowledged when it dies.
 *
 * The same holds for an agent whose tailing is paused behind a full queue (an outage): it
 * sees nothing of a copytruncate until it reads again, and a generation written after the
 * truncation may be rotated away before it is read (the chaos run's 2-minute outage).
 */
import t, { type Test } from 'tap';
import { appendFileSync, truncateSync } from 'node:fs';
import { copyFile, mkdir, rename, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { append, childAgentEnv, containerLogName, cri, spawnAgent, startSink, tempDir, until } from './helpers.ts';
import type { IngestSink } from '../helpers/ingest-sink.ts';

/** A counter of the agent child's /metrics (summed over the series matching `labels`). */
async function metric(port: number, name: string, labels = ''): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    sum += Number(rest.slice(rest.lastIndexOf(' ') + 1));
  }
  return sum;
}

function lines(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix} line ${i} ${'y'.repeat(i % 40)}`);
}

interface Setup {
  dir: string;
  file: string;
  sink: IngestSink;
  env: Record<string, string>;
}

async function setup(t: Test): Promise<Setup> {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t, { keepRecords: true });
  const env = {
    ...childAgentEnv(dir, logs, sink),
    K8S_LOGS_AGENT_MAX_BATCH_RECORDS: '20',
    K8S_LOGS_AGENT_MAX_BATCH_AGE_MS: '20',
    K8S_LOGS_AGENT_CHECKPOINT_INTERVAL_MS: '20',
    K8S_LOGS_AGENT_POLL_INTERVAL_MS: '20',
    K8S_LOGS_AGENT_RESCAN_INTERVAL_MS: '200',
    K8S_LOGS_AGENT_ROTATE_WAIT_MS: '200',
    // One request at a time: the held batch keeps every later one unsent.
    K8S_LOGS_AGENT_MAX_IN_FLIGHT_REQUESTS: '1',
  };
  return { dir, file: join(logs, containerLogName('ct', 'ns', 'app')), sink, env };
}

/**
 * First agent: acknowledges `acked`, then the sink holds; `unacked` is written and read.
 * Returns the running child (to be killed by the caller) and its metrics port.
 */
async function startHeld(
  t: Test,
  s: Setup,
  acked: readonly string[],
  unacked: readonly string[],
): Promise<{ kill: () => Promise<void>; port: number; stdout: () => string }> {
  await append(s.file, acked.map((m) => cri(m)).join(''));
  const agent = spawnAgent(s.env);
  t.teardown(() => agent.child.kill('SIGKILL'));
  const port = await agent.metricsPort();
  await s.sink.waitFor(() => s.sink.contentReport(acked).missing.length === 0, 15_000, 'the first lines acknowledged');
  // The checkpoint past the acknowledged lines is on disk before the next batch is sent
  // (write-ahead journal), so holding from here leaves exactly `unacked` unacknowledged.
  s.sink.hold();
  await append(s.file, unacked.map((m) => cri(m)).join(''));
  await until(
    async () => (await metric(port, 'k8s_logs_agent_read_lines_total')) >= acked.length + unacked.length,
    15_000,
    'the unacknowledged lines read',
  );
  await s.sink.waitFor(() => s.sink.heldRequests >= 1, 15_000, 'a batch held by the sink');
  return {
    port,
    stdout: agent.stdout,
    kill: async () => {
      agent.child.kill('SIGKILL');
      await agent.exited;
    },
  };
}

async function restartAndCheck(t: Test, s: Setup, written: readonly string[], before?: () => Promise<void>) {
  const agent = spawnAgent(s.env);
  t.teardown(() => agent.child.kill('SIGKILL'));
  await agent.metricsPort();
  if (before !== undefined) await before();
  const done = (): boolean => {
    const r = s.sink.contentReport(written);
    return r.missing.length === 0 && r.doubled.length === 0 && r.unexpected.length === 0;
  };
  await s.sink.waitFor(done, 20_000, 'every line stored').catch((e: unknown) => t.comment(String(e)));
  agent.child.kill('SIGTERM');
  t.equal(await agent.exited, 0, 'restarted agent stops cleanly');
  const report = s.sink.contentReport(written);
  t.same(
    { missing: report.missing.slice(0, 10), doubled: report.doubled.slice(0, 10), unexpected: report.unexpected },
    { missing: [], doubled: [], unexpected: [] },
    'every line stored exactly once',
  );
  if (!done()) {
    t.comment(`missing ${report.missing.length} of ${written.length}`);
    t.comment(
      agent
        .stdout()
        .split('\n')
        .filter((l) => /tailing|closed|rotation|draining|copy|dropping/.test(l))
        .join('\n'),
    );
  }
}

t.test('copy-truncate noticed, SIGKILL before the ack, restart: every line stored exactly once', async (t) => {
  const s = await setup(t);
  const acked = lines('gen0 acked', 30);
  const unacked = lines('gen0 unacked', 150);
  const fresh = lines('gen1', 40);
  const first = await startHeld(t, s, acked, unacked);
  // logrotate copytruncate while the agent runs: copy, truncate in place, the writer goes on.
  await copyFile(s.file, `${s.file}.1`);
  await truncate(s.file, 0);
  await append(s.file, fresh.map((m) => cri(m)).join(''));
  await until(
    async () => (await metric(first.port, 'k8s_logs_agent_rotations_total', 'kind="truncate"')) >= 1,
    15_000,
    'the truncation noticed',
  );
  await until(
    async () =>
      (await metric(first.port, 'k8s_logs_agent_read_lines_total')) >= acked.length + unacked.length + fresh.length,
    15_000,
    'the new generation read',
  );
  await first.kill();
  s.sink.release();
  await restartAndCheck(t, s, [...acked, ...unacked, ...fresh]);
});

t.test(
  'SIGKILL before the ack, copy-truncate while the agent is down, restart: every line stored exactly once',
  async (t) => {
    const s = await setup(t);
    const acked = lines('gen0 acked', 30);
    const unacked = lines('gen0 unacked', 150);
    const fresh = lines('gen1', 40);
    const first = await startHeld(t, s, acked, unacked);
    await first.kill();
    s.sink.release();
    // The agent never saw the truncation: the checkpointed inode is empty when it comes back,
    // and the writer continues only after the restart.
    await copyFile(s.file, `${s.file}.1`);
    await truncate(s.file, 0);
    await restartAndCheck(t, s, [...acked, ...unacked, ...fresh], () =>
      append(s.file, fresh.map((m) => cri(m)).join('')),
    );
  },
);

t.test('copy-truncate while tailing is paused behind a full queue: every line stored exactly once', async (t) => {
  const s = await setup(t);
  // A 64 KiB queue and a sink that answers nothing: tailing pauses a few KiB into the file.
  const agent = spawnAgent({
    ...s.env,
    K8S_LOGS_AGENT_MAX_QUEUE_BYTES: String(64 * 1024),
    K8S_LOGS_AGENT_MAX_BATCH_BYTES: String(16 * 1024),
  });
  t.teardown(() => agent.child.kill('SIGKILL'));
  const port = await agent.metricsPort();
  s.sink.hold();
  const gen0 = lines('gen0', 3000); // ~250 KB: far more than the queue holds
  await append(s.file, gen0.map((m) => cri(m)).join(''));
  await until(async () => (await metric(port, 'k8s_logs_agent_tail_paused')) === 1, 15_000, 'tailing paused');
  const readWhilePaused = await metric(port, 'k8s_logs_agent_read_lines_total');
  t.ok(readWhilePaused < gen0.length, `paused after ${readWhilePaused} of ${gen0.length} lines`);
  // copytruncate, and the new generation is past the reader's position before it reads
  // again: truncate and the writes in one synchronous step (an outage gives a writer all
  // the time it needs; here the agent must not catch the file empty in between).
  await copyFile(s.file, `${s.file}.1`);
  const gen1 = lines('gen1', 4000);
  truncateSync(s.file, 0);
  appendFileSync(s.file, gen1.map((m) => cri(m)).join(''));
  s.sink.release();
  const written = [...gen0, ...gen1];
  const done = (): boolean => {
    const r = s.sink.contentReport(written);
    return r.missing.length === 0 && r.doubled.length === 0 && r.unexpected.length === 0;
  };
  await s.sink.waitFor(done, 30_000, 'every line stored').catch((e: unknown) => t.comment(String(e)));
  agent.child.kill('SIGTERM');
  t.equal(await agent.exited, 0, 'agent stops cleanly');
  const report = s.sink.contentReport(written);
  t.same(
    {
      missing: report.missing.length,
      doubled: report.doubled.slice(0, 5),
      unexpected: report.unexpected.slice(0, 5),
    },
    { missing: 0, doubled: [], unexpected: [] },
    'the old generation whole (its rest from the copy) and the new one from its first line',
  );
});

t.test(
  'copy-truncate, the new generation rotated away unread, SIGKILL: the restart drains the renamed inode too',
  async (t) => {
    const s = await setup(t);
    const acked = lines('gen0 acked', 30);
    const unacked = lines('gen0 unacked', 150);
    const gen1 = lines('gen1', 60);
    const gen2 = lines('gen2', 40);
    const first = await startHeld(t, s, acked, unacked);
    await first.kill();
    s.sink.release();
    // While the agent is down (as while it is paused): copytruncate, the writer goes on in the
    // same inode, then a rename rotation moves that inode away and a fresh file takes the
    // name. The checkpointed inode now holds gen1 under a name outside the log pattern.
    await copyFile(s.file, `${s.file}.1`);
    await truncate(s.file, 0);
    await append(s.file, gen1.map((m) => cri(m)).join(''));
    await rename(s.file, `${s.file}.2`);
    await append(s.file, gen2.map((m) => cri(m)).join(''));
    await restartAndCheck(t, s, [...acked, ...unacked, ...gen1, ...gen2]);
  },
);
