/**
 * Manage pages: collection configurations and cluster registrations and status (the
 * archive and collect jobs have pages of their own).
 * Actions a token lacks the scope for are disabled; the API refuses them anyway.
 */
import { useState } from 'preact/hooks';
import type { JSX } from 'preact';
import { del, get, post, put, qs } from '../api.ts';
import { ErrorLine, useAction, useLoad, when } from '../components/resource.tsx';

const csv = (v: string) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

interface Config {
  id: string;
  cluster: string;
  namespace: string | null;
  enabled: boolean;
  version: string;
  updated_at: string;
  exclude_pods?: string[];
  exclude_containers?: string[];
  include_pods?: string[];
  min_level?: string;
  [k: string]: unknown;
}

export function ConfigsPage(props: { canWrite: boolean }): JSX.Element {
  const list = useLoad(() => get<{ configs: Config[] }>(`/config${qs({ limit: 1000 })}`), []);
  const [err, act] = useAction(list.reload);
  const empty = {
    cluster: '',
    namespace: '',
    exclude_pods: '',
    exclude_containers: '',
    include_pods: '',
    min_level: '',
    enabled: true,
  };
  const [form, setForm] = useState(empty);
  const [editing, setEditing] = useState<Config | undefined>();
  // Written here, shown at once (the list is a search, which may lag a write by a refresh); the list's copy wins once newer.
  // A deletion is kept as a tombstone with the deleted copy's updated_at: it hides the list's stale copy, not a newer one.
  const [written, setWritten] = useState<Array<Config & { deleted?: true }>>([]);
  const remember = (c: Config & { deleted?: true }) => setWritten((w) => [...w.filter((x) => x.id !== c.id), c]);
  const shown = (() => {
    const byId = new Map<string, Config>((list.data?.configs ?? []).map((c) => [c.id, c]));
    for (const c of written) {
      const listed = byId.get(c.id);
      if (!listed || listed.updated_at <= c.updated_at) byId.set(c.id, c);
    }
    return [...byId.values()]
      .filter((c) => !c['deleted'])
      .sort((a, b) => (a.cluster + (a.namespace ?? '')).localeCompare(b.cluster + (b.namespace ?? '')));
  })();
  const settings = () => {
    const s: Record<string, unknown> = { enabled: form.enabled };
    if (csv(form.exclude_pods).length) s['exclude_pods'] = csv(form.exclude_pods);
    if (csv(form.exclude_containers).length) s['exclude_containers'] = csv(form.exclude_containers);
    if (csv(form.include_pods).length) s['include_pods'] = csv(form.include_pods);
    if (form.min_level) s['min_level'] = form.min_level;
    return s;
  };
  const save = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      if (editing) remember(await put<Config>(`/config${qs({ id: editing.id })}`, settings()));
      else
        remember(
          await post<Config>('/config', {
            cluster: form.cluster,
            ...(form.namespace ? { namespace: form.namespace } : {}),
            ...settings(),
          }),
        );
      setForm(empty);
      setEditing(undefined);
    });
  };
  const edit = (c: Config) => {
    setEditing(c);
    setForm({
      cluster: c.cluster,
      namespace: c.namespace ?? '',
      exclude_pods: (c.exclude_pods ?? []).join(','),
      exclude_containers: (c.exclude_containers ?? []).join(','),
      include_pods: (c.include_pods ?? []).join(','),
      min_level: c.min_level ?? '',
      enabled: c.enabled,
    });
  };
  const field = (k: keyof typeof empty, label: string, disabled = false) => (
    <label class="field">
      {label}
      <input
        name={k}
        disabled={disabled}
        value={String(form[k])}
        onInput={(e) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value })}
      />
    </label>
  );
  return (
    <div class="page">
      <h2>Collection configurations</h2>
      <p class="muted">
        What the agents collect, per cluster and per namespace (agents apply a change within seconds).
      </p>
      {props.canWrite ? (
        <form class="card" onSubmit={save} aria-label={editing ? 'Edit configuration' : 'Create configuration'}>
          <div class="row">
            {field('cluster', 'Cluster', !!editing)}
            {field('namespace', 'Namespace (empty = whole cluster)', !!editing)}
            {field('exclude_pods', 'Exclude pods (globs)')}
            {field('exclude_containers', 'Exclude containers')}
            {field('include_pods', 'Only pods (globs)')}
            <label class="field">
              Min level
              <select
                name="min_level"
                value={form.min_level}
                onChange={(e) => setForm({ ...form, min_level: (e.target as HTMLSelectElement).value })}
              >
                <option value="">(all)</option>
                {['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <input
                type="checkbox"
                name="enabled"
                checked={form.enabled}
                onChange={() => setForm({ ...form, enabled: !form.enabled })}
              />{' '}
              enabled
            </label>
            <button class="primary" type="submit" disabled={!form.cluster}>
              {editing ? 'Save' : 'Create'}
            </button>
            {editing && (
              <button type="button" onClick={() => (setEditing(undefined), setForm(empty))}>
                cancel
              </button>
            )}
          </div>
        </form>
      ) : (
        <div class="banner">
          Read-only: changing configurations needs <code>logs:write</code>.
        </div>
      )}
      <ErrorLine error={err ?? list.error} />
      <table class="grid" data-testid="configs">
        <thead>
          <tr>
            <th>cluster</th>
            <th>namespace</th>
            <th>enabled</th>
            <th>settings</th>
            <th>updated</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {shown.map((c) => {
            const { id: _i, cluster, namespace, enabled, version: _v, created_at: _c, updated_at, ...rest } = c;
            return (
              <tr key={c.id}>
                <td>{cluster}</td>
                <td>{namespace ?? <span class="muted">(cluster-wide)</span>}</td>
                <td class={enabled ? 'ok' : 'error'}>{enabled ? 'yes' : 'disabled'}</td>
                <td class="mono">
                  {Object.entries(rest)
                    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
                    .join('  ')}
                </td>
                <td>{when(updated_at)}</td>
                <td class="row">
                  <button class="small" disabled={!props.canWrite} onClick={() => edit(c)}>
                    edit
                  </button>
                  {namespace ? (
                    <button
                      class="small"
                      disabled={!props.canWrite || !enabled}
                      onClick={() =>
                        void act(async () =>
                          remember((await post<{ config: Config }>('/config/disable', { cluster, namespace })).config),
                        )
                      }
                    >
                      disable namespace
                    </button>
                  ) : (
                    <button
                      class="small"
                      disabled={!props.canWrite || !enabled}
                      onClick={() =>
                        void act(async () =>
                          remember((await post<{ config: Config }>('/config/disable/cluster', { cluster })).config),
                        )
                      }
                    >
                      disable cluster
                    </button>
                  )}
                  <button
                    class="small danger"
                    disabled={!props.canWrite}
                    onClick={() =>
                      confirm('Delete this configuration?') &&
                      void act(async () => {
                        await del(`/config${qs({ id: c.id })}`);
                        remember({ ...c, deleted: true });
                      })
                    }
                  >
                    delete
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function ClustersPage(props: { isAdmin: boolean }): JSX.Element {
  const status = useLoad(
    () => get<{ clusters: Array<Record<string, any>>; checked_at: string }>('/clusters/status'),
    [],
  );
  const regs = useLoad(
    () => get<{ clusters: Array<Record<string, any>> }>(`/clusters/configs${qs({ limit: 1000 })}`),
    [],
  );
  const reload = () => (status.reload(), regs.reload());
  const [err, act] = useAction(reload);
  const [draft, setDraft] = useState(
    '{\n  "id": "prod-eu",\n  "name": "Production EU",\n  "api": { "server": "https://…", "token": "…" }\n}',
  );
  return (
    <div class="page">
      <h2>
        Clusters{' '}
        <button class="small" onClick={reload}>
          refresh
        </button>
      </h2>
      <ErrorLine error={err ?? status.error} />
      <table class="grid" data-testid="cluster-status">
        <thead>
          <tr>
            <th>cluster</th>
            <th>status</th>
            <th>agents</th>
            <th>last record</th>
            <th>rate</th>
            <th>API</th>
            <th>reasons</th>
          </tr>
        </thead>
        <tbody>
          {(status.data?.clusters ?? []).map((c) => (
            <tr key={c['id']}>
              <td>
                <strong>{c['name']}</strong> <span class="muted mono">{c['id']}</span>
              </td>
              <td
                class={
                  c['status'] === 'healthy' ? 'status-ok' : c['status'] === 'degraded' ? 'status-warn' : 'status-bad'
                }
              >
                {c['status']}
              </td>
              <td>
                {c['agents']?.['nodes_reporting']} reporting
                {c['agents']?.['stale_agents'] ? `, ${c['agents']['stale_agents']} stale` : ''}
              </td>
              <td>{when(c['last_record_at'])}</td>
              <td>{Number(c['ingest_rate_per_second'] ?? 0).toFixed(1)}/s</td>
              <td>{c['api'] ? String(c['api']['state'] ?? JSON.stringify(c['api'])) : '—'}</td>
              <td class="muted">{(c['reasons'] ?? []).join('; ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Registrations</h3>
      <ErrorLine error={regs.error} />
      <table class="grid">
        <thead>
          <tr>
            <th>id</th>
            <th>registration</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(regs.data?.clusters ?? []).map((c) => (
            <tr key={c['id']}>
              <td class="mono">{c['id']}</td>
              <td class="mono">{JSON.stringify(c)}</td>
              <td class="row">
                <button
                  class="small"
                  disabled={!props.isAdmin}
                  onClick={() => void act(() => post(`/clusters/refresh${qs({ id: c['id'] })}`))}
                >
                  reconnect
                </button>
                <button
                  class="small danger"
                  disabled={!props.isAdmin}
                  onClick={() =>
                    confirm(`Remove the registration of ${c['id']}?`) &&
                    void act(() => del(`/clusters/configs${qs({ id: c['id'] })}`))
                  }
                >
                  remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.isAdmin && (
        <div class="card">
          <div class="muted">
            Register a cluster (request body of <code>POST /clusters/configs</code>; credentials are stored encrypted
            and never shown):
          </div>
          <textarea
            rows={6}
            value={draft}
            onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
            aria-label="Cluster JSON"
          />
          <button class="primary" onClick={() => void act(() => post('/clusters/configs', JSON.parse(draft)))}>
            Register
          </button>
        </div>
      )}
    </div>
  );
}
