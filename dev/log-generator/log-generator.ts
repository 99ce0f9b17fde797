/**
 * Writes CRI log files for the demo pods into a node's /var/log/containers directory (and
 * mirrors each line into the fake API server's pods/log), at a steady rate, until stopped.
 * Appends only: the agent sees what a node's kubelet would produce.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { DemoPod } from '../fake-cluster/demo-cluster.ts';
import { containerLogFileName } from '../fake-cluster/demo-cluster.ts';
import { nextOutput, runtimeTimestamp, toCriLines } from './log-lines.ts';

export interface LogGeneratorOptions {
  /** The node's container log directory (files are written here directly). */
  dir: string;
  pods: readonly DemoPod[];
  /** Events per second across all containers. Default 20. */
  eventsPerSecond?: number;
  /** Also feed the fake API server's pods/log, for collect jobs. */
  mirror?: (pod: DemoPod, container: string, line: string, time: string) => void;
}

function styleOf(image: string): 'json' | 'plain' | 'nginx' | 'postgres' {
  if (image.includes('nginx')) return 'nginx';
  if (image.includes('postgres')) return 'postgres';
  if (image.includes('settlement') || image.includes('node-exporter')) return 'plain';
  return 'json';
}

export async function startLogGenerator(opts: LogGeneratorOptions): Promise<{ stop(): Promise<void> }> {
  await mkdir(opts.dir, { recursive: true });
  const targets = opts.pods.flatMap((pod) =>
    pod.containers.map((c) => ({ pod, container: c, file: path.join(opts.dir, containerLogFileName(pod, c)), style: styleOf(c.image) })),
  );
  const perTickMs = 250;
  const eventsPerTick = Math.max(1, Math.round(((opts.eventsPerSecond ?? 20) * perTickMs) / 1000));
  let stopped = false;
  let nanoCounter = 0;
  const tick = async () => {
    const writes = new Map<string, string>();
    for (let i = 0; i < eventsPerTick; i++) {
      const t = targets[Math.floor(Math.random() * targets.length)]!;
      const now = Date.now();
      for (const line of nextOutput(t.style, Math.random, new Date(now))) {
        const ts = runtimeTimestamp(now, (nanoCounter = (nanoCounter + 1) % 1_000_000));
        writes.set(t.file, (writes.get(t.file) ?? '') + toCriLines(line, ts));
        opts.mirror?.(t.pod, t.container.name, line.text, ts);
      }
    }
    await Promise.all([...writes].map(([file, text]) => appendFile(file, text)));
  };
  let running = Promise.resolve();
  const timer = setInterval(() => {
    if (!stopped) running = running.then(tick).catch(() => {});
  }, perTickMs);
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
