/**
 * Property test of exactly-once *content* across a crash between "stored" and
 * "checkpointed", through the real per-file pipeline: run A reads random content (P/F
 * partials on both streams, stack traces, Python tracebacks, JSON lines) with random read
 * chunking and random timer flushes; at random "sends" the records appended so far are
 * stored (first write wins by id, as OpenSearch `create`) and the replay journal is taken, as
 * the agent writes it before a send; A is killed after one of them. Run B restarts from the
 * committed floor with that journal and *different* timers (sometimes multiline off). Every physical line's token must
 * be stored exactly once. Without the journal, B regroups (a flushed stack-trace header
 * merged with its frames, a timed-out partial joined with its end) and content is lost or
 * doubled.
 */
import t from 'tap';
import { Registry } from 'prom-client';
import { AckTracker } from '../../../agent/batch/ack-tracker.ts';
import type { Batcher } from '../../../agent/batch/batcher.ts';
import { ReplayJournal, type InflightPlan } from '../../../agent/checkpoint/replay-journal.ts';
import { DEFAULT_COLLECTION_CONFIG } from '../../../shared/schemas/collection-config-default.ts';
import { CollectionState } from '../../../agent/filter/collection-state.ts';
import { FilePipeline, type PipelineContext } from '../../../agent/pipeline.ts';
import { AgentEvents } from '../../../agent/telemetry/events.ts';
import { createLogger } from '../../../agent/telemetry/logger.ts';
import { createAgentMetrics } from '../../../agent/telemetry/metrics.ts';

let seed = 4242;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

/** Random CRI content; every physical line's message ends in a unique token `#n;`. */
function content(lines: number): { text: string; tokens: number } {
  let text = '';
  for (let i = 0; i < lines; i++) {
    const stream = rand() < 0.3 ? 'stderr' : 'stdout';
    const tag = rand() < 0.2 ? 'P' : 'F';
    const msg = pick([
      'hello ',
      'java.lang.IllegalStateException: boom ',
      '\tat com.example.Foo.bar(Foo.java:10) ',
      '    at f (x.js:1:1) ',
      'Caused by: java.io.IOException: x ',
      'Traceback (most recent call last): ',
      '  File "x.py", line 1 ',
      'ValueError: v ',
      'plain ',
    ]);
    text += `2026-11-25T12:00:00.${String(i + 1).padStart(9, '0')}Z ${stream} ${tag} ${msg}#${i};\n`;
  }
  return { text, tokens: lines };
}

interface Rec {
  id: number;
  message: string;
  timestamp: string;
}

function mk(
  startOffset: number,
  replay: InflightPlan | undefined,
  out: Rec[],
  clock: { now: number },
  multiline = true,
) {
  const state = new CollectionState();
  if (!multiline) state.setConfig({ ...DEFAULT_COLLECTION_CONFIG, multiline: false });
  const metrics = createAgentMetrics(new Registry(), { processMetrics: false });
  const acks = new AckTracker(() => undefined);
  const batcher = {
    append(record: string) {
      const r = JSON.parse(record) as { id: string; message: string; timestamp: string };
      out.push({ id: parseInt(r.id.split('-')[1]!, 36), message: r.message, timestamp: r.timestamp });
    },
  } as unknown as Batcher;
  const ctx: PipelineContext = {
    cluster: 'c',
    node: 'n',
    format: 'auto',
    maxLineBytes: 1 << 20,
    overflow: 'split',
    partialFlushMs: 40,
    multilineFlushMs: 20,
    multilineMaxLines: 6,
    includeAnnotations: [],
    state,
    batcher,
    acks,
    events: new AgentEvents(createLogger('silent', {}), metrics),
    now: () => clock.now,
    finished: () => undefined,
  };
  return new FilePipeline(ctx, {
    path: '/x/p_ns_c-' + 'a'.repeat(64) + '.log',
    realPath: '/x',
    dev: '1',
    ino: '2',
    fingerprint: 'f',
    startOffset,
    why: startOffset === 0 ? 'new' : 'checkpoint',
    ...(replay !== undefined ? { replay } : {}),
  });
}

/** Feeds `buf[from, to)` in random chunks with random timer flushes (long pauses included). */
function feed(p: FilePipeline, buf: Buffer, from: number, to: number, clock: { now: number }, onChunk?: () => void) {
  let pos = from;
  while (pos < to) {
    const n = 1 + Math.floor(rand() * 400);
    const end = Math.min(to, pos + n);
    p.push(buf.subarray(pos, end), pos);
    pos = end;
    if (rand() < 0.25) {
      clock.now += Math.floor(rand() * 80); // sometimes past both flush timeouts
      p.tick(clock.now);
    }
    onChunk?.();
  }
}

function tokensOf(records: Iterable<Rec>): Map<number, number> {
  const seen = new Map<number, number>();
  for (const r of records)
    for (const m of r.message.matchAll(/#(\d+);/g)) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
  return seen;
}

async function crashRounds(
  t: { same(a: unknown, b: unknown, msg: string): unknown },
  useJournal: boolean,
  rounds: number,
): Promise<number> {
  let failures = 0;
  for (let round = 0; round < rounds; round++) {
    const { text, tokens } = content(200);
    const buf = Buffer.from(text);
    const clockA = { now: 1_000_000 };
    const emittedA: Rec[] = [];
    const a = mk(0, undefined, emittedA, clockA);
    // Sends: store what was appended so far, take the journal (as written before the send);
    // commit a floor taken at an earlier send (its batches are acknowledged by then).
    const stored = new Map<number, Rec>();
    let storedUpTo = 0;
    const floors: number[] = [0];
    let committed = 0;
    let plan: InflightPlan | undefined;
    const killAfter = 1 + Math.floor(rand() * 12);
    let sends = 0;
    const send = (): void => {
      if (sends >= killAfter) return;
      sends++;
      if (rand() < 0.5) committed = Math.max(committed, pick(floors));
      plan = a.inflightPlan(committed);
      for (; storedUpTo < emittedA.length; storedUpTo++) {
        const r = emittedA[storedUpTo]!;
        if (!stored.has(r.id)) stored.set(r.id, r);
      }
      floors.push(a.floor());
    };
    feed(a, buf, 0, buf.length, clockA, () => {
      if (rand() < 0.15) send();
    });
    if (sends < killAfter) send();
    // Run B: restart at the committed floor, other timers (and in a third of the rounds
    // multiline merging switched off by the collection config), then everything flushed.
    const clockB = { now: 5_000_000 };
    const emittedB: Rec[] = [];
    const b = mk(committed, useJournal ? plan : undefined, emittedB, clockB, rand() < 0.67);
    feed(b, buf, committed, buf.length, clockB);
    clockB.now += 1000;
    b.tick(clockB.now);
    clockB.now += 1000;
    b.tick(clockB.now);
    b.end('rotated');
    for (const r of emittedB) if (!stored.has(r.id)) stored.set(r.id, r);
    const seen = tokensOf(stored.values());
    const wrong: string[] = [];
    for (let i = 0; i < tokens; i++) if ((seen.get(i) ?? 0) !== 1) wrong.push(`#${i}×${seen.get(i) ?? 0}`);
    if (wrong.length > 0) failures++;
    if (useJournal) t.same(wrong.slice(0, 8), [], `round ${round}: every line's content stored exactly once`);
  }
  return failures;
}

t.test('a replay with other timers stores every line exactly once (content, first write wins)', async (t) => {
  const failures = await crashRounds(t, true, 150);
  t.equal(failures, 0);
});

t.test('without the journal the same crashes lose or double content (the test can fail)', async (t) => {
  const failures = await crashRounds(t, false, 150);
  t.ok(failures > 10, `${failures} of 150 rounds broke exactly-once content without the journal`);
});

t.test('lines without a runtime timestamp get the same time on a replay of the same bytes', async (t) => {
  const j1 = new ReplayJournal(undefined, 0);
  const a = j1.timestampAt(0, Date.parse('2026-11-25T23:59:59.900Z'));
  const b = j1.timestampAt(50, Date.parse('2026-11-25T23:59:59.950Z'));
  const c = j1.timestampAt(100, Date.parse('2026-11-26T00:00:02.000Z'));
  t.equal(a, '2026-11-25T23:59:59.900Z');
  t.equal(b, a, 'anchors are at most one per second');
  t.equal(c, '2026-11-26T00:00:02.000Z', 'a later read gets a later anchor');
  // Lines up to 130 were handed on (may be stored); nothing is committed yet.
  j1.record(
    {
      offset: 120,
      spanStart: 120,
      end: 130,
      multi: false,
      timestamp: c,
      stream: 'stdout',
      message: 'x',
      anomaly: 'parse_failed',
    },
    false,
  );
  const persisted = j1.plan(0)!;
  // Replay two days later: same bytes, same times; bytes past what was handed on get the new time.
  const j2 = new ReplayJournal(persisted, 0);
  const later = Date.parse('2026-11-28T10:00:00.000Z');
  t.same(
    [j2.timestampAt(0, later), j2.timestampAt(50, later), j2.timestampAt(100, later), j2.timestampAt(120, later)],
    [a, b, c, c],
  );
  t.equal(j2.timestampAt(200, later), '2026-11-28T10:00:00.000Z');
  // Committing past the anchors keeps the last one at or before the commit.
  t.same(new ReplayJournal(persisted, 0).plan(120)?.clock, [100, Date.parse('2026-11-26T00:00:02.000Z')]);
});
