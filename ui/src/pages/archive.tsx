/**
 * Archive page: the archive's totals, policies with their last run, archive and restore jobs,
 * and archived objects with their content read back from S3 (`/s3/content?key=`, paged by
 * cursor). Shapes are the API's (`/docs`: archive). Changes need the `archive` scope.
 */
import { useState } from 'preact/hooks';
import type { JSX } from 'preact';
import { del, get, post, qs } from '../api.ts';
import { ErrorLine, useAction, useLoad, when } from '../components/resource.tsx';

interface Policy {
  id: string;
  name: string;
  enabled: boolean;
  selection: { clusters: string[]; namespaces: string[]; levels: string[] };
  schedule: { age_days: number; interval_minutes: number };
  destination: { bucket: string; prefix: string; storage_class: string };
  format: { compression: string };
  after: { delete_from_store: boolean; s3_retention_days: number | null };
}

interface Job {
  id: string;
  type: string;
  status: string;
  params: Record<string, unknown>;
  progress: Record<string, unknown> | null;
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  created_at: string;
  finished_at: string | null;
}

interface ArchivedObject {
  key: string;
  cluster: string;
  namespace: string;
  day: string;
  records: number;
  stored_bytes: number;
  raw_bytes: number;
  first_timestamp: string;
  last_timestamp: string;
  compression: string;
}

interface Stats {
  totals: {
    objects: number;
    records: number;
    stored_bytes: number;
    raw_bytes: number;
    compression_ratio: number | null;
  };
  policies: Record<string, { last_run: { status: string; finished_at: string | null } | null }>;
}

interface ContentPage {
  logs: Array<{ id: string; timestamp: string; pod: string; container: string; level: string; message: string }>;
  has_more: boolean;
  next_cursor: string | null;
}

const NEW_POLICY = `{
  "name": "nightly",
  "selection": { "clusters": [], "namespaces": [] },
  "schedule": { "age_days": 1 },
  "destination": { "bucket": "archive", "prefix": "k8s-logs" },
  "after": { "delete_from_store": false }
}`;

const size = (n: number) =>
  n >= 1 << 30
    ? `${(n / (1 << 30)).toFixed(1)} GiB`
    : n >= 1 << 20
      ? `${(n / (1 << 20)).toFixed(1)} MiB`
      : n >= 1024
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${n} B`;
const all = (xs: string[]) => (xs.length ? xs.join(', ') : 'all');

/** What a job did so far, in a few words (the full documents are in `/archive/jobs`). */
function jobSummary(j: Job): string {
  if (j.error) return j.error.message;
  const r = j.result ?? {};
  if (j.type === 'restore' && 'restored' in r)
    return `${String(r['restored'])} restored, ${String(r['already_present'])} present`;
  if ('records' in r) return `${String(r['records'])} records archived`;
  const parts = (j.progress?.['partitions'] ?? j.progress?.['objects']) as Record<string, unknown> | undefined;
  return parts ? `${Object.keys(parts).length} done` : '';
}

export function ArchivePage(props: { canArchive: boolean }): JSX.Element {
  const stats = useLoad(() => get<Stats>('/s3/stats'), []);
  const policies = useLoad(() => get<{ policies: Policy[] }>(`/archive/policies${qs({ limit: 1000 })}`), []);
  const jobs = useLoad(() => get<{ jobs: Job[] }>(`/archive/jobs${qs({ limit: 50 })}`), []);
  const restores = useLoad(() => get<{ jobs: Job[] }>(`/archive/jobs${qs({ type: 'restore', limit: 20 })}`), []);
  const objects = useLoad(() => get<{ objects: ArchivedObject[] }>(`/s3/metadata${qs({ limit: 100 })}`), []);
  const reload = () => (stats.reload(), policies.reload(), jobs.reload(), restores.reload(), objects.reload());
  const [err, act] = useAction(reload);
  const [draft, setDraft] = useState(NEW_POLICY);
  const [viewing, setViewing] = useState<ArchivedObject | undefined>();
  const t = stats.data?.totals;
  return (
    <div class="page">
      <h2>
        Archive{' '}
        <button class="small" onClick={reload}>
          refresh
        </button>
      </h2>
      {!props.canArchive && (
        <div class="banner">
          Read-only: archive changes need the <code>archive</code> scope.
        </div>
      )}
      <ErrorLine error={err ?? stats.error ?? policies.error} />
      {t && (
        <p class="muted" data-testid="archive-totals">
          {t.objects} objects, {t.records} records, {size(t.stored_bytes)} stored ({size(t.raw_bytes)} raw
          {t.compression_ratio ? `, ×${t.compression_ratio.toFixed(1)}` : ''})
        </p>
      )}
      <h3>Policies</h3>
      <table class="grid" data-testid="policies">
        <thead>
          <tr>
            <th>policy</th>
            <th>selects</th>
            <th>when</th>
            <th>to</th>
            <th>after</th>
            <th>last run</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(policies.data?.policies ?? []).map((p) => {
            const last = stats.data?.policies[p.id]?.last_run;
            return (
              <tr key={p.id}>
                <td>
                  <strong>{p.name}</strong> <span class="muted mono">{p.id}</span>
                  {!p.enabled && <span class="pill">not scheduled</span>}
                </td>
                <td>
                  clusters {all(p.selection.clusters)}; namespaces {all(p.selection.namespaces)}
                </td>
                <td>
                  days older than {p.schedule.age_days}, every {p.schedule.interval_minutes} min
                </td>
                <td class="mono">
                  s3://{p.destination.bucket}/{p.destination.prefix} ({p.format.compression})
                </td>
                <td>
                  {p.after.delete_from_store ? 'delete from store once verified' : 'keep in store'}
                  {p.after.s3_retention_days ? `; S3 ${p.after.s3_retention_days} days` : ''}
                </td>
                <td>{last ? `${last.status} ${when(last.finished_at)}` : 'never'}</td>
                <td class="row">
                  <button
                    class="small"
                    disabled={!props.canArchive}
                    onClick={() => void act(() => post('/archive/start', { policy_id: p.id }))}
                  >
                    run now
                  </button>
                  <button
                    class="small danger"
                    disabled={!props.canArchive}
                    onClick={() =>
                      confirm('Delete the policy? Its archives stay in S3.') &&
                      void act(() => del(`/archive/policies${qs({ id: p.id })}`))
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
      {props.canArchive && (
        <div class="card">
          <div class="muted">
            New policy (request body of <code>POST /archive/policies</code>; every field is in /docs):
          </div>
          <textarea
            rows={7}
            value={draft}
            onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
            aria-label="Policy JSON"
          />
          <button class="primary" onClick={() => void act(() => post('/archive/policies', JSON.parse(draft)))}>
            Create policy
          </button>
        </div>
      )}
      <h3>Jobs</h3>
      <ErrorLine error={jobs.error} />
      <JobTable jobs={[...(jobs.data?.jobs ?? []), ...(restores.data?.jobs ?? [])]} />
      <h3>Archived objects</h3>
      <ErrorLine error={objects.error} />
      <table class="grid" data-testid="archived-objects">
        <thead>
          <tr>
            <th>object</th>
            <th>cluster / namespace / day</th>
            <th>records</th>
            <th>stored</th>
            <th>range</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(objects.data?.objects ?? []).map((o) => (
            <tr key={o.key}>
              <td class="mono">{o.key}</td>
              <td>
                {o.cluster} / {o.namespace} / {o.day}
              </td>
              <td>{o.records}</td>
              <td>
                {size(o.stored_bytes)} ({o.compression})
              </td>
              <td>
                {when(o.first_timestamp)} → {when(o.last_timestamp)}
              </td>
              <td>
                <button class="small" onClick={() => setViewing(o)}>
                  view
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {viewing && <ObjectContent object={viewing} onClose={() => setViewing(undefined)} />}
    </div>
  );
}

function JobTable(props: { jobs: Job[] }): JSX.Element {
  const jobs = [...props.jobs].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  return (
    <table class="grid" data-testid="archive-jobs">
      <thead>
        <tr>
          <th>job</th>
          <th>type</th>
          <th>status</th>
          <th>what</th>
          <th>created</th>
          <th>finished</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((j) => (
          <tr key={j.id}>
            <td class="mono">{j.id}</td>
            <td>{j.type}</td>
            <td class={j.status === 'succeeded' ? 'status-ok' : j.status === 'failed' ? 'status-bad' : ''}>
              {j.status}
            </td>
            <td>{jobSummary(j)}</td>
            <td>{when(j.created_at)}</td>
            <td>{when(j.finished_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The records of one archived object, read back from S3 a page at a time. */
function ObjectContent(props: { object: ArchivedObject; onClose: () => void }): JSX.Element {
  const [pages, setPages] = useState<ContentPage[]>([]);
  const [error, setError] = useState<Error | undefined>();
  const first = useLoad(
    () => get<ContentPage>(`/s3/content${qs({ key: props.object.key, limit: 200 })}`),
    [props.object.key],
  );
  const shown = [...(first.data ? [first.data] : []), ...pages];
  const next = shown.at(-1)?.has_more ? shown.at(-1)?.next_cursor : null;
  const more = async () => {
    try {
      setPages([
        ...pages,
        await get<ContentPage>(`/s3/content${qs({ key: props.object.key, limit: 200, cursor: next })}`),
      ]);
    } catch (e) {
      setError(e as Error);
    }
  };
  const lines = shown.flatMap((p) => p.logs);
  return (
    <div class="card" data-testid="object-content">
      <div class="row">
        <strong class="mono">{props.object.key}</strong>
        <span class="muted">
          {lines.length} of {props.object.records} records
        </span>
        <button class="small" aria-label="Close object" onClick={props.onClose}>
          ×
        </button>
      </div>
      <ErrorLine error={first.error ?? error} />
      <table class="grid">
        <tbody>
          {lines.map((l) => (
            <tr key={l.id}>
              <td class="mono">{when(l.timestamp)}</td>
              <td>{l.pod}</td>
              <td class={`lvl lvl-${l.level}`}>{l.level}</td>
              <td class="mono">{l.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next && (
        <button class="small" onClick={() => void more()}>
          more
        </button>
      )}
    </div>
  );
}
