/** Browse: clusters → namespaces → pods → containers with log counts and live status; a click opens Explore. */
import { useState } from 'preact/hooks';
import type { JSX } from 'preact';
import { get, qs } from '../api.ts';
import { ErrorLine, useLoad, when } from '../components/resource.tsx';
import { encodeExploreState } from '../lib/url-state.ts';
import { EMPTY_QUERY } from '../lib/query-build.ts';

interface Item {
  cluster: string;
  namespace?: string;
  pod?: string;
  name: string;
  log_count: number;
  last_seen?: string | null;
  exists?: boolean | null;
  phase?: string | null;
}

const explore = (q: Partial<typeof EMPTY_QUERY>) =>
  `#/explore?${encodeExploreState({ query: { ...EMPTY_QUERY, ...q }, range: { from: 'now-1h', to: 'now' } })}`;

function Containers(props: { cluster: string; namespace: string; pod: string }): JSX.Element {
  const r = useLoad(
    () =>
      get<{ containers: Item[] }>(
        `/containers${qs({ cluster: props.cluster, namespace: props.namespace, pod: props.pod })}`,
      ),
    [],
  );
  return (
    <ul>
      {(r.data?.containers ?? []).map((c) => (
        <li key={c.name}>
          ▪{' '}
          <a
            href={explore({
              clusters: [props.cluster],
              namespaces: [props.namespace],
              pods: [props.pod],
              containers: [c.name],
            })}
          >
            {c.name}
          </a>{' '}
          <span class="muted">{c.log_count} lines</span>
        </li>
      ))}
    </ul>
  );
}

function Pods(props: { cluster: string; namespace: string }): JSX.Element {
  const r = useLoad(
    () => get<{ pods: Item[] }>(`/pods${qs({ cluster: props.cluster, namespace: props.namespace, limit: 500 })}`),
    [],
  );
  const [open, setOpen] = useState<string | undefined>();
  return (
    <ul>
      {(r.data?.pods ?? []).map((p) => (
        <li key={p.name}>
          <span
            role="button"
            tabIndex={0}
            onClick={() => setOpen(open === p.name ? undefined : p.name)}
            onKeyDown={(e) => e.key === 'Enter' && setOpen(open === p.name ? undefined : p.name)}
          >
            {open === p.name ? '▾' : '▸'} {p.name}
          </span>{' '}
          <span class="muted">
            {p.log_count} lines · last {when(p.last_seen)}
          </span>{' '}
          {p.phase && <span class={`pill ${p.phase === 'Running' ? 'status-ok' : 'status-warn'}`}>{p.phase}</span>}
          {p.exists === false && <span class="pill status-bad">gone</span>}{' '}
          <a href={explore({ clusters: [props.cluster], namespaces: [props.namespace], pods: [p.name] })}>logs</a>
          {open === p.name && <Containers cluster={props.cluster} namespace={props.namespace} pod={p.name} />}
        </li>
      ))}
    </ul>
  );
}

export function BrowsePage(): JSX.Element {
  const ns = useLoad(
    () =>
      get<{ namespaces: Item[]; live_clusters: Array<{ cluster: string; connected: boolean }> }>(
        `/namespaces${qs({ limit: 1000 })}`,
      ),
    [],
  );
  const status = useLoad(
    () => get<{ clusters: Array<{ id: string; status: string }> }>('/clusters/status').catch(() => ({ clusters: [] })),
    [],
  );
  const [open, setOpen] = useState<string | undefined>();
  const byCluster = new Map<string, Item[]>();
  for (const n of ns.data?.namespaces ?? []) byCluster.set(n.cluster, [...(byCluster.get(n.cluster) ?? []), n]);
  return (
    <div class="page tree">
      <h2>
        Browse{' '}
        <button class="small" onClick={ns.reload}>
          refresh
        </button>
      </h2>
      <ErrorLine error={ns.error} />
      <ul data-testid="browse">
        {[...byCluster].map(([cluster, items]) => {
          const st = status.data?.clusters.find((c) => c.id === cluster)?.status;
          return (
            <li key={cluster}>
              <strong>{cluster}</strong>{' '}
              {st && <span class={`pill ${st === 'healthy' ? 'status-ok' : 'status-warn'}`}>{st}</span>}{' '}
              <span class="muted">{items.reduce((a, n) => a + n.log_count, 0)} lines (24 h)</span>
              <ul>
                {items.map((n) => {
                  const k = `${cluster}/${n.name}`;
                  return (
                    <li key={k}>
                      <span
                        role="button"
                        tabIndex={0}
                        onClick={() => setOpen(open === k ? undefined : k)}
                        onKeyDown={(e) => e.key === 'Enter' && setOpen(open === k ? undefined : k)}
                      >
                        {open === k ? '▾' : '▸'} {n.name}
                      </span>{' '}
                      <span class="muted">
                        {n.log_count} lines · last {when(n.last_seen)}
                      </span>{' '}
                      <a href={explore({ clusters: [cluster], namespaces: [n.name] })}>logs</a>
                      {open === k && <Pods cluster={cluster} namespace={n.name} />}
                    </li>
                  );
                })}
              </ul>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
