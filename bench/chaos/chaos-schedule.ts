/**
 * The chaos schedule: when the agent and the aggregator are SIGKILLed and restarted and
 * when OpenSearch is stopped, drawn from a seeded PRNG so a run can be repeated. Pure.
 */

/** mulberry32: a small, well-distributed 32-bit PRNG; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type ChaosEvent =
  | { atMs: number; kind: 'kill-agent'; restartAfterMs: number }
  | { atMs: number; kind: 'kill-aggregator'; restartAfterMs: number }
  | { atMs: number; kind: 'stop-opensearch'; restartAfterMs: number };

export interface ChaosPlanInput {
  /** Length of the writing phase, ms; every event falls inside it. */
  writeMs: number;
  seed: number;
  agentKills: number;
  aggregatorKills: number;
  /** OpenSearch stopped this long (0 = never stopped), ms. */
  opensearchOutageMs: number;
}

/**
 * Events sorted by time. Kills fall uniformly in the middle 80 % of the writing phase, so
 * there is traffic before and after each; the outage starts in the middle 60 % and may
 * overlap kills (the aggregator restarting while its store is down is part of the test).
 */
export function planChaos(p: ChaosPlanInput): ChaosEvent[] {
  const rnd = seededRandom(p.seed);
  const between = (lo: number, hi: number) => Math.round(lo + rnd() * Math.max(0, hi - lo));
  const events: ChaosEvent[] = [];
  for (let i = 0; i < p.agentKills; i++) {
    events.push({
      atMs: between(0.1 * p.writeMs, 0.9 * p.writeMs),
      kind: 'kill-agent',
      restartAfterMs: between(200, 3000),
    });
  }
  for (let i = 0; i < p.aggregatorKills; i++) {
    events.push({
      atMs: between(0.1 * p.writeMs, 0.9 * p.writeMs),
      kind: 'kill-aggregator',
      restartAfterMs: between(500, 5000),
    });
  }
  if (p.opensearchOutageMs > 0) {
    const latest = Math.max(0.2 * p.writeMs, 0.8 * p.writeMs - p.opensearchOutageMs);
    events.push({
      atMs: between(0.2 * p.writeMs, latest),
      kind: 'stop-opensearch',
      restartAfterMs: p.opensearchOutageMs,
    });
  }
  return events.sort((a, b) => a.atMs - b.atMs);
}
