/**
 * The services of a chaos run, each one that can be killed and brought back:
 *
 * - an OpenSearch of its own (dev/opensearch), on a data dir in the run's work dir, so it
 *   can be stopped and restarted on the same data and port (never the shared one);
 * - the aggregator (`aggregator/server.ts`) and the agent (`agent/main.ts`) as child
 *   processes of the Node running this file, on fixed ports chosen once, so a restarted
 *   aggregator is found again by the agent and a restarted agent's metrics by us.
 *
 * Output of the children is appended to `<work>/aggregator.log` and `<work>/agent.log`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOpenSearch, type RunningOpenSearch } from '../../dev/opensearch/opensearch-process.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Polls `url` until it answers 2xx or the deadline passes. */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  what: string,
  alive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`${what} exited while starting`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not answer ${url} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A Node child process that can be SIGKILLed and started again with the same settings. */
export class NodeService {
  readonly name: string;
  starts = 0;
  kills = 0;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly args: string[];
  private readonly env: Record<string, string>;
  private readonly logFile: string;
  private readonly readyUrl: string;

  constructor(o: { name: string; args: string[]; env: Record<string, string>; logFile: string; readyUrl: string }) {
    this.name = o.name;
    this.args = o.args;
    this.env = o.env;
    this.logFile = o.logFile;
    this.readyUrl = o.readyUrl;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the process and resolves once `readyUrl` answers. */
  async start(): Promise<void> {
    if (this.running) return;
    const fd = openSync(this.logFile, 'a');
    try {
      const child = spawn(process.execPath, this.args, {
        cwd: ROOT,
        env: { PATH: process.env['PATH'] ?? '', ...this.env },
        stdio: ['ignore', fd, fd],
      });
      this.child = child;
      this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    } finally {
      closeSync(fd);
    }
    this.starts++;
    await waitForHttp(this.readyUrl, 60_000, this.name, () => this.running);
  }

  /** SIGKILL (no drain, no final checkpoint) and wait until the process is gone. */
  async kill(): Promise<void> {
    if (this.child === null) return;
    if (this.running) {
      this.child.kill('SIGKILL');
      this.kills++;
    }
    await this.exited;
    this.child = null;
  }

  /** SIGTERM (drain) with a deadline, then SIGKILL. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.child === null) return;
    if (this.running) this.child.kill('SIGTERM');
    const gone = await Promise.race([this.exited.then(() => true), sleep(timeoutMs, false)]);
    if (!gone) this.child.kill('SIGKILL');
    await this.exited;
    this.child = null;
  }
}

/** The run's own OpenSearch: stop() and start() again on the same data dir and port. */
export class OwnOpenSearch {
  private node: RunningOpenSearch | null = null;
  private port = 0;
  readonly dataDir: string;
  private readonly heapMb: number;
  private readonly log: (msg: string) => void;
  stops = 0;

  constructor(dataDir: string, heapMb: number, log: (msg: string) => void) {
    this.dataDir = dataDir;
    this.heapMb = heapMb;
    this.log = log;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.node) return;
    this.node = await startOpenSearch({
      dataDir: this.dataDir,
      heapMb: this.heapMb,
      clusterName: 'k8s-logs-chaos',
      log: this.log,
      startTimeoutMs: 300_000,
      ...(this.port ? { port: this.port } : {}),
    });
    this.port = this.node.port;
  }

  async stop(): Promise<void> {
    if (!this.node) return;
    const node = this.node;
    this.node = null;
    this.stops++;
    await node.stop();
  }
}
