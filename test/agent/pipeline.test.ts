/**
 * Property test of the checkpoint invariant through the real per-file pipeline (decoder,
 * partial joiner, multiline merger, filter, encoder): at every batch seal, every record that
 * starts before the file's snapshotted floor has already been appended to a batch. Random
 * content (P/F partials on both streams, stack traces, JSON lines), random read chunking,
 * random seal points, random timer flushes.
 */
import t from 'tap';
import { AckTracker } from '../../agent/batch/ack-tracker.ts';
import type { Batcher } from '../../agent/batch/batcher.ts';
import { CollectionState } from '../../agent/filter/collection-state.ts';
import { FilePipeline, type PipelineContext } from '../../agent/pipeline.ts';
import { AgentEvents } from '../../agent/telemetry/events.ts';
import { createLogger } from '../../agent/telemetry/logger.ts';
import { createAgentMetrics } from '../../agent/telemetry/metrics.ts';
import { Registry } from 'prom-client';

let seed = 7;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

function content(lines: number): { text: string; starts: number[] } {
  let text = '';
  const starts: number[] = [];
  const pending = { stdout: -1, stderr: -1 };
  let ts = 0;
  for (let i = 0; i < lines; i++) {
    const stream = rand() < 0.3 ? 'stderr' : 'stdout';
    const tag = rand() < 0.25 ? 'P' : 'F';
    const msg = pick([
      'hello',
      '{"level":"info","a":1}',
      'Error: boom',
      '    at f (x.js:1:1)',
      '\tat a.B(B.java:1)',
      'Traceback (most recent call last):',
      '  File "x"',
      'ValueError: v',
      '',
      'x'.repeat(Math.floor(rand() * 300)),
    ]);
    const line = `2026-11-25T12:00:00.${String(++ts).padStart(9, '0')}Z ${stream} ${tag} ${msg}\n`;
    const offset = Buffer.byteLength(text);
    if (pending[stream] < 0) pending[stream] = offset;
    if (tag === 'F') {
      starts.push(pending[stream]);
      pending[stream] = -1;
    }
    text += line;
  }
  return { text, starts };
}

t.test('a snapshotted floor never passes a record that is not yet batched', async (t) => {
  for (let round = 0; round < 60; round++) {
    const { text } = content(300);
    const buf = Buffer.from(text);
    const metrics = createAgentMetrics(new Registry(), { processMetrics: false });
    const events = new AgentEvents(createLogger('silent', {}), metrics);
    const batched: number[] = [];
    const snapshots: Array<{ floor: number; count: number }> = [];
    const acks = new AckTracker(() => undefined);
    const snap = (): void => {
      const entry = acks.snapshot();
      acks.settle(entry);
      for (const off of entry.offsets) snapshots.push({ floor: off, count: batched.length });
    };
    let now = 1_000_000;
    const batcher = {
      append(record: string) {
        batched.push(parseInt(/^\{"id":"[0-9a-f]+-([0-9a-z]+)"/.exec(record)![1]!, 36));
        if (rand() < 0.3) snap(); // a seal in the middle of a chunk
      },
    } as unknown as Batcher;
    const ctx: PipelineContext = {
      cluster: 'c',
      node: 'n',
      format: 'auto',
      maxLineBytes: 1 << 20,
      overflow: 'split',
      partialFlushMs: 50,
      multilineFlushMs: 20,
      multilineMaxLines: 5,
      includeAnnotations: [],
      state: new CollectionState(),
      batcher,
      acks,
      events,
      now: () => now,
      finished: () => undefined,
    };
    const file = new FilePipeline(ctx, {
      path: '/x/p_ns_c-' + 'a'.repeat(64) + '.log',
      realPath: '/x',
      dev: '1',
      ino: '2',
      fingerprint: 'f',
      startOffset: 0,
      why: 'new',
    });
    let pos = 0;
    while (pos < buf.length) {
      const n = 1 + Math.floor(rand() * 700);
      file.push(buf.subarray(pos, Math.min(buf.length, pos + n)), pos);
      pos += n;
      if (rand() < 0.2) {
        now += Math.floor(rand() * 60);
        file.tick(now);
      }
      if (rand() < 0.3) snap();
    }
    now += 1000;
    file.tick(now); // partial timeouts (the flushed partial may start a multiline group)
    now += 1000;
    file.tick(now); // multiline idle timeout
    acks.touch(file);
    snap();
    t.equal(snapshots.at(-1)!.floor, buf.length, `round ${round}: everything committed at the end`);
    const violations: string[] = [];
    for (const { floor, count } of snapshots) {
      const before = new Set(batched.slice(0, count));
      for (const s of batched)
        if (s < floor && !before.has(s)) violations.push(`floor ${floor} passed record ${s} batched later`);
    }
    t.same(violations.slice(0, 5), [], `round ${round}`);
  }
});

t.test('restart from any committed floor rebuilds exactly the records of an uninterrupted run', async (t) => {
  const mk = (startOffset: number, emitted: number[], onAppend?: () => void) => {
    const metrics = createAgentMetrics(new Registry(), { processMetrics: false });
    const acks = new AckTracker(() => undefined);
    const batcher = {
      append(record: string) {
        emitted.push(parseInt(/^\{"id":"[0-9a-f]+-([0-9a-z]+)"/.exec(record)![1]!, 36));
        onAppend?.();
      },
    } as unknown as Batcher;
    const ctx: PipelineContext = {
      cluster: 'c',
      node: 'n',
      format: 'auto',
      maxLineBytes: 200,
      overflow: 'split',
      partialFlushMs: 1e12,
      multilineFlushMs: 1e12,
      multilineMaxLines: 4,
      includeAnnotations: [],
      state: new CollectionState(),
      batcher,
      acks,
      events: new AgentEvents(createLogger('silent', {}), metrics),
      now: () => 0,
      finished: () => undefined,
    };
    const p = new FilePipeline(ctx, {
      path: '/x/p_ns_c-' + 'a'.repeat(64) + '.log',
      realPath: '/x',
      dev: '1',
      ino: '2',
      fingerprint: 'f',
      startOffset,
      why: 'new',
    });
    return { p, acks };
  };
  const feed = (p: FilePipeline, buf: Buffer, from: number) => {
    let pos = from;
    while (pos < buf.length) {
      const n = 1 + Math.floor(rand() * 500);
      p.push(buf.subarray(pos, Math.min(buf.length, pos + n)), pos);
      pos += n;
    }
    p.end('rotated');
  };
  for (let round = 0; round < 80; round++) {
    const { text } = content(250);
    const buf = Buffer.from(text);
    const clean: number[] = [];
    feed(mk(0, clean).p, buf, 0);
    // Run A, "killed" at a random seal: what was emitted before it, and the floor committed.
    const before: number[] = [];
    const target = Math.floor(rand() * clean.length);
    let floor = -1;
    let emittedAtFloor = 0;
    const a = mk(0, before, () => {
      if (floor < 0 && before.length >= target) {
        floor = a.p.floor();
        emittedAtFloor = before.length;
      }
    });
    feed(a.p, buf, 0);
    if (floor < 0) continue;
    const afterRestart: number[] = [];
    feed(mk(floor, afterRestart).p, buf, floor);
    const delivered = new Set([...before.slice(0, emittedAtFloor), ...afterRestart]);
    const cleanSet = new Set(clean);
    t.same(
      [...cleanSet].filter((id) => !delivered.has(id)),
      [],
      `round ${round}: nothing lost (floor ${floor})`,
    );
    const extra = [...delivered].filter((id) => !cleanSet.has(id));
    t.same(extra, [], `round ${round}: no id that an uninterrupted run would not produce`);
    if (extra.length > 0 && process.env['DEBUG_PIPE']) {
      const lo = Math.min(floor, ...extra) - 300;
      const hi = Math.max(floor, ...extra) + 200;
      let o = 0;
      for (const l of text.split('\n')) {
        if (o >= lo && o <= hi)
          t.comment(
            `${o}${o === floor ? ' <FLOOR' : ''}${extra.includes(o) ? ' <EXTRA' : ''}${clean.includes(o) ? ' [rec]' : ''}${afterRestart.includes(o) ? ' [B]' : ''}${before.slice(0, emittedAtFloor).includes(o) ? ' [A]' : ''}: ${l.slice(31, 100)}`,
          );
        o += Buffer.byteLength(l) + 1;
      }
    }
  }
});
