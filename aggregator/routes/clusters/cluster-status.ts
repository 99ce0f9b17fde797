/**
 * `/clusters/status` of one cluster from what is known about it: its agents' heartbeats,
 * its log activity in the store and its API connection. Pure.
 *
 * Overall state:
 * - `disconnected`: nothing proves the cluster is there — no agent heartbeat fresher than
 *   the stale threshold and no working API connection;
 * - `degraded`: partly working — some agents stale, the API connection failing while agents
 *   report, or a working API with no reporting agent;
 * - `healthy`: every agent fresh and, when a connection is registered, the API answering.
 * `reasons` says which of these applied, in words an operator can act on.
 */
import type { StoredHeartbeat } from '../../store/heartbeat-store.ts';
import type { ConnectionState } from '../../cluster/connection-state.ts';

export type OverallState = 'healthy' | 'degraded' | 'disconnected';

export interface ClusterActivity {
  /** Newest `ingested_at` of the cluster's records, ISO; null when it has none. */
  last_record_at: string | null;
  /** Records ingested over the rate window. */
  records_in_window: number;
}

export interface AgentStatus {
  node: string;
  agent_version: string;
  last_heartbeat_at: string;
  bytes_behind: number;
  files_watched: number;
  stale: boolean;
}

export function agentStatuses(
  heartbeats: readonly StoredHeartbeat[],
  nowMs: number,
  staleAfterMs: number,
): AgentStatus[] {
  return heartbeats
    .map((h) => ({
      node: h.node,
      agent_version: h.agent_version,
      last_heartbeat_at: h.received_at,
      bytes_behind: h.bytes_behind,
      files_watched: h.files_watched,
      stale: nowMs - Date.parse(h.received_at) > staleAfterMs,
    }))
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

export function summariseAgents(agents: AgentStatus[]) {
  const fresh = agents.filter((a) => !a.stale);
  const last = agents.reduce<string | null>(
    (m, a) => (m === null || a.last_heartbeat_at > m ? a.last_heartbeat_at : m),
    null,
  );
  return {
    nodes_reporting: fresh.length,
    stale_agents: agents.length - fresh.length,
    last_heartbeat_at: last,
    agent_versions: [...new Set(agents.map((a) => a.agent_version))].sort(),
    // Only fresh agents' backlog is current; a stale agent's number is as old as its heartbeat.
    bytes_behind: fresh.reduce((s, a) => s + a.bytes_behind, 0),
    nodes: agents,
  };
}

export function overallState(
  agents: readonly AgentStatus[],
  api: ConnectionState | null,
): { status: OverallState; reasons: string[] } {
  const fresh = agents.filter((a) => !a.stale).length;
  const stale = agents.length - fresh;
  const apiOk = api?.state === 'connected';
  const reasons: string[] = [];
  if (agents.length === 0) reasons.push('no agent has sent a heartbeat');
  else if (fresh === 0) reasons.push(`all ${stale} agent(s) stale`);
  else if (stale > 0) reasons.push(`${stale} of ${agents.length} agent(s) stale`);
  if (api && !apiOk) reasons.push(`Kubernetes API ${api.state}: ${api.last_error ?? 'unknown error'}`);
  if (fresh === 0 && !apiOk) return { status: 'disconnected', reasons };
  if (stale > 0 || (api && !apiOk) || fresh === 0) return { status: 'degraded', reasons };
  return { status: 'healthy', reasons };
}

/** Records per second over the rate window, 3 decimals. */
export function ingestRate(activity: ClusterActivity | undefined, windowMs: number): number {
  return Math.round(((activity?.records_in_window ?? 0) / (windowMs / 1000)) * 1000) / 1000;
}
