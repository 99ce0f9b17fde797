/**
 * SIGKILL of the agent process at random moments while writers append (with partial lines
 * and a rename rotation), then restart: every written line arrives, no line arrives under
 * a second id, nothing is invented. Resends of the same id are allowed: the sink, like the
 * aggregator's `create`, keeps the first write of an id, and the stored *content* is
 * compared with what was written (each line exactly once).
 */
import t from 'tap';
import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  append,
  childAgentEnv,
  containerLogName,
  cri,
  idsAt,
  keyFor,
  lineOffsets,
  spawnAgent,
  startSink,
  tempDir,
  until,
} from './helpers.ts';

// Deterministic "random" moments (seeded LCG), so a failure can be reproduced.
let seed = 20261125;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

interface Gen {
  dev: bigint;
  ino: bigint;
  text: string;
}

t.test('SIGKILL at random moments, then restart: every line stored exactly once, none under a second id', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t, { keepRecords: true });
  const env = {
    ...childAgentEnv(dir, logs, sink),
    K8S_LOGS_AGENT_MAX_BATCH_RECORDS: '97',
    K8S_LOGS_AGENT_MAX_BATCH_AGE_MS: '30',
    K8S_LOGS_AGENT_CHECKPOINT_INTERVAL_MS: '20',
    K8S_LOGS_AGENT_POLL_INTERVAL_MS: '20',
    K8S_LOGS_AGENT_ROTATE_WAIT_MS: '200',
    K8S_LOGS_AGENT_LOG_LEVEL: 'info', // the file lifecycle is printed when the test fails
  };

  // Writers: three containers; one of them is rotated by rename half-way.
  const files = ['a', 'b', 'c'].map((p) => join(logs, containerLogName(p, 'ns', 'app')));
  const gens: Gen[][] = [[], [], []];
  const handles: FileHandle[] = [];
  for (let i = 0; i < files.length; i++) {
    const fh = await open(files[i]!, 'a');
    const st = await fh.stat({ bigint: true });
    handles.push(fh);
    gens[i]!.push({ dev: st.dev, ino: st.ino, text: '' });
  }
  let written = 0;
  /** The content of every record written (a P+F pair joined), each to be stored once. */
  const contents: string[] = [];
  const TOTAL_ROUNDS = 60;
  let rotated = false;
  const writeRound = async (round: number): Promise<void> => {
    for (let f = 0; f < files.length; f++) {
      let chunk = '';
      for (let i = 0; i < 50; i++) {
        const n = written++;
        if (n % 9 === 0) {
          // A partial line: P then F; interleaved with the other stream.
          chunk += cri(`part-${n}-`, { tag: 'P' }) + cri(`err ${n}`, { stream: 'stderr' }) + cri(`end-${n}`);
          written++; // the stderr line is a record of its own
          contents.push(`part-${n}-end-${n}`, `err ${n}`);
        } else {
          const msg = `round ${round} file ${f} line ${n} ${'x'.repeat(n % 120)}`;
          chunk += cri(msg);
          contents.push(msg);
        }
      }
      await handles[f]!.write(chunk);
      gens[f]!.at(-1)!.text += chunk;
    }
    if (!rotated && round >= TOTAL_ROUNDS / 3 && seenA()) {
      rotated = true;
      await rename(files[0]!, `${files[0]}.1`);
      await handles[0]!.close();
      handles[0] = await open(files[0]!, 'a');
      const st = await handles[0].stat({ bigint: true });
      gens[0]!.push({ dev: st.dev, ino: st.ino, text: '' });
    }
  };

  let round = 0;
  const logsOut: string[] = [];
  // Rotate only once an agent has read from file a (a file rotated away before any agent
  // ever saw it is out of reach by design: rotated names are not under the log path).
  const firstA = gens[0]![0]!;
  const seenA = (): boolean =>
    firstA.text !== '' &&
    sink.idCounts.has(`${keyFor(firstA.dev, firstA.ino, firstA.text.slice(0, firstA.text.indexOf('\n') + 1))}-0`);
  for (let kill = 0; kill < 6; kill++) {
    const agent = spawnAgent(env);
    t.teardown(() => agent.child.kill('SIGKILL'));
    await agent.metricsPort();
    // Keep writing while the agent works; kill it after a random amount of progress.
    const target = sink.received + 200 + Math.floor(rand() * 1500);
    while (sink.received < target && round < TOTAL_ROUNDS) {
      await writeRound(round++);
      // A writer's irregular cadence (pacing, not synchronisation: the kill waits on `target`).
      await new Promise((r) => setTimeout(r, 5 + Math.floor(rand() * 20)));
    }
    await sink.waitFor(() => sink.received >= target || round >= TOTAL_ROUNDS, 20_000, 'progress before the kill');
    agent.child.kill('SIGKILL');
    await agent.exited;
    logsOut.push(agent.stdout());
  }
  while (round < TOTAL_ROUNDS) await writeRound(round++);
  for (const h of handles) await h.close();

  const final = spawnAgent(env);
  t.teardown(() => final.child.kill('SIGKILL'));
  await sink
    .waitFor(() => sink.uniqueIds >= written, 20_000, `${written} unique ids`)
    .catch((e: unknown) => t.comment(String(e)));
  final.child.kill('SIGTERM');
  t.equal(await final.exited, 0);

  const expected = new Set<string>();
  for (const fileGens of gens) {
    for (const g of fileGens) {
      if (g.text === '') continue;
      const key = keyFor(g.dev, g.ino, g.text.slice(0, g.text.indexOf('\n') + 1));
      // Record ids: every line start except F pieces that completed a P (joined records).
      const starts = lineOffsets(g.text);
      const lines = g.text.split('\n');
      const recordStarts: number[] = [];
      let pendingP = false;
      for (let i = 0; i < starts.length; i++) {
        const l = lines[i]!;
        const isStdout = l.includes(' stdout ');
        if (isStdout && pendingP && l.includes(' stdout F ')) {
          pendingP = false;
          continue;
        }
        if (isStdout && l.includes(' stdout P ')) pendingP = true;
        recordStarts.push(starts[i]!);
      }
      for (const id of idsAt(key, recordStarts)) expected.add(id);
    }
  }
  t.equal(expected.size, written, 'expected ids cover every written record');
  t.equal(sink.uniqueIds, written, 'unique ids received = records written (no loss, no extra ids)');
  const missing = [...expected].filter((id) => !sink.idCounts.has(id));
  t.same(missing.slice(0, 20), [], 'no expected id missing');
  // The sink keeps the first write of each id (as `create` does): check what it holds.
  const report = sink.contentReport(contents);
  t.same(
    {
      missing: report.missing.slice(0, 10),
      doubled: report.doubled.slice(0, 10),
      unexpected: report.unexpected.slice(0, 10),
    },
    { missing: [], doubled: [], unexpected: [] },
    "every written line's content stored exactly once",
  );
  if (missing.length > 0 || sink.uniqueIds !== written) {
    t.comment(
      `missing ${missing.length}; extra ${[...sink.idCounts.keys()]
        .filter((id) => !expected.has(id))
        .slice(0, 10)
        .join(' ')}`,
    );
    const extra = [...sink.idCounts.keys()].filter((id) => !expected.has(id)).slice(0, 3);
    for (const id of extra) {
      const [k, o] = id.split('-') as [string, string];
      const off = parseInt(o, 36);
      for (const fileGens of gens)
        for (const g of fileGens)
          if (g.text && keyFor(g.dev, g.ino, g.text.slice(0, g.text.indexOf('\n') + 1)) === k)
            t.comment(`extra ${id} @${off}: ${JSON.stringify(g.text.slice(off - 120, off + 100))}`);
      for (const r of sink.records) {
        const [rk, ro] = r.id.split('-') as [string, string];
        if (rk === k && Math.abs(parseInt(ro, 36) - off) < 200)
          t.comment(`  near: ${parseInt(ro, 36)} ${r.stream} ${JSON.stringify(r.message.slice(0, 60))}`);
      }
    }
    for (const fileGens of gens)
      for (const g of fileGens)
        if (g.text)
          t.comment(
            `gen key ${keyFor(g.dev, g.ino, g.text.slice(0, g.text.indexOf('\n') + 1))} size ${Buffer.byteLength(g.text)}`,
          );
    logsOut.push(final.stdout());
    for (const [i, l] of logsOut.entries())
      t.comment(
        `=== agent run ${i}\n${l
          .split('\n')
          .filter((x) => /tailing|closed|rotation|draining/.test(x))
          .join('\n')}`,
      );
  }
  t.comment(`records ${written}, deliveries ${sink.received}, resent after kills ${sink.received - sink.uniqueIds}`);
});

/** The agent child's `k8s_logs_agent_read_lines_total`. */
async function linesRead(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const m = /^k8s_logs_agent_read_lines_total (\d+)/m.exec(await res.text());
  return m === null ? 0 : Number(m[1]);
}

t.test(
  'stack trace continued after the multiline flush, SIGKILL before the ack: every line stored exactly once',
  async (t) => {
    const dir = await tempDir(t);
    const logs = join(dir, 'logs');
    await mkdir(logs);
    const sink = await startSink(t, { keepRecords: true });
    const env = {
      ...childAgentEnv(dir, logs, sink),
      K8S_LOGS_AGENT_MAX_BATCH_AGE_MS: '20',
      K8S_LOGS_AGENT_MULTILINE_FLUSH_MS: '150',
      K8S_LOGS_AGENT_CHECKPOINT_INTERVAL_MS: '20',
      K8S_LOGS_AGENT_POLL_INTERVAL_MS: '20',
      K8S_LOGS_AGENT_RESCAN_INTERVAL_MS: '200',
      // One request at a time: the held first part keeps everything after it unsent.
      K8S_LOGS_AGENT_MAX_IN_FLIGHT_REQUESTS: '1',
    };
    const file = join(logs, containerLogName('java', 'ns', 'app'));
    const header = 'java.lang.IllegalStateException: boom';
    const frames = [
      '\tat com.example.Service.handle(Service.java:42)',
      '\tat com.example.Server.dispatch(Server.java:7)',
      'Caused by: java.io.IOException: connection reset',
      '\tat com.example.Client.read(Client.java:99)',
      '\t... 12 more',
    ];
    const written = ['service starting', header, ...frames, 'request served'];

    await append(file, cri('service starting'));
    const first = spawnAgent(env);
    t.teardown(() => first.child.kill('SIGKILL'));
    const port = await first.metricsPort();
    await sink.waitFor(() => sink.records.some((r) => r.message === 'service starting'), 10_000, 'first line acked');
    // From now on the sink stores each batch and never answers it.
    sink.hold();
    await append(file, cri(header));
    // The header alone is a record once the multiline flush timeout passed: sent, stored.
    await sink.waitFor(() => sink.records.some((r) => r.message === header), 10_000, 'header stored');
    await append(file, frames.map((f) => cri(f)).join('') + cri('request served'));
    await until(async () => (await linesRead(port)) >= written.length, 10_000, 'continuation read by the agent');
    first.child.kill('SIGKILL');
    await first.exited;
    sink.release();

    const second = spawnAgent(env);
    t.teardown(() => second.child.kill('SIGKILL'));
    await second.metricsPort();
    const done = (): boolean => {
      const r = sink.contentReport(written);
      return r.missing.length === 0 && r.doubled.length === 0 && r.unexpected.length === 0;
    };
    await sink.waitFor(done, 15_000, 'every line stored').catch((e: unknown) => t.comment(String(e)));
    second.child.kill('SIGTERM');
    t.equal(await second.exited, 0);
    const report = sink.contentReport(written);
    t.same(report, { missing: [], doubled: [], unexpected: [] }, 'every line stored exactly once');
    if (!done()) for (const r of sink.records) t.comment(`stored ${r.id}: ${JSON.stringify(r.message)}`);
  },
);
