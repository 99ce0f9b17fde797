/**
 * What `npm start` hands its aggregator and agent from its own environment (pure), so the
 * local stack is configured like a real install: every `K8S_LOGS_*` / `OPENSEARCH_*`
 * variable goes to the aggregator except the agent's own settings (so an aggregator setting
 * whose name starts with `K8S_LOGS_AGENT_`, like `K8S_LOGS_AGENT_STALE_AFTER_MS`, still
 * reaches it), every `K8S_LOGS_AGENT_*` to the agent. What the stack itself wires (the
 * embedded OpenSearch's URL, the admin token, the agent's aggregator URL, token, cluster,
 * kubeconfig, paths) wins over the environment: those point at the services it started.
 */
import { CONFIG_FIELDS, type AgentConfig } from '../agent/config.ts';

/** The environment variables the agent reads its settings from. */
const AGENT_ENV = new Set(CONFIG_FIELDS.map((f) => f.env));

type Env = Readonly<Record<string, string | undefined>>;

function pick(env: Env, keep: (name: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && keep(k)) out[k] = v;
  return out;
}

/** The aggregator's environment: the caller's settings, then the stack's wiring. */
export function aggregatorEnv(env: Env, stack: Record<string, string>): Record<string, string> {
  const own = pick(env, (k) => (k.startsWith('K8S_LOGS_') && !AGENT_ENV.has(k)) || k.startsWith('OPENSEARCH_'));
  return { ...own, ...stack };
}

/** The agent's environment: the caller's `K8S_LOGS_AGENT_*`, then the stack's wiring (given as config fields). */
export function agentEnv(env: Env, stack: Partial<AgentConfig>): Record<string, string> {
  const out = pick(env, (k) => k.startsWith('K8S_LOGS_AGENT_'));
  for (const spec of CONFIG_FIELDS) {
    const v = stack[spec.key];
    if (v !== undefined) out[spec.env] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return out;
}
