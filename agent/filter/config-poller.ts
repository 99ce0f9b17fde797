/**
 * Collection config from the aggregator: `GET {aggregatorUrl}/v1/ingest/config` with
 * `If-None-Match` every `configPollIntervalMs` (so a change applies within one interval plus
 * a request). 200 → validate against CollectionConfigSchema and apply; 304 → unchanged;
 * 404 → the cluster has no config yet, use the default; anything else, or an invalid body →
 * keep the last config and retry next interval.
 *
 * The last applied config is saved to `<dataDir>/collection-config.json` (atomic write) and
 * loaded at start, so an agent restarted while the aggregator is unreachable keeps obeying
 * the last known config instead of collecting everything.
 *
 * Concurrency: one poll at a time (timer re-armed after each poll).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { request } from '../send/undici-pool.ts';
import type { CollectionConfig } from '../../shared/schemas/collection-config.ts';
import { DEFAULT_COLLECTION_CONFIG } from '../../shared/schemas/collection-config-default.ts';
import { INGEST_CONFIG_PATH } from '../../shared/schemas/ingest-paths.ts';
import { collectionConfigProblems, isCollectionConfig } from './collection-config-check.ts';
import { writeAtomic } from '../checkpoint/checkpoint-store.ts';
import type { AgentEvents } from '../telemetry/events.ts';
import type { CollectionState } from './collection-state.ts';

export interface ConfigPollerOptions {
  aggregatorUrl: string;
  token: string;
  intervalMs: number;
  requestTimeoutMs: number;
  dataDir: string;
}

export class ConfigPoller {
  private etag: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly opts: ConfigPollerOptions;
  private readonly client: Dispatcher;
  private readonly state: CollectionState;
  private readonly events: AgentEvents;
  private readonly path: string;
  private readonly file: string;
  private current = JSON.stringify(DEFAULT_COLLECTION_CONFIG);
  private saving: Promise<void> = Promise.resolve();

  constructor(opts: ConfigPollerOptions, client: Dispatcher, state: CollectionState, events: AgentEvents) {
    this.opts = opts;
    this.client = client;
    this.state = state;
    this.events = events;
    this.path = new URL(opts.aggregatorUrl).pathname.replace(/\/+$/, '') + INGEST_CONFIG_PATH;
    this.file = join(opts.dataDir, 'collection-config.json');
  }

  /** Loads the saved config, then tries one poll (bounded by the request timeout). */
  async start(firstPollTimeoutMs: number): Promise<void> {
    try {
      const saved = JSON.parse(await readFile(this.file, 'utf8')) as { etag?: string | null; config?: unknown };
      if (isCollectionConfig(saved.config)) {
        this.apply(saved.config, saved.etag ?? null, false);
      }
    } catch {
      // No saved config (first start) or unreadable: the default applies until a poll succeeds.
    }
    await this.poll(firstPollTimeoutMs);
    this.schedule();
  }

  /** Stops polling; waits for a config save in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.saving;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll(this.opts.requestTimeoutMs).finally(() => this.schedule());
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** One conditional GET. Never throws. */
  async poll(timeoutMs: number): Promise<void> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.opts.token}`, accept: 'application/json' };
    if (this.etag !== null) headers['if-none-match'] = this.etag;
    try {
      const res = await request(this.client, {
        path: this.path,
        method: 'GET',
        headers,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.body.text();
      if (res.statusCode === 304) {
        this.events.configPolled('unchanged');
        return;
      }
      if (res.statusCode === 404) {
        this.apply(DEFAULT_COLLECTION_CONFIG, null, true);
        return;
      }
      if (res.statusCode !== 200) {
        this.events.configPolled('failed', { status: res.statusCode, body: text.slice(0, 256) });
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        this.events.configPolled('failed', { status: 200, err: 'body is not JSON' });
        return;
      }
      const problems = collectionConfigProblems(body);
      if (problems.length > 0) {
        const errors = problems.slice(0, 3);
        this.events.configPolled('failed', { status: 200, err: 'invalid collection config', errors });
        return;
      }
      const etag = res.headers['etag'];
      this.apply(body as CollectionConfig, typeof etag === 'string' ? etag : null, true);
    } catch (err) {
      this.events.configPolled('failed', { err: (err as Error).message });
    }
  }

  private apply(config: CollectionConfig, etag: string | null, save: boolean): void {
    this.etag = etag;
    const text = JSON.stringify(config);
    if (text === this.current) {
      this.events.configPolled('unchanged');
      return;
    }
    this.current = text;
    this.state.setConfig(config);
    this.events.configPolled('changed', { etag, enabled: config.enabled });
    if (save) {
      const body = JSON.stringify({ etag, config });
      this.saving = this.saving
        .then(() => writeAtomic(this.file, body))
        .catch((err: unknown) => this.events.log.warn({ err: String(err) }, 'could not save collection config'));
    }
  }
}
