/**
 * The web UI's shell: sign-in by token (sessionStorage, never the URL), the token's scopes
 * (GET /tokens/self) deciding what is shown or enabled, hash routing (`#/explore?…`), and
 * the dark/light theme. Pages live in pages/.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { JSX } from 'preact';
import './styles.css';
import { ApiError, grants, request, session, type Me } from './api.ts';
import { ExplorePage } from './pages/explore.tsx';
import { TokensPage } from './pages/tokens.tsx';
import { ClustersPage, ConfigsPage } from './pages/manage.tsx';
import { CollectJobsPage } from './pages/collect-jobs.tsx';
import { ArchivePage } from './pages/archive.tsx';
import { BrowsePage } from './pages/browse.tsx';

const THEME_KEY = 'k8s-logs.theme';

function useHash(): [string, string] {
  const read = () => {
    const h = location.hash.replace(/^#/, '') || '/explore';
    const i = h.indexOf('?');
    return (i < 0 ? [h, ''] : [h.slice(0, i), h.slice(i + 1)]) as [string, string];
  };
  const [v, setV] = useState(read);
  useEffect(() => {
    const on = () => setV(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return v;
}

function SignIn(props: { onSignedIn: (me: Me) => void; message?: string }): JSX.Element {
  const [token, setToken] = useState('');
  const [error, setError] = useState(props.message);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const me = await request<Me>('GET', '/tokens/self', undefined, { token: token.trim() });
      session.set(token.trim());
      props.onSignedIn(me);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'That token is not valid (unknown, expired or revoked).'
          : (err as Error).message,
      );
    }
  };
  return (
    <form class="signin card" onSubmit={submit} aria-label="Sign in">
      <h2>k8s-logs</h2>
      <p class="muted">
        Sign in with an access token. It is kept in this browser tab only (session storage) and sent to the API as a
        bearer token.
      </p>
      <label class="field">
        Access token
        <input
          name="token"
          type="password"
          autoComplete="off"
          autoFocus
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <p>
        <button class="primary" type="submit" disabled={!token.trim()}>
          Sign in
        </button>
      </p>
    </form>
  );
}

function App(): JSX.Element {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [theme, setTheme] = useState(
    () => localStorage.getItem(THEME_KEY) ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'),
  );
  const [path, search] = useHash();
  useEffect(() => {
    document.documentElement.dataset['theme'] = theme;
    localStorage.setItem(THEME_KEY, theme);
  }, [theme]);
  useEffect(() => {
    if (!session.token()) return setMe(null);
    request<Me>('GET', '/tokens/self')
      .then(setMe)
      .catch(() => (session.clear(), setMe(null)));
  }, []);
  if (me === undefined) return <div class="page muted">…</div>;
  if (me === null) return <SignIn onSignedIn={setMe} />;
  const can = {
    read: grants(me, 'logs:read'),
    write: grants(me, 'logs:write'),
    archive: grants(me, 'archive'),
    admin: grants(me, 'admin'),
  };
  const nav: Array<[string, string, boolean]> = [
    ['/explore', 'Explore', can.read],
    ['/browse', 'Browse', can.read],
    ['/configs', 'Collection', can.read],
    ['/collect', 'Collect jobs', can.read],
    ['/archive', 'Archive', can.read || can.archive],
    ['/clusters', 'Clusters', can.read],
    ['/tokens', 'Access tokens', can.admin],
  ];
  const navigate = (s: string) => {
    location.hash = `${path}?${s}`;
  };
  let page: JSX.Element;
  switch (path) {
    case '/browse':
      page = <BrowsePage />;
      break;
    case '/configs':
      page = <ConfigsPage canWrite={can.write} />;
      break;
    case '/collect':
      page = <CollectJobsPage canWrite={can.write} />;
      break;
    case '/archive':
      page = <ArchivePage canArchive={can.archive} />;
      break;
    case '/clusters':
      page = <ClustersPage isAdmin={can.admin} />;
      break;
    case '/tokens':
      page = <TokensPage isAdmin={can.admin} />;
      break;
    default:
      page = <ExplorePage search={search} navigate={navigate} canRead={can.read} />;
  }
  const limits = [
    me.clusters && `clusters: ${me.clusters.join(', ')}`,
    me.namespaces && `namespaces: ${me.namespaces.join(', ')}`,
  ]
    .filter(Boolean)
    .join(' · ');
  return (
    <>
      <header class="top">
        <span class="brand">k8s-logs</span>
        <nav aria-label="Pages">
          {nav
            .filter(([, , shown]) => shown)
            .map(([p, label]) => (
              <a
                key={p}
                href={`#${p}`}
                class={path === p || (p === '/explore' && !nav.some(([q]) => q === path)) ? 'active' : ''}
              >
                {label}
              </a>
            ))}
        </nav>
        <span class="who" data-testid="who">
          <span title={me.scopes.join(', ')}>
            {me.name}
            {limits ? ` (${limits})` : ''}
          </span>
          <button class="small" onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')} aria-label="Toggle theme">
            {theme === 'dark' ? '☀' : '☾'}
          </button>
          <button class="small" onClick={() => (session.clear(), setMe(null))}>
            sign out
          </button>
        </span>
      </header>
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
