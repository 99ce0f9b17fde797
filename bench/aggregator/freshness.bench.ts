/**
 * Freshness: at a steady write rate (default 5,000 lines/s over 5 container files), the
 * time from a line being appended to its file until `GET /v1/k8s/logs/` returns it, with
 * the real agent (default settings), aggregator and OpenSearch in one run. Goal p99 ≤ 2 s.
 *
 *   node bench/aggregator/freshness.bench.ts [--rate 5000] [--seconds 30] [--probe-ms 50] [--batch-age-ms N] [--min-batch-age-ms N]
 *
 * `--min-batch-age-ms 0` turns the agent's early sending on an idle pipe off (the fixed
 * batch age before issue 10), for a comparison.
 *
 * One of the five files is the probe file: every line carries its sequence number, and a
 * poller asks for that pod's newest line every `probe-ms`. When line N first shows up,
 * every not-yet-seen line ≤ N of the probe file is stamped with that moment, so each
 * latency is an upper bound at the probe's resolution. The baseline for scale is the
 * pipeline's own floor: the agent's batch age (`maxBatchAgeMs`) plus OpenSearch's refresh
 * interval (1 s), printed beside the result.
 *
 * Live tail: a subscription on the aggregator's tail feed (aggregator/tail/tail-feed.ts,
 * what a live-tail endpoint reads) for the probe pod; each probe line is stamped when it
 * arrives there. `tail_p99_ms` is file write → live tail (goal ≤ 1 s): it waits for the
 * agent's batch and its request, never for `_bulk` or the refresh.
 */
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgent } from '../../agent/agent.ts';
import { defineConfig } from '../../agent/config.ts';
import { benchAggregator, benchOpenSearch, dropPrefix, emitResult, freshPrefix, log, percentile, round } from './bench-services.ts';
import { tailMatcher } from '../../aggregator/tail/tail-matcher.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '30' },
    'probe-ms': { type: 'string', default: '50' },
    heap: { type: 'string', default: '1024' },
    'batch-age-ms': { type: 'string' },
    'min-batch-age-ms': { type: 'string' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const PROBE_MS = Number(values['probe-ms']);
const TICK_MS = 20;
const FILES = 5;

const os = await benchOpenSearch(Number(values.heap));
const prefix = freshPrefix('fresh');
const agg = await benchAggregator(os.url, prefix);
const work = await mkdtemp(path.join(tmpdir(), 'k8s-logs-fresh-'));
const logDir = path.join(work, 'containers');
await mkdir(logDir);
try {
  const ingestToken = await agg.token({ name: 'agent', scopes: ['ingest'], clusters: ['fresh'] });
  const reader = await agg.token({ name: 'reader', scopes: ['logs:read'] });
  const files = Array.from({ length: FILES }, (_, i) => path.join(logDir, `pod-${i}_bench_app-${String(i).repeat(64)}.log`));
  const agentConfig = defineConfig({
    aggregatorUrl: agg.url, token: ingestToken, cluster: 'fresh', node: 'bench-node', dataDir: path.join(work, 'agent'),
    logPath: logDir, kubernetes: 'off', metricsPort: 0, metricsHost: '127.0.0.1', heartbeatIntervalMs: 0, logLevel: 'warn',
    ...(values['batch-age-ms'] ? { maxBatchAgeMs: Number(values['batch-age-ms']) } : {}),
    ...(values['min-batch-age-ms'] !== undefined ? { minBatchAgeMs: Number(values['min-batch-age-ms']) } : {}),
  });
  const agent = await startAgent(agentConfig, { processMetrics: false });

  const writtenAt: number[] = []; // probe-file line seq → write time (ms, monotonic)
  const writtenWall: number[] = []; // the same, wall clock (compared with ingested_at)
  const seenAt: number[] = [];
  let probeSeq = 0;
  let stopWriting = false;
  const perTick = (RATE * TICK_MS) / 1000;
  const filler = 'x'.repeat(120);
  const writer = (async () => {
    const start = performance.now();
    let written = 0;
    let tick = 0;
    while (!stopWriting) {
      tick++;
      const due = Math.floor(perTick * tick);
      const chunks = Array.from({ length: FILES }, () => '');
      const ts = new Date().toISOString().replace('Z', '000000Z');
      for (; written < due; written++) {
        const f = written % FILES;
        if (f === 0) {
          writtenAt[probeSeq] = performance.now();
          writtenWall[probeSeq] = Date.now();
          chunks[0] += `${ts} stdout F {"level":"info","msg":"probe","seq":${probeSeq++},"pad":"${filler}"}\n`;
        } else {
          chunks[f] += `${ts} stdout F {"level":"info","msg":"load line ${written}","pad":"${filler}"}\n`;
        }
      }
      await Promise.all(chunks.map((c, i) => (c ? appendFile(files[i]!, c) : undefined)));
      const next = start + tick * TICK_MS;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();

  const tailSeenAt: number[] = [];
  const sub = agg.app.bulkWriter.tail.subscribe({ match: tailMatcher({ scope: { clusters: null, namespaces: null }, pods: ['pod-0'] }), maxBufferedRecords: 1_000_000 })!;
  const tailer = (async () => {
    for (;;) {
      const { records, gap } = await sub.next();
      if (records.length === 0 && gap === undefined) return; // closed
      const now = performance.now();
      for (const r of records) {
        const m = /"seq":(\d+)/.exec(r.message);
        if (m) tailSeenAt[Number(m[1])] ??= now;
      }
    }
  })();

  let newestSeen = -1;
  const probeMs: number[] = [];
  let stopProbing = false;
  const prober = (async () => {
    while (!stopProbing) {
      const sent = performance.now();
      const res = await fetch(`${agg.url}/v1/k8s/logs/?pod=pod-0&limit=1&start=now-10m`, { headers: { authorization: `Bearer ${reader}` } });
      // A line is stamped seen when the request that found it was sent: the answer reflects
      // the store as of then, so the probe's own latency is not counted as staleness.
      const now = sent;
      probeMs.push(performance.now() - sent);
      if (res.status === 200) {
        const body = (await res.json()) as { logs: Array<{ message: string }> };
        const m = /"seq":(\d+)/.exec(body.logs[0]?.message ?? '');
        const seq = m ? Number(m[1]) : -1;
        for (let s = newestSeen + 1; s <= seq; s++) seenAt[s] = now;
        newestSeen = Math.max(newestSeen, seq);
      } else {
        await res.text();
      }
      await sleep(PROBE_MS);
    }
  })();

  log(`writing ${RATE} lines/s to ${FILES} files for ${SECONDS} s`);
  await sleep(SECONDS * 1000);
  stopWriting = true;
  await writer;
  const lastSeq = probeSeq - 1;
  const deadline = performance.now() + 30_000;
  while (newestSeen < lastSeq && performance.now() < deadline) await sleep(50);
  stopProbing = true;
  await prober;
  sub.close();
  await tailer;
  await agent.stop(5000);

  // Stage breakdown: file → aggregator (ingested_at, set when the bulk request is built)
  // versus aggregator → searchable (the rest, mostly waiting for OpenSearch's refresh).
  await fetch(`${os.url}/${prefix}-*/_refresh`, { method: 'POST' });
  const toAggregator: number[] = [];
  // The newest 10,000 probe lines: steady state, well past the warm-up.
  const res = await fetch(`${os.url}/${prefix}-*/_search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ size: 10_000, query: { term: { pod: 'pod-0' } }, _source: ['message', 'ingested_at'], sort: [{ timestamp: 'desc' }] }),
  });
  for (const h of ((await res.json()) as { hits?: { hits: Array<{ _source: { message: string; ingested_at: string } }> } }).hits?.hits ?? []) {
    const seq = Number(/"seq":(\d+)/.exec(h._source.message)?.[1] ?? -1);
    const wall = writtenWall[seq];
    if (wall !== undefined) toAggregator.push(Date.parse(h._source.ingested_at) - wall);
  }
  toAggregator.sort((a, b) => a - b);

  // Skip the first 2 s (agent start-up, first index creation) as steady-state warm-up.
  const warm = Math.floor((RATE / FILES) * 2);
  const lat = writtenAt.slice(warm).map((w, i) => (seenAt[i + warm] ?? Number.NaN) - w).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const missing = writtenAt.length - warm - lat.length;
  const tailLat = writtenAt.slice(warm).map((w, i) => (tailSeenAt[i + warm] ?? Number.NaN) - w).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const bulk = (await agg.app.services.metrics.bulkDuration.get()).values;
  const bulkSum = bulk.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
  const bulkCount = bulk.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  const result = {
    bench: 'aggregator.freshness',
    rate_lines_per_s: RATE,
    agent_max_batch_age_ms: agentConfig.maxBatchAgeMs,
    agent_min_batch_age_ms: agentConfig.minBatchAgeMs,
    seconds: SECONDS,
    probe_lines: lat.length,
    probe_lines_never_seen: missing,
    p50_ms: round(percentile(lat, 50)),
    p90_ms: round(percentile(lat, 90)),
    p99_ms: round(percentile(lat, 99)),
    max_ms: round(lat[lat.length - 1] ?? NaN),
    tail_p50_ms: round(percentile(tailLat, 50)),
    tail_p99_ms: round(percentile(tailLat, 99)),
    tail_lines_never_seen: writtenAt.length - warm - tailLat.length,
    goal_tail_p99_ms: 1000,
    to_aggregator_p50_ms: round(percentile(toAggregator, 50)),
    to_aggregator_p99_ms: round(percentile(toAggregator, 99)),
    probe_p50_ms: round(percentile([...probeMs].sort((a, b) => a - b), 50)),
    probe_p99_ms: round(percentile([...probeMs].sort((a, b) => a - b), 99)),
    bulk_requests: bulkCount,
    bulk_mean_ms: round((bulkSum / Math.max(1, bulkCount)) * 1000),
    floor_ms: agentConfig.maxBatchAgeMs + 1000,
    p99_over_floor: round(percentile(lat, 99) / (agentConfig.maxBatchAgeMs + 1000), 2),
    goal_p99_ms: 2000,
  };
  emitResult(result);
} finally {
  await agg.close();
  await dropPrefix(os.url, prefix).catch(() => {});
  await os.stop();
  await rm(work, { recursive: true, force: true });
}
