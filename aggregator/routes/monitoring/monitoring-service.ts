/**
 * The store I/O behind the monitoring endpoints: one aggregation search per figure set,
 * the day-index listing, heartbeats and job documents. Computation lives in the pure
 * modules next to it (metrics-query, stats-query, health-checks, agent-figures).
 *
 * Every figure comes from OpenSearch, so all replicas answer alike. Store failures become
 * AppErrors here (`toAppError`); health probes instead report them as component states.
 */
import type { OpenSearch } from '../../store/opensearch.ts';
import { toAppError } from '../../store/opensearch.ts';
import { logIndexPattern } from '../../store/log-indices.ts';
import { systemIndexName } from '../../store/system-indices.ts';
import { storeTimeoutParams, transportOptions, withDeadline, type StoreDeadline } from '../../query/query-budget.ts';
import type { AccessScope } from '../../http/scope.ts';
import { compileMetricsSearch, shapeMetrics, type MetricsQuery, type StoreMetrics } from './metrics-query.ts';
import { compileStatsSearch, shapeStats, type CatIndexRow, type LogStats, type StatsQuery } from './stats-query.ts';
import { sumAgentFigures, type AgentFigures } from './agent-figures.ts';
import {
  addAgentWindowPage,
  compileAgentWindowSearch,
  sortedReasons,
  type AgentWindowBody,
  type WindowMs,
  type WindowTotals,
} from './agent-window.ts';
import { compileJobsHealthSearch, shapeJobsHealth } from './jobs-health-query.ts';
import {
  agentStates,
  agentsVerdict,
  clustersVerdict,
  jobsVerdict,
  openSearchVerdict,
  type HealthComponent,
  type StoredHeartbeat,
} from './health-checks.ts';

export interface MonitoringOptions {
  /** An agent whose last heartbeat is older than this is stale, ms. Default 90000 (3 × the agent's 30 s interval). */
  agentStaleAfterMs?: number;
  /** OpenSearch answering its health probe slower than this is degraded, ms. Default 1000. */
  storeSlowMs?: number;
  /**
   * Further health components (S3, from the archive routes), checked with the built-in ones
   * for unrestricted scopes only (they span every cluster); a `critical` one that is down
   * makes the system down. Read on every check, so a live list may grow after construction.
   */
  extraComponents?: readonly HealthComponent[];
  now?: () => number;
}

/** Most heartbeats read at once: one per node of every cluster in scope. */
const MAX_HEARTBEATS = 10_000;

export class MonitoringService {
  readonly #client: OpenSearch;
  readonly #prefix: string;
  readonly #o: Required<Omit<MonitoringOptions, 'extraComponents'>> & { extraComponents: readonly HealthComponent[] };

  constructor(client: OpenSearch, indexPrefix: string, opts: MonitoringOptions = {}) {
    this.#client = client;
    this.#prefix = indexPrefix;
    this.#o = { agentStaleAfterMs: 90_000, storeSlowMs: 1000, now: Date.now, extraComponents: [], ...opts };
  }

  async metrics(q: MetricsQuery, deadline?: StoreDeadline): Promise<StoreMetrics> {
    const clusters = q.clusters?.length ? q.clusters : (q.scope.clusters ?? undefined);
    try {
      const res = await withDeadline(
        deadline,
        'metrics',
        this.#client.search(
          {
            index: logIndexPattern(this.#prefix, clusters),
            body: compileMetricsSearch(q),
            ignore_unavailable: true,
            allow_no_indices: true,
            ...storeTimeoutParams(deadline),
          },
          transportOptions(deadline),
        ),
      );
      return shapeMetrics(q, res.body as never);
    } catch (err) {
      throw toAppError(err, 'metrics');
    }
  }

  /**
   * The agents of the clusters in scope (latest heartbeats) and what they discarded and had
   * rejected in the window (heartbeat samples, agent-window.ts). Null for a
   * namespace-restricted scope: an agent's counts cover every namespace of its node.
   */
  async agentFigures(scope: AccessScope, w: WindowMs, clusters?: readonly string[]): Promise<AgentFigures | null> {
    if (scope.namespaces) return null;
    const wanted = clusters?.length ? clusters : (scope.clusters ?? undefined);
    const [latest, totals] = await Promise.all([this.#heartbeats(scope, clusters), this.#windowTotals(w, wanted)]);
    return {
      ...sumAgentFigures(latest),
      discarded: sortedReasons(totals.discarded),
      rejected: sortedReasons(totals.rejected),
    };
  }

  async #windowTotals(w: WindowMs, clusters: readonly string[] | undefined): Promise<WindowTotals> {
    const totals: WindowTotals = { discarded: {}, rejected: {} };
    let after: Record<string, string | number> | undefined;
    do {
      const res = await this.#client.search({
        index: systemIndexName(this.#prefix, 'heartbeat_samples'),
        body: compileAgentWindowSearch(w, clusters, after),
        ignore_unavailable: true,
        allow_no_indices: true,
      });
      after = addAgentWindowPage(totals, res.body as AgentWindowBody, w);
    } while (after !== undefined);
    return totals;
  }

  async stats(q: StatsQuery, deadline?: StoreDeadline): Promise<LogStats> {
    const clusters = q.clusters?.length ? q.clusters : (q.scope.clusters ?? undefined);
    const pattern = logIndexPattern(this.#prefix, clusters);
    try {
      const [res, rows] = await Promise.all([
        withDeadline(
          deadline,
          'stats',
          this.#client.search(
            {
              index: pattern,
              body: compileStatsSearch(q),
              ignore_unavailable: true,
              allow_no_indices: true,
              ...storeTimeoutParams(deadline),
            },
            transportOptions(deadline),
          ),
        ),
        q.scope.namespaces ? Promise.resolve(undefined) : this.#dayIndices(pattern),
      ]);
      return shapeStats(this.#prefix, res.body as never, rows);
    } catch (err) {
      throw toAppError(err, 'stats');
    }
  }

  /** True when the store holds any day index of the cluster or one of its agents reported. */
  async clusterKnown(cluster: string): Promise<boolean> {
    try {
      const rows = await this.#dayIndices(logIndexPattern(this.#prefix, [cluster]));
      if (rows.length > 0) return true;
      const res = await this.#client.count({
        index: systemIndexName(this.#prefix, 'heartbeats'),
        body: { query: { term: { cluster } } },
      });
      return (res.body as { count: number }).count > 0;
    } catch (err) {
      throw toAppError(err, 'metrics');
    }
  }

  /**
   * The health components for a caller's scope: clusters and agents are those it may read.
   * A namespace-restricted scope reads no cluster (as `/clusters/*` and the `agents` of
   * `/metrics`: an agent's heartbeat covers every namespace of its node), so it gets neither;
   * nor does any restricted scope get the jobs (retention, archive and collect jobs of every
   * cluster and namespace, with their ids and errors) or the extra components (S3: the
   * buckets and policies of every cluster).
   */
  components(scope: AccessScope): HealthComponent[] {
    const heartbeats = (() => {
      let p: Promise<StoredHeartbeat[]> | undefined;
      return () => (p ??= this.#heartbeats(scope));
    })();
    const states = async () => agentStates(await heartbeats(), this.#o.now(), this.#o.agentStaleAfterMs);
    return [
      {
        name: 'opensearch',
        critical: true,
        check: async () => {
          const t0 = performance.now();
          const res = await this.#client.cluster.health({ timeout: '5s' }, { requestTimeout: 10_000 });
          return openSearchVerdict(res.body as never, Math.round(performance.now() - t0), this.#o.storeSlowMs);
        },
      },
      ...(scope.namespaces
        ? []
        : [
            { name: 'clusters', critical: false, check: async () => clustersVerdict(await states()) },
            { name: 'agents', critical: false, check: async () => agentsVerdict(await states()) },
          ]),
      ...(scope.namespaces || scope.clusters
        ? []
        : [
            ...this.#o.extraComponents,
            {
              name: 'jobs',
              critical: false,
              check: async () => {
                const now = this.#o.now();
                const res = await this.#client.search({
                  index: systemIndexName(this.#prefix, 'jobs'),
                  body: compileJobsHealthSearch(now),
                });
                const facts = shapeJobsHealth(res.body as never);
                return jobsVerdict(facts.jobs, now, facts.byStatus);
              },
            },
          ]),
    ];
  }

  async #heartbeats(scope: AccessScope, clusters?: readonly string[]): Promise<StoredHeartbeat[]> {
    const wanted = clusters?.length ? clusters : scope.clusters;
    const res = await this.#client.search({
      index: systemIndexName(this.#prefix, 'heartbeats'),
      body: {
        size: MAX_HEARTBEATS,
        query: wanted ? { terms: { cluster: [...wanted] } } : { match_all: {} },
        sort: [{ cluster: 'asc' }, { node: 'asc' }],
      },
    });
    return (res.body.hits.hits as Array<{ _source: StoredHeartbeat }>).map((h) => h._source);
  }

  async #dayIndices(pattern: string): Promise<CatIndexRow[]> {
    const res = await this.#client.cat.indices({
      index: pattern,
      format: 'json',
      bytes: 'b',
      expand_wildcards: 'open,closed' as never,
    });
    return res.body as unknown as CatIndexRow[];
  }
}
