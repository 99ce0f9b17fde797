/** Small shared pieces of the manage pages: async loading with errors, actions, guards. */
import { useEffect, useState } from 'preact/hooks';
import type { ComponentChildren, JSX } from 'preact';
import { ApiError } from '../api.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState<Error | undefined>();
  const [loading, setLoading] = useState(true);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load()
      .then((d) => live && (setData(d), setError(undefined)))
      .catch((e: Error) => live && setError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { data, error, loading, reload: () => setN((x) => x + 1) };
}

export function ErrorLine(props: { error: Error | undefined }): JSX.Element | null {
  if (!props.error) return null;
  if (isMissingRoute(props.error)) {
    return <div class="banner">Not available on this server (its API has no such endpoint yet).</div>;
  }
  return (
    <div class="banner error" role="alert">
      {props.error.message}
    </div>
  );
}

/** True for a 404 that means "this server has no such route" (not "no such resource"). */
export function isMissingRoute(e: Error | undefined): boolean {
  return e instanceof ApiError && e.status === 404 && /^no route /.test(e.message);
}

export function Guard(props: { allowed: boolean; scope: string; children: ComponentChildren }): JSX.Element {
  if (!props.allowed)
    return (
      <div class="banner">
        This token lacks the <code>{props.scope}</code> scope: this page is read-only or hidden for it.
      </div>
    );
  return <>{props.children}</>;
}

export const when = (ts: string | null | undefined) => (ts ? ts.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');

/** Runs a change, keeps its error for the page, and reloads what it changed on success. */
export function useAction(onDone: () => void): [Error | undefined, (f: () => Promise<unknown>) => Promise<void>] {
  const [err, setErr] = useState<Error | undefined>();
  return [
    err,
    async (f) => {
      setErr(undefined);
      try {
        await f();
        onDone();
      } catch (e) {
        setErr(e as Error);
      }
    },
  ];
}
