/**
 * System health (`GET /health`) as a list of pluggable components. Pure apart from the
 * probes each component is given: the verdicts (green/yellow/red → ok/degraded/down, stale
 * agents, failed jobs) and the overall status are table-testable functions.
 *
 * Each component answers `ok | degraded | down` with a reason. A component is `critical`
 * when the aggregator cannot serve without it (OpenSearch; S3 is not, see `s3Verdict`):
 * its `down` makes the whole system `down` (HTTP 503). A non-critical component that is
 * down (every agent of a cluster silent, say) only degrades the whole: the API still works.
 * A component whose probe throws is `down` with the error's class of failure as reason.
 */
import type { Heartbeat } from '../../../shared/schemas/ingest.ts';

export const HealthStates = ['ok', 'degraded', 'down'] as const;
export type HealthState = (typeof HealthStates)[number];

export interface ComponentHealth {
  status: HealthState;
  reason: string;
  /** Component-specific facts (latency, counts, per-cluster states). */
  details?: Record<string, unknown>;
}

export interface HealthComponent {
  readonly name: string;
  readonly critical: boolean;
  check(): Promise<ComponentHealth>;
}

export interface ComponentReport extends ComponentHealth {
  name: string;
  critical: boolean;
  latency_ms: number;
}

export interface HealthReport {
  status: HealthState;
  checked_at: string;
  components: ComponentReport[];
}

const rank: Record<HealthState, number> = { ok: 0, degraded: 1, down: 2 };

export function worst(states: readonly HealthState[]): HealthState {
  return states.reduce<HealthState>((w, s) => (rank[s] > rank[w] ? s : w), 'ok');
}

/** Overall state: the worst component, where a non-critical `down` counts as `degraded`. */
export function overallStatus(components: ReadonlyArray<Pick<ComponentReport, 'status' | 'critical'>>): HealthState {
  return worst(components.map((c) => (c.status === 'down' && !c.critical ? 'degraded' : c.status)));
}

/** HTTP status of a health answer: a monitor's readiness signal. */
export function httpStatusOf(state: HealthState): 200 | 503 {
  return state === 'down' ? 503 : 200;
}

/** Runs every component concurrently, each bounded by `timeoutMs` (a hung probe is `down`). */
export async function runHealth(
  components: readonly HealthComponent[],
  timeoutMs: number,
  now = () => new Date(),
): Promise<HealthReport> {
  const reports = await Promise.all(
    components.map(async (c): Promise<ComponentReport> => {
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<ComponentHealth>((resolve) => {
        timer = setTimeout(() => resolve({ status: 'down', reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
      });
      const h = await Promise.race([
        c
          .check()
          .catch((err: unknown): ComponentHealth => ({ status: 'down', reason: `check failed: ${failureKind(err)}` })),
        timeout,
      ]);
      clearTimeout(timer);
      return { name: c.name, critical: c.critical, ...h, latency_ms: Math.round(performance.now() - t0) };
    }),
  );
  return { status: overallStatus(reports), checked_at: now().toISOString(), components: reports };
}

/** A short, label-safe description of why a probe failed (never the store's own text). */
function failureKind(err: unknown): string {
  const e = err as { name?: string; statusCode?: number; code?: string };
  if (typeof e?.statusCode === 'number') return `HTTP ${e.statusCode}`;
  if (typeof e?.code === 'string' && /^[A-Z_]+$/.test(e.code)) return e.code;
  if (e?.name === 'ConnectionError' || e?.name === 'TimeoutError') return e.name;
  return 'error';
}

/** OpenSearch cluster health + the probe's round trip. */
export function openSearchVerdict(
  health: { status?: string; number_of_nodes?: number; unassigned_shards?: number; cluster_name?: string },
  latencyMs: number,
  slowMs: number,
): ComponentHealth {
  const details = {
    cluster_status: health.status ?? 'unknown',
    nodes: health.number_of_nodes ?? null,
    unassigned_shards: health.unassigned_shards ?? null,
    latency_ms: latencyMs,
  };
  if (health.status === 'red')
    return { status: 'down', reason: 'cluster health is red: some primary shards are unassigned', details };
  if (health.status === 'yellow')
    return { status: 'degraded', reason: 'cluster health is yellow: some replica shards are unassigned', details };
  if (health.status !== 'green')
    return { status: 'degraded', reason: `cluster health is ${health.status ?? 'unknown'}`, details };
  if (latencyMs > slowMs)
    return { status: 'degraded', reason: `slow: answered in ${latencyMs} ms (over ${slowMs} ms)`, details };
  return { status: 'ok', reason: 'cluster health is green', details };
}

export type StoredHeartbeat = Heartbeat & { received_at: string };

export interface AgentState {
  cluster: string;
  node: string;
  agent_version: string;
  last_heartbeat_at: string;
  stale: boolean;
  bytes_behind: number;
}

/** An agent is stale when its last heartbeat was received more than `staleAfterMs` ago. */
export function agentStates(heartbeats: readonly StoredHeartbeat[], nowMs: number, staleAfterMs: number): AgentState[] {
  return heartbeats.map((h) => ({
    cluster: h.cluster,
    node: h.node,
    agent_version: h.agent_version,
    last_heartbeat_at: h.received_at,
    stale: nowMs - Date.parse(h.received_at) > staleAfterMs,
    bytes_behind: h.bytes_behind,
  }));
}

/** Per cluster: ok when every agent reports, degraded when some are stale, down when all are. */
export function clustersVerdict(agents: readonly AgentState[]): ComponentHealth {
  const byCluster = new Map<string, AgentState[]>();
  for (const a of agents) byCluster.set(a.cluster, [...(byCluster.get(a.cluster) ?? []), a]);
  const clusters = [...byCluster.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([cluster, list]) => {
      const stale = list.filter((a) => a.stale).length;
      const status: HealthState = stale === 0 ? 'ok' : stale === list.length ? 'down' : 'degraded';
      const reason = stale === 0 ? `${list.length} agent(s) reporting` : `${stale} of ${list.length} agent(s) silent`;
      return { cluster, status, reason, agents: list.length, stale_agents: stale };
    });
  if (clusters.length === 0) return { status: 'ok', reason: 'no cluster has reported yet', details: { clusters } };
  const status = worst(clusters.map((c) => c.status));
  const bad = clusters.filter((c) => c.status !== 'ok').map((c) => `${c.cluster} (${c.reason})`);
  return {
    status,
    reason:
      status === 'ok' ? `${clusters.length} cluster(s) reporting` : `not every cluster reports: ${bad.join(', ')}`,
    details: { clusters },
  };
}

/** Agents as a whole: degraded when any is stale, down when all are. */
export function agentsVerdict(agents: readonly AgentState[]): ComponentHealth {
  const stale = agents.filter((a) => a.stale);
  const details = {
    agents: agents.length,
    stale_agents: stale.length,
    bytes_behind: agents.reduce((s, a) => s + a.bytes_behind, 0),
    stale: stale.map((a) => ({ cluster: a.cluster, node: a.node, last_heartbeat_at: a.last_heartbeat_at })),
  };
  if (agents.length === 0) return { status: 'ok', reason: 'no agent has reported yet', details };
  if (stale.length === agents.length)
    return { status: 'down', reason: `all ${agents.length} agent(s) silent`, details };
  if (stale.length > 0)
    return { status: 'degraded', reason: `${stale.length} of ${agents.length} agent(s) silent`, details };
  return { status: 'ok', reason: `${agents.length} agent(s) reporting`, details };
}

/** The fields of a job-runner document (jobs/job-schema.ts) that health looks at. */
export interface JobDoc {
  id: string;
  type: string;
  status: string;
  created_at: string;
  finished_at?: string | null;
  lease_expires_at?: string | null;
  error?: { code?: string } | null;
}

/**
 * Jobs, from documents of the job runner (the latest of each type and the running ones on
 * an expired lease, jobs-health-query.ts): per type, degraded when its
 * latest job failed, or when a running job's lease has expired (its owner died and no
 * replica has taken it over yet). Documents without a `type` (lease records of earlier
 * versions) are ignored.
 */
export function jobsVerdict(
  jobs: readonly JobDoc[],
  nowMs: number,
  /** Counts over every job when `jobs` is a selection of them (jobs-health-query.ts); else counted from `jobs`. */
  counts?: Readonly<Record<string, number>>,
): ComponentHealth {
  const latest = new Map<string, JobDoc>();
  const byStatus: Record<string, number> = counts ? { ...counts } : {};
  for (const j of jobs) {
    if (typeof j.type !== 'string') continue;
    if (!counts) byStatus[j.status] = (byStatus[j.status] ?? 0) + 1;
    const seen = latest.get(j.type);
    if (!seen || seen.created_at < j.created_at) latest.set(j.type, j);
  }
  const problems: string[] = [];
  for (const j of jobs) {
    if (typeof j.type !== 'string') continue;
    if (j.status === 'running' && j.lease_expires_at && Date.parse(j.lease_expires_at) < nowMs) {
      problems.push(`${j.type} job ${j.id}: running on an expired lease (owner gone)`);
    }
  }
  const types = [...latest.values()].sort((a, b) => (a.type < b.type ? -1 : 1));
  for (const j of types) {
    if (j.status === 'failed')
      problems.push(`${j.type}: latest job ${j.id} failed${j.error?.code ? ` (${j.error.code})` : ''}`);
  }
  const details = {
    by_status: byStatus,
    latest: types.map((j) => ({
      type: j.type,
      id: j.id,
      status: j.status,
      created_at: j.created_at,
      finished_at: j.finished_at ?? null,
    })),
  };
  if (problems.length > 0) return { status: 'degraded', reason: problems.join('; '), details };
  return {
    status: 'ok',
    reason: types.length ? `${types.length} job type(s), none failing` : 'no job has run yet',
    details,
  };
}

/** One archive bucket as its probe found it, with the enabled policies that write to it. */
export interface ArchiveBucketProbe {
  bucket: string;
  policies: readonly string[];
  /** Null: reachable; else the failure kind (`no_such_bucket`, `access_denied`, `unreachable`, …). */
  problem: string | null;
  latency_ms: number;
}

/**
 * The `s3` component: every bucket an enabled archive policy writes to must answer. A bucket
 * that does not is `down` (the archive jobs of its policies will fail); S3 is not critical:
 * ingest and search work without it, so the whole system is only degraded. With no enabled
 * policy there is nothing S3 is needed for: `ok`, saying so.
 */
export function s3Verdict(buckets: readonly ArchiveBucketProbe[], slowMs: number): ComponentHealth {
  const sorted = [...buckets].sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  const details = {
    buckets: sorted.map((b) => ({
      bucket: b.bucket,
      reachable: b.problem === null,
      ...(b.problem === null ? {} : { problem: b.problem }),
      policies: [...b.policies].sort(),
      latency_ms: b.latency_ms,
    })),
  };
  if (sorted.length === 0) return { status: 'ok', reason: 'no enabled archive policy: S3 is not in use', details };
  const failing = sorted.filter((b) => b.problem !== null);
  if (failing.length > 0) {
    const what = failing.map(
      (b) => `bucket "${b.bucket}": ${b.problem} (policies ${[...b.policies].sort().join(', ')})`,
    );
    return {
      status: 'down',
      reason: `${failing.length} of ${sorted.length} archive bucket(s) not answering: ${what.join('; ')}`,
      details,
    };
  }
  const slow = sorted.filter((b) => b.latency_ms > slowMs);
  if (slow.length > 0)
    return {
      status: 'degraded',
      reason: `slow: ${slow.map((b) => `bucket "${b.bucket}" answered in ${b.latency_ms} ms`).join('; ')} (over ${slowMs} ms)`,
      details,
    };
  return { status: 'ok', reason: `${sorted.length} archive bucket(s) answering`, details };
}
