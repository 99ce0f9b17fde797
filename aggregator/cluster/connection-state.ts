/** The state of a cluster's Kubernetes API connection, as `/clusters/status` shows it. */
export type ConnectionStateName = 'connected' | 'unauthorized' | 'unreachable' | 'error';

export interface ConnectionState {
  state: ConnectionStateName;
  /** The API server answered at all (even with 401/403). */
  reachable: boolean;
  kubernetes_version: string | null;
  /** Round trip of the authenticated probe request, ms; null when it got no answer. */
  latency_ms: number | null;
  /** Why the last probe was not `connected` (never contains credentials). */
  last_error: string | null;
  checked_at: string;
}
