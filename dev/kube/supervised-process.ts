// A child process (etcd, kube-apiserver) that cannot outlive its parent: it runs under a
// small `sh` wrapper that waits on its stdin pipe, so when the Node process ends for any
// reason (crash, SIGKILL, Ctrl-C) the pipe closes and the wrapper terminates the child.
// Node cannot ask the kernel for a parent-death signal itself, and leaked API servers on a
// shared test machine cost ~300 MB each.
//
// Ownership: one SupervisedProcess per spawn; stop() is idempotent and resolves once the
// child is gone. Output (stdout and stderr) is appended to `logFile`.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../process-alive.ts';

// $1 = log file, $2 = seconds between SIGTERM and SIGKILL, the rest = the command. Prints
// the child's pid, then waits for stdin to close (the parent is gone, or stop()) and
// terminates the child. The SIGKILL matters when the parent died: etcd gets its SIGTERM at
// the same moment, and a kube-apiserver whose etcd is gone never finishes shutting down.
const WRAPPER = `log="$1"; grace="$2"; shift 2
"$@" >>"$log" 2>&1 </dev/null &
child=$!
echo "$child"
read -r _ || true
kill -TERM "$child" 2>/dev/null
( sleep "$grace"; kill -KILL "$child" 2>/dev/null ) &
wait "$child"
`;

/** Seconds the wrapper waits after SIGTERM before SIGKILL. */
const WRAPPER_GRACE_SECONDS = 10;

const LOG_TAIL_BYTES = 4_000;

export interface SupervisedProcess {
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the wrapper has exited (after stop(), or when it could not start the child). */
  readonly exited: Promise<void>;
  /** Whether the child is still running. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10 000). Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export async function startSupervised(
  command: string,
  args: readonly string[],
  logFile: string,
): Promise<SupervisedProcess> {
  const wrapper: ChildProcess = spawn(
    'sh',
    ['-c', WRAPPER, 'supervise', logFile, String(WRAPPER_GRACE_SECONDS), command, ...args],
    {
      // The wrapper's own stderr would only say "Terminated" about the child it stops.
      stdio: ['pipe', 'pipe', 'ignore'],
    },
  );
  const pid = await new Promise<number>((resolve, reject) => {
    let text = '';
    wrapper.once('error', reject);
    wrapper.once('exit', () => reject(new Error(`${command}: wrapper exited before starting it`)));
    wrapper.stdout?.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      const line = text.split('\n')[0];
      if (text.includes('\n') && line) resolve(Number.parseInt(line, 10));
    });
  });
  wrapper.stdout?.resume();
  const exited = new Promise<void>((resolve) => {
    if (wrapper.exitCode !== null || wrapper.signalCode !== null) resolve();
    else wrapper.once('exit', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  return {
    pid,
    logFile,
    exited,
    running: () => wrapper.exitCode === null && wrapper.signalCode === null && isRunning(pid),
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        wrapper.stdin?.end(); // the wrapper sends SIGTERM and waits
        const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
        if (!done) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
          await Promise.race([exited, once(wrapper, 'exit')]);
        }
      })();
      return stopping;
    },
  };
}

/** Alive and not a zombie (a child that exited on its own stays one until stop() reaps it). */
function isRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The end of a process log, for error messages. */
export async function logTail(path: string, bytes = LOG_TAIL_BYTES): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.length <= bytes ? text : `…${text.slice(-bytes)}`;
  } catch {
    return '(no log output)';
  }
}
