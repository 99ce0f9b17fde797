/**
 * Loads generated records straight into the day indices of a prefix with `_bulk` (no
 * aggregator in the way: the benchmarks that use it measure reads), refreshes off while
 * loading and back to the template's interval after. Retries 429s; any other failure throws.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { LogRecord } from '../../shared/record.ts';
import { buildBulkBody } from '../../aggregator/store/bulk-writer.ts';
import { clusterAlias, dayIndexName } from '../../aggregator/store/log-indices.ts';
import { log } from './bench-services.ts';

export interface BulkLoadOptions {
  opensearchUrl: string;
  prefix: string;
  cluster: string;
  records: Iterable<LogRecord>;
  /** Records in total, for the progress lines. */
  count: number;
  batch: number;
  loaders: number;
}

/** Seconds the load took. */
export async function bulkLoad(o: BulkLoadOptions): Promise<number> {
  const osPool = new Pool(o.opensearchUrl, { connections: o.loaders });
  const ingestedAt = new Date().toISOString();
  const created = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  let nextReport = o.count / 10;
  const t0 = performance.now();
  const json = { 'content-type': 'application/json' };
  const send = async (batch: LogRecord[]) => {
    for (const r of [batch[0]!, batch[batch.length - 1]!]) {
      const index = dayIndexName(o.prefix, o.cluster, r.timestamp);
      if (created.has(index)) continue;
      created.add(index);
      await fetch(`${o.opensearchUrl}/${index}`, {
        method: 'PUT',
        headers: json,
        body: JSON.stringify({
          aliases: { [clusterAlias(o.prefix, o.cluster)]: {} },
          settings: { 'index.refresh_interval': '-1' },
        }),
      });
    }
    const body = buildBulkBody(o.prefix, batch, ingestedAt);
    for (;;) {
      const res = await osPool.request({
        path: '/_bulk',
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body,
      });
      const out = (await res.body.json()) as { errors?: boolean; items?: Array<Record<string, { status: number }>> };
      const itemStatus = (it: Record<string, { status: number }>) => Object.values(it)[0]?.status ?? 0;
      if (
        res.statusCode === 200 &&
        (!out.errors || (out.items ?? []).every((it) => itemStatus(it) < 300 || itemStatus(it) === 409))
      )
        return;
      if (res.statusCode !== 429 && !(out.items ?? []).some((it) => itemStatus(it) === 429))
        throw new Error(`_bulk: ${res.statusCode} ${JSON.stringify(out).slice(0, 300)}`);
      await sleep(200);
    }
  };
  let batch: LogRecord[] = [];
  const flush = async () => {
    const p = send(batch).finally(() => inFlight.delete(p));
    inFlight.add(p);
    batch = [];
    if (inFlight.size >= o.loaders) await Promise.race(inFlight);
  };
  for (const r of o.records) {
    batch.push(r);
    if (batch.length === o.batch) await flush();
    if (++sent >= nextReport) {
      log(`loaded ${sent} of ${o.count} (${Math.round(sent / ((performance.now() - t0) / 1000))} lines/s)`);
      nextReport += o.count / 10;
    }
  }
  if (batch.length) await flush();
  await Promise.all(inFlight);
  await osPool.close();
  // Loaded without refreshes (faster on a shared node); back to the template's interval.
  await fetch(`${o.opensearchUrl}/${o.prefix}-*/_settings`, {
    method: 'PUT',
    headers: json,
    body: JSON.stringify({ 'index.refresh_interval': null }),
  });
  await fetch(`${o.opensearchUrl}/${o.prefix}-*/_refresh`, { method: 'POST' });
  return (performance.now() - t0) / 1000;
}
