/**
 * SIGKILL of the agent process at random moments while writers append (with partial lines
 * and a rename rotation), then restart: every written line arrives, no line arrives under
 * a second id, nothing is invented. Resends of the same id are allowed (the aggregator
 * stores them once); the sink counts unique ids.
 */
import t from 'tap';
import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { childAgentEnv, containerLogName, cri, idsAt, keyFor, lineOffsets, spawnAgent, startSink, tempDir } from './helpers.ts';

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

t.test('SIGKILL at random moments, then restart: no line lost, none under a second id', async (t) => {
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
        } else {
          chunk += cri(`round ${round} file ${f} line ${n} ${'x'.repeat(n % 120)}`);
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
