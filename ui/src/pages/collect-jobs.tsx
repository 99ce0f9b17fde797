/**
 * Collect jobs page: start a one-time, continuous or bulk collection through a registered
 * cluster's Kubernetes API, follow each job's progress (pods done of all, lines, bytes) and
 * its per-pod state, cancel a running job. While a job is pending or running the list is
 * re-read every POLL_MS, so progress moves without a click. Shapes are `/collect*`'s
 * (`/docs`: collect).
 */
import { useEffect, useState } from 'preact/hooks';
import type { JSX } from 'preact';
import { del, get, post, qs } from '../api.ts';
import { ErrorLine, isMissingRoute, useAction, useLoad, when } from '../components/resource.tsx';

interface ContainerProgress {
  status: string;
  error: string | null;
  lines: number;
  bytes: number;
}
interface PodProgress {
  namespace: string;
  pod: string;
  status: string;
  error: string | null;
  containers: Record<string, ContainerProgress>;
}
interface CollectJob {
  id: string;
  type: string;
  status: string;
  params: { cluster?: string; namespaces?: string[] | null; pods?: string[] | null; label_selector?: string | null };
  progress: {
    pods_total?: number;
    pods_done?: number;
    pods_failed?: number;
    pods_excluded?: number;
    lines?: number;
    bytes?: number;
    pods?: Record<string, PodProgress>;
  } | null;
  error: { code: string; message: string } | null;
  created_at: string;
  finished_at: string | null;
  cancel_requested: boolean;
}

const KINDS = {
  'one-time': {
    path: '/collect',
    body: '{\n  "cluster": "",\n  "namespace": "",\n  "pods": [],\n  "since_seconds": 3600\n}',
    what: 'the pods named (or a label_selector), once, over a window',
  },
  continuous: {
    path: '/collect/continuous',
    body: '{\n  "cluster": "",\n  "namespace": "",\n  "label_selector": "app=web"\n}',
    what: 'follows the selected pods, and pods that match later, until cancelled or end_time',
  },
  bulk: {
    path: '/collect/bulk',
    body: '{\n  "cluster": "",\n  "namespace": "",\n  "tail_lines": 100\n}',
    what: 'every pod of a namespace, a label selector or the cluster, a few containers at a time',
  },
} as const;
type Kind = keyof typeof KINDS;

/** Re-read period of the list while any job is pending or running, ms. */
const POLL_MS = 2000;

const LABEL: Record<string, string> = {
  collect: 'one-time',
  'collect-continuous': 'continuous',
  'collect-bulk': 'bulk',
};

function scopeOf(p: CollectJob['params']): string {
  const ns = p.namespaces?.length ? p.namespaces.join(', ') : 'all namespaces';
  const pods = p.pods?.length
    ? `pods ${p.pods.join(', ')}`
    : p.label_selector
      ? `pods ${p.label_selector}`
      : 'all pods';
  return `${p.cluster ?? '?'} / ${ns} / ${pods}`;
}

function progressOf(j: CollectJob): string {
  const p = j.progress;
  if (!p) return j.status === 'pending' ? 'waiting' : '';
  const pods = p.pods_total !== undefined ? `${p.pods_done ?? 0} of ${p.pods_total} pods` : '';
  const failed = p.pods_failed ? `, ${p.pods_failed} failed` : '';
  return `${pods}${failed}, ${p.lines ?? 0} lines, ${p.bytes ?? 0} bytes`;
}

export function CollectJobsPage(props: { canWrite: boolean }): JSX.Element {
  const list = useLoad(() => get<{ jobs: CollectJob[] }>(`/collect/jobs${qs({ limit: 100 })}`), []);
  const [err, act] = useAction(list.reload);
  const [kind, setKind] = useState<Kind>('one-time');
  const [body, setBody] = useState<string>(KINDS['one-time'].body);
  const [open, setOpen] = useState<string | undefined>();
  const active = (list.data?.jobs ?? []).some((j) => j.status === 'pending' || j.status === 'running');
  useEffect(() => {
    if (!active || list.loading) return;
    const timer = setTimeout(list.reload, POLL_MS);
    return () => clearTimeout(timer);
  }, [active, list.loading, list.data]);
  if (isMissingRoute(list.error))
    return (
      <div class="page">
        <h2>Collection jobs</h2>
        <div class="banner" data-testid="not-available">
          Collection jobs are not available on this server (no <code>/collect</code> API).
        </div>
      </div>
    );
  return (
    <div class="page">
      <h2>
        Collection jobs{' '}
        <button class="small" onClick={list.reload}>
          refresh
        </button>
      </h2>
      <div class="card">
        <div class="row" role="radiogroup" aria-label="Kind of collection">
          {(Object.keys(KINDS) as Kind[]).map((k) => (
            <label key={k}>
              <input
                type="radio"
                name="kind"
                checked={kind === k}
                onChange={() => (setKind(k), setBody(KINDS[k].body))}
              />{' '}
              {k}
            </label>
          ))}
        </div>
        <div class="muted">
          {KINDS[kind].what}: request body of <code>POST {KINDS[kind].path}</code> (every field is in /docs)
        </div>
        <textarea
          rows={6}
          value={body}
          onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)}
          aria-label="Collection request"
        />
        <button
          class="primary"
          disabled={!props.canWrite}
          onClick={() => void act(() => post(KINDS[kind].path, JSON.parse(body)))}
        >
          Start
        </button>
      </div>
      <ErrorLine error={err ?? list.error} />
      <table class="grid" data-testid="collect-jobs">
        <thead>
          <tr>
            <th>job</th>
            <th>kind</th>
            <th>reads</th>
            <th>status</th>
            <th>progress</th>
            <th>created</th>
            <th>finished</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(list.data?.jobs ?? []).flatMap((j) => [
            <tr key={j.id}>
              <td class="mono">
                <button
                  class="small"
                  aria-expanded={open === j.id}
                  onClick={() => setOpen(open === j.id ? undefined : j.id)}
                >
                  {open === j.id ? '▾' : '▸'}
                </button>{' '}
                {j.id}
              </td>
              <td>{LABEL[j.type] ?? j.type}</td>
              <td>{scopeOf(j.params)}</td>
              <td class={j.status === 'succeeded' ? 'status-ok' : j.status === 'failed' ? 'status-bad' : ''}>
                {j.status}
                {j.cancel_requested && j.status === 'running' ? ' (cancelling)' : ''}
              </td>
              <td>{j.error ? j.error.message : progressOf(j)}</td>
              <td>{when(j.created_at)}</td>
              <td>{when(j.finished_at)}</td>
              <td>
                <button
                  class="small danger"
                  disabled={!props.canWrite || !['pending', 'running'].includes(j.status) || j.cancel_requested}
                  onClick={() => void act(() => del(`/collect/jobs${qs({ id: j.id })}`))}
                >
                  cancel
                </button>
              </td>
            </tr>,
            ...(open === j.id ? [<PodRows key={`${j.id}-pods`} job={j} />] : []),
          ])}
        </tbody>
      </table>
    </div>
  );
}

/** One row holding the job's per-pod, per-container state. */
function PodRows(props: { job: CollectJob }): JSX.Element {
  const pods = Object.values(props.job.progress?.pods ?? {});
  return (
    <tr>
      <td colSpan={8}>
        <table class="grid" data-testid="collect-pods">
          <thead>
            <tr>
              <th>pod</th>
              <th>container</th>
              <th>status</th>
              <th>lines</th>
              <th>bytes</th>
              <th>error</th>
            </tr>
          </thead>
          <tbody>
            {pods.length === 0 && (
              <tr>
                <td colSpan={6} class="muted">
                  no pod read yet
                </td>
              </tr>
            )}
            {pods.flatMap((p) =>
              Object.entries(p.containers).map(([name, c]) => (
                <tr key={`${p.namespace}/${p.pod}/${name}`}>
                  <td>
                    {p.namespace}/{p.pod}
                  </td>
                  <td>{name}</td>
                  <td>{c.status}</td>
                  <td>{c.lines}</td>
                  <td>{c.bytes}</td>
                  <td class="error">{c.error ?? p.error ?? ''}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      </td>
    </tr>
  );
}
