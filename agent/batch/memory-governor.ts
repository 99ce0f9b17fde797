/**
 * Returns dropped request bodies to the OS promptly. A batch body (the gzip output, ~150 KiB
 * per MiB of NDJSON) lives from compression to acknowledgement, long enough for V8 to
 * promote its Buffer object to the old generation; its backing store is then freed only by
 * a major GC, and V8 lets external memory grow by 64 MiB before it schedules one. In
 * bench/agent/throughput.bench.ts that garbage was 35-50 MiB of the agent's peak RSS. The
 * governor counts the body bytes the agent has let go of and asks for a major GC every
 * `everyBytes` (a few ms on the agent's ~10 MiB heap, a few times per 100 MB of logs).
 *
 * `gc` comes from V8's --expose-gc switched on at run time; where that is unavailable the
 * governor does nothing (memory is then reclaimed on V8's own schedule).
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

function exposeGc(): (() => void) | null {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

export class MemoryGovernor {
  private readonly everyBytes: number;
  private readonly gc: (() => void) | null;
  private released = 0;
  /** Major GCs requested (tests, metrics). */
  collections = 0;

  constructor(everyBytes: number, gc: (() => void) | null = exposeGc()) {
    this.everyBytes = everyBytes;
    this.gc = gc;
  }

  /** `bytes` of Buffers became garbage. */
  dropped(bytes: number): void {
    this.released += bytes;
    if (this.released >= this.everyBytes && this.gc !== null) {
      this.released = 0;
      this.collections++;
      this.gc();
    }
  }
}
