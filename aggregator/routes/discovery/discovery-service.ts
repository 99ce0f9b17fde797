/**
 * Runs a discovery query: the composite aggregation on the log indices and, for every
 * cluster in scope that has a live view, the live listing — concurrently. A live view that
 * fails or times out does not fail the request: its cluster is reported as not connected
 * and its items come from the index alone.
 */
import type { OpenSearch } from '../../store/opensearch.ts';
import { toAppError } from '../../store/opensearch.ts';
import { logIndexPattern } from '../../store/log-indices.ts';
import type { LiveClusterView, LivePod } from '../../cluster/live-cluster-view.ts';
import { storeTimeoutParams, transportOptions, withDeadline, type StoreDeadline } from '../../query/query-budget.ts';
import {
  compileDiscoverySearch,
  liveItemInScope,
  mergeDiscoveryPage,
  parseDiscoveryBuckets,
  type DiscoveryQuery,
  type LiveItem,
  type MergedItem,
} from './discovery-query.ts';

export interface LiveClusterStatus {
  cluster: string;
  connected: boolean;
}

export interface DiscoveryPage {
  items: MergedItem[];
  hasMore: boolean;
  liveClusters: LiveClusterStatus[];
}

export interface DiscoveryLogger {
  warn(obj: object, msg: string): void;
}

export class DiscoveryService {
  readonly #client: OpenSearch;
  readonly #prefix: string;
  readonly #live: LiveClusterView;
  readonly #log: DiscoveryLogger;

  constructor(client: OpenSearch, indexPrefix: string, live: LiveClusterView, log: DiscoveryLogger) {
    this.#client = client;
    this.#prefix = indexPrefix;
    this.#live = live;
    this.#log = log;
  }

  async page(q: DiscoveryQuery, deadline?: StoreDeadline): Promise<DiscoveryPage> {
    const liveClusters = this.#live
      .clusters()
      .filter((c) => (!q.scope.clusters || q.scope.clusters.includes(c)) && (!q.clusters || q.clusters.includes(c)));
    const [indexed, liveResults] = await Promise.all([
      this.#indexed(q, deadline),
      Promise.all(liveClusters.map((c) => this.#liveItems(q, c))),
    ]);
    const live = liveResults.flatMap((r) => r ?? []);
    const { items, hasMore } = mergeDiscoveryPage(indexed, live, q.after, q.limit);
    return {
      items,
      hasMore,
      liveClusters: liveClusters.map((cluster, i) => ({ cluster, connected: liveResults[i] !== undefined })),
    };
  }

  async #indexed(q: DiscoveryQuery, deadline: StoreDeadline | undefined) {
    const clusters = q.clusters?.length ? q.clusters : (q.scope.clusters ?? undefined);
    try {
      const res = await withDeadline(
        deadline,
        'discovery',
        this.#client.search(
          {
            index: logIndexPattern(this.#prefix, clusters),
            body: compileDiscoverySearch(q),
            ignore_unavailable: true,
            allow_no_indices: true,
            ...storeTimeoutParams(deadline),
          },
          transportOptions(deadline),
        ),
      );
      return parseDiscoveryBuckets(q.level, res.body.aggregations);
    } catch (err) {
      throw toAppError(err, 'discovery');
    }
  }

  /** Live items of one cluster in scope; undefined when the cluster could not be listed. */
  async #liveItems(q: DiscoveryQuery, cluster: string): Promise<LiveItem[] | undefined> {
    try {
      let items: LiveItem[];
      if (q.level === 'namespace') {
        items = (await this.#live.listNamespaces(cluster)).map((ns) => ({ key: [cluster, ns] }));
      } else {
        // One namespace asked for: list just that one; otherwise every namespace (filtered below).
        const only = q.namespaces?.length === 1 ? q.namespaces[0] : undefined;
        const pods = await this.#live.listPods(cluster, only);
        items = q.level === 'pod' ? pods.map((p) => podItem(cluster, p)) : pods.flatMap((p) => containerItems(cluster, p));
      }
      return items.filter((it) => liveItemInScope(q, it.key));
    } catch (err) {
      this.#log.warn({ cluster, err: (err as Error).message }, 'live cluster view unavailable; answering from the index');
      return undefined;
    }
  }
}

function podItem(cluster: string, p: LivePod): LiveItem {
  return { key: [cluster, p.namespace, p.name], phase: p.phase, ...(p.node ? { node: p.node } : {}) };
}

function containerItems(cluster: string, p: LivePod): LiveItem[] {
  return [...new Set(p.containers)].map((c) => ({ key: [cluster, p.namespace, p.name, c] }));
}
