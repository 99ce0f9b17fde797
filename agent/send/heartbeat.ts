/**
 * Periodic heartbeat to the aggregator (`POST /v1/ingest/heartbeat`, HeartbeatSchema): node,
 * agent version, files watched, bytes behind, last acknowledgement, and discards/rejections
 * by reason since the agent started (totals, not deltas: a lost heartbeat loses nothing).
 * Best effort: a failed heartbeat is counted and logged, never retried (the next one
 * carries fresher numbers).
 * Runs on the control-plane connection, so it is not stuck behind ingest batches.
 */
import type { Dispatcher } from 'undici';
import { request } from './undici-pool.ts';
import type { Heartbeat } from '../../shared/schemas/ingest.ts';
import { INGEST_HEARTBEAT_PATH } from '../../shared/schemas/ingest-paths.ts';
import type { AgentEvents } from '../telemetry/events.ts';

export interface HeartbeatOptions {
  aggregatorUrl: string;
  token: string;
  intervalMs: number;
  requestTimeoutMs: number;
}

export type HeartbeatSnapshot = Omit<Heartbeat, 'sent_at'>;

export class HeartbeatSender {
  private timer: NodeJS.Timeout | null = null;
  private readonly path: string;
  private readonly opts: HeartbeatOptions;
  private readonly client: Dispatcher;
  private readonly snapshot: () => HeartbeatSnapshot;
  private readonly events: AgentEvents;

  constructor(opts: HeartbeatOptions, client: Dispatcher, snapshot: () => HeartbeatSnapshot, events: AgentEvents) {
    this.opts = opts;
    this.client = client;
    this.snapshot = snapshot;
    this.events = events;
    this.path = new URL(opts.aggregatorUrl).pathname.replace(/\/+$/, '') + INGEST_HEARTBEAT_PATH;
  }

  start(): void {
    if (this.opts.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.send(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }

  async send(): Promise<void> {
    const hb: Heartbeat = { ...this.snapshot(), sent_at: new Date().toISOString() };
    try {
      const res = await request(this.client, {
        path: this.path,
        method: 'POST',
        headers: { authorization: `Bearer ${this.opts.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(hb),
        headersTimeout: this.opts.requestTimeoutMs,
        bodyTimeout: this.opts.requestTimeoutMs,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) this.events.heartbeat('ok');
      else this.events.heartbeat('failed', { status: res.statusCode });
    } catch (err) {
      this.events.heartbeat('failed', { err: (err as Error).message });
    }
  }
}
