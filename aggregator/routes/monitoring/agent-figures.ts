/**
 * A fleet of agents from their latest heartbeats: how many, how many report counts, bytes
 * behind, and the sum of their cumulative counts by reason since each started
 * (`discarded`: dropped or altered on the node — filters, rate limits, truncation;
 * `rejected`: refused for good by the aggregator). Pure. GET /metrics replaces the sums
 * with the window's increase (agent-window.ts). Unknown reasons (a newer agent) are kept
 * under their own name only when they are in the shared vocabulary; others are `other`.
 */
import { isDiscardReason } from '../../../shared/reasons.ts';
import { sortedReasons as sorted } from './agent-window.ts';
import type { StoredHeartbeat } from './health-checks.ts';

export interface AgentFigures {
  /** Agents whose heartbeat carried the counts (older agents do not send them). */
  agents_reporting: number;
  agents: number;
  discarded: Record<string, number>;
  rejected: Record<string, number>;
  bytes_behind: number;
}

export function sumAgentFigures(heartbeats: readonly StoredHeartbeat[]): AgentFigures {
  const discarded: Record<string, number> = {};
  const rejected: Record<string, number> = {};
  const add = (into: Record<string, number>, from: Record<string, number> | undefined) => {
    for (const [reason, n] of Object.entries(from ?? {})) {
      if (!Number.isInteger(n) || n <= 0) continue;
      const key = isDiscardReason(reason) ? reason : 'other';
      into[key] = (into[key] ?? 0) + n;
    }
  };
  let reporting = 0;
  let behind = 0;
  for (const h of heartbeats) {
    if (h.discarded !== undefined || h.rejected !== undefined) reporting++;
    add(discarded, h.discarded);
    add(rejected, h.rejected);
    behind += h.bytes_behind;
  }
  return {
    agents_reporting: reporting,
    agents: heartbeats.length,
    discarded: sorted(discarded),
    rejected: sorted(rejected),
    bytes_behind: behind,
  };
}
