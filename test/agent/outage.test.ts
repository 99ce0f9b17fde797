/**
 * The aggregator is unreachable for 30 s while a writer keeps producing: the agent's memory
 * stays bounded (the queue fills, tailing pauses), nothing is lost, and tailing resumes when
 * the aggregator is back. The agent runs as a child process so its RSS can be measured.
 * This is the one slow test of the agent suite (~40 s).
 */
import t from 'tap';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { childAgentEnv, containerLogName, cri, rssOf, spawnAgent, startSink, tempDir, until } from './helpers.ts';
import { waitFor } from '../helpers/wait-for.ts';

const OUTAGE_MS = Number(process.env['AGENT_OUTAGE_MS'] ?? 30_000);
const MiB = 1024 * 1024;

async function scrape(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text);
  return m === null ? NaN : Number(m[1]);
}

t.test(`aggregator down ${OUTAGE_MS / 1000} s: bounded memory, tailing pauses and resumes, nothing lost`, async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t, { keepRecords: false });
  const agent = spawnAgent({
    ...childAgentEnv(dir, logs, sink),
    K8S_LOGS_AGENT_MAX_QUEUE_BYTES: String(4 * MiB),
    K8S_LOGS_AGENT_MAX_BATCH_BYTES: String(512 * 1024),
    K8S_LOGS_AGENT_RETRY_BASE_MS: '100',
    K8S_LOGS_AGENT_RETRY_MAX_MS: '2000',
    K8S_LOGS_AGENT_LOG_LEVEL: 'info',
  });
  t.teardown(() => agent.child.kill('SIGKILL'));
  const port = await agent.metricsPort();
  const pid = agent.child.pid!;

  // Eight files, so that reads landing together (one per file) would show as an overshoot
  // of the bound if the tailers only asked for room before reading.
  const files = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((p) => join(logs, containerLogName(p, 'ns', 'app')));
  const handles = await Promise.all(files.map((f) => open(f, 'a')));
  let written = 0;
  const write = async (lines: number): Promise<void> => {
    for (let i = 0; i < lines; i += 500 * handles.length) {
      for (const h of handles) {
        let chunk = '';
        for (let j = 0; j < 500; j++)
          chunk += cri(
            `{"level":"info","msg":"request ${written++}","path":"/api/v1/items/${written}","pad":"${'p'.repeat(written % 100)}"}`,
          );
        await h.write(chunk);
      }
    }
  };

  await write(20_000);
  await sink.waitFor(() => sink.uniqueIds >= written, 30_000, 'warm-up delivered');
  const baseline = await rssOf(pid);

  await sink.down();
  const before = written;
  await write(200_000); // ~40 MB of log lines, ten times the queue bound
  let maxRss = 0;
  let maxQueue = 0;
  /** One sample of memory and queue; true while tailing is paused. */
  const sample = async (): Promise<boolean> => {
    maxRss = Math.max(maxRss, await rssOf(pid));
    maxQueue = Math.max(maxQueue, await scrape(port, 'k8s_logs_agent_queue_bytes'));
    return (await scrape(port, 'k8s_logs_agent_tail_paused')) === 1;
  };
  // However slowly a loaded machine fills the queue: first until tailing has paused on it …
  await waitFor(sample, { what: 'tailing paused on the full queue', timeoutMs: 60_000, intervalMs: 250 });
  t.pass('tailing paused on the full queue');
  // … then for the outage's length with the queue full. The sleep is the sampling period;
  // no outcome waits on it.
  const end = Date.now() + OUTAGE_MS;
  while (Date.now() < end) {
    await sample();
    await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(sink.uniqueIds, before, 'nothing delivered while down (sanity)');
  t.ok(maxQueue <= 4 * MiB + 512 * 1024, `queue stayed within its bound (${(maxQueue / MiB).toFixed(1)} MiB)`);
  t.ok(
    maxRss - baseline < 64 * MiB,
    `RSS grew by ${((maxRss - baseline) / MiB).toFixed(1)} MiB (baseline ${(baseline / MiB).toFixed(1)} MiB, peak ${(maxRss / MiB).toFixed(1)} MiB)`,
  );

  await sink.up();
  await sink.waitFor(() => sink.uniqueIds >= written, 60_000, `all ${written} records after the outage`);
  t.equal(sink.uniqueIds, written, 'every line delivered');
  await until(async () => (await scrape(port, 'k8s_logs_agent_tail_paused')) === 0, 5000, 'tailing resumed');
  for (const h of handles) await h.close();
  agent.child.kill('SIGTERM');
  t.equal(await agent.exited, 0);
});
