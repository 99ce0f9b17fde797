/** Access Tokens (admin): list, create with scopes and limits (secret shown once), revoke. */
import { useState } from 'preact/hooks';
import type { JSX } from 'preact';
import { del, get, post, qs, type Scope } from '../api.ts';
import { ErrorLine, Guard, useLoad, when } from '../components/resource.tsx';

interface Token {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  clusters: string[] | null;
  namespaces: string[] | null;
  created_at: string;
  expires_at: string | null;
}
const SCOPES: Scope[] = ['logs:read', 'logs:write', 'archive', 'admin', 'ingest'];
const csv = (v: string) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export function TokensPage(props: { isAdmin: boolean }): JSX.Element {
  const list = useLoad(() => get<{ tokens: Token[] }>(`/tokens${qs({ limit: 1000 })}`), []);
  const [form, setForm] = useState({
    name: '',
    scopes: ['logs:read'] as Scope[],
    clusters: '',
    namespaces: '',
    expires: '',
  });
  const [created, setCreated] = useState<{ token: string; name: string } | undefined>();
  const [err, setErr] = useState<Error | undefined>();
  // Revoked here: hidden at once (the list is a search, which may lag the revoke by a refresh).
  const [gone, setGone] = useState<ReadonlySet<string>>(new Set());
  const create = async (e: Event) => {
    e.preventDefault();
    setErr(undefined);
    try {
      const body: Record<string, unknown> = { name: form.name, scopes: form.scopes };
      if (csv(form.clusters).length) body['clusters'] = csv(form.clusters);
      if (csv(form.namespaces).length) body['namespaces'] = csv(form.namespaces);
      if (form.expires) body['expires_at'] = new Date(form.expires).toISOString();
      const r = await post<{ token: string; name: string }>('/tokens', body);
      setCreated(r);
      setForm({ ...form, name: '' });
      list.reload();
    } catch (x) {
      setErr(x as Error);
    }
  };
  const revoke = async (t: Token) => {
    if (!confirm(`Revoke token "${t.name}"? Clients using it are refused from now on.`)) return;
    try {
      await del(`/tokens${qs({ id: t.id })}`);
      setGone(new Set([...gone, t.id]));
      list.reload();
    } catch (x) {
      setErr(x as Error);
    }
  };
  return (
    <div class="page">
      <h2>Access tokens</h2>
      <Guard allowed={props.isAdmin} scope="admin">
        <form class="card" onSubmit={create} aria-label="Create a token">
          <div class="row">
            <label class="field">
              Name
              <input
                name="name"
                required
                value={form.name}
                onInput={(e) => setForm({ ...form, name: (e.target as HTMLInputElement).value })}
              />
            </label>
            <fieldset class="row" style={{ border: '0', padding: '0' }}>
              <legend class="muted" style={{ fontSize: '12px' }}>
                Scopes
              </legend>
              {SCOPES.map((s) => (
                <label key={s}>
                  <input
                    type="checkbox"
                    name={`scope-${s}`}
                    checked={form.scopes.includes(s)}
                    onChange={() =>
                      setForm({
                        ...form,
                        scopes: form.scopes.includes(s) ? form.scopes.filter((x) => x !== s) : [...form.scopes, s],
                      })
                    }
                  />{' '}
                  {s}
                </label>
              ))}
            </fieldset>
          </div>
          <div class="row" style={{ marginTop: '8px' }}>
            <label class="field">
              Clusters (comma-separated, empty = all)
              <input
                name="clusters"
                value={form.clusters}
                onInput={(e) => setForm({ ...form, clusters: (e.target as HTMLInputElement).value })}
              />
            </label>
            <label class="field">
              Namespaces (empty = all)
              <input
                name="namespaces"
                value={form.namespaces}
                onInput={(e) => setForm({ ...form, namespaces: (e.target as HTMLInputElement).value })}
              />
            </label>
            <label class="field">
              Expires (optional)
              <input
                name="expires"
                type="datetime-local"
                value={form.expires}
                onInput={(e) => setForm({ ...form, expires: (e.target as HTMLInputElement).value })}
              />
            </label>
            <button class="primary" type="submit" disabled={!form.name || form.scopes.length === 0}>
              Create token
            </button>
          </div>
        </form>
        {created && (
          <div class="card" role="status" data-testid="new-secret">
            <strong>Token “{created.name}” created.</strong> Copy the secret now: it is shown only once and cannot be
            read again.
            <div class="row" style={{ marginTop: '6px' }}>
              <div class="secret" data-testid="secret">
                {created.token}
              </div>
              <button onClick={() => void navigator.clipboard?.writeText(created.token)}>copy</button>
              <button onClick={() => setCreated(undefined)}>done</button>
            </div>
          </div>
        )}
        <ErrorLine error={err ?? list.error} />
        <table class="grid" data-testid="tokens">
          <thead>
            <tr>
              <th>name</th>
              <th>prefix</th>
              <th>scopes</th>
              <th>clusters</th>
              <th>namespaces</th>
              <th>created</th>
              <th>expires</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(list.data?.tokens ?? [])
              .filter((t) => !gone.has(t.id))
              .map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td class="mono">{t.prefix}…</td>
                  <td>
                    {t.scopes.map((s) => (
                      <span class="pill" key={s}>
                        {s}
                      </span>
                    ))}
                  </td>
                  <td>{t.clusters?.join(', ') ?? <span class="muted">all</span>}</td>
                  <td>{t.namespaces?.join(', ') ?? <span class="muted">all</span>}</td>
                  <td>{when(t.created_at)}</td>
                  <td>{when(t.expires_at)}</td>
                  <td>
                    <button class="small danger" onClick={() => revoke(t)} aria-label={`revoke ${t.name}`}>
                      revoke
                    </button>
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </Guard>
    </div>
  );
}
