/**
 * Explore: query bar (simple filters or LogQL), time range in the URL, volume histogram by
 * level with drag-zoom, the virtualized result list, line details with filter in/out,
 * context, load older (cursor), NDJSON download, patterns, and live tail on the same
 * timeline (hand-off by `since` + merge by id: lib/handoff.ts).
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { JSX } from 'preact';
import {
  API,
  type ApiError,
  get,
  post,
  qs,
  session,
  tail,
  type LogRecord,
  type SearchResponse,
  type TailEvent,
} from '../api.ts';
import {
  applyFilter,
  excludes,
  Levels,
  searchBody,
  tailParams,
  toLogql,
  type ExploreQuery,
  type Level,
} from '../lib/query-build.ts';
import { absoluteRange, describeRange, QUICK_RANGES, resolveRange, type TimeRange } from '../lib/time-range.ts';
import { decodeExploreState, encodeExploreState } from '../lib/url-state.ts';
import { volumeByLevel, bucketRecords } from '../lib/volume.ts';
import { groupPatterns } from '../lib/patterns.ts';
import { restartMarkers } from '../lib/restart-markers.ts';
import { compareWindows, previousWindow, type Comparison } from '../lib/compare.ts';
import { stripAnsi } from '../lib/ansi.ts';
import { prettyJson } from '../lib/highlight.ts';
import { Timeline } from '../lib/handoff.ts';
import { Histogram } from '../components/histogram.tsx';
import { LogList, Message, shortTime, type Row } from '../components/log-list.tsx';
import { LogqlInput } from '../components/logql-input.tsx';

const PAGE = 1000;
const MAX_LIVE_ROWS = 50_000;
const HISTORY_KEY = 'k8s-logs.query-history';

function remember(entry: string) {
  if (!entry) return;
  const list = [entry, ...loadHistory().filter((x) => x !== entry)].slice(0, 20);
  localStorage.setItem(HISTORY_KEY, JSON.stringify(list));
}
function loadHistory(): string[] {
  try {
    return JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]') as string[];
  } catch {
    return [];
  }
}

/** Names for autocomplete: namespaces / pods / containers with logs (discovery API). */
function useNames(path: string, params: Record<string, string | undefined>): string[] {
  const [names, setNames] = useState<string[]>([]);
  const key = path + JSON.stringify(params);
  useEffect(() => {
    const ctrl = new AbortController();
    get<Record<string, Array<{ name: string }>>>(`${path}${qs({ ...params, limit: 200 })}`, ctrl.signal)
      .then((r) => setNames([...new Set((r[path.slice(1)] ?? []).map((i) => i.name))]))
      .catch(() => setNames([]));
    return () => ctrl.abort();
  }, [key]);
  return names;
}

function csv(v: string): string[] {
  return v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

export function ExplorePage(props: {
  search: string;
  navigate: (search: string) => void;
  canRead: boolean;
}): JSX.Element {
  const state = useMemo(() => decodeExploreState(props.search), [props.search]);
  const [draft, setDraft] = useState<ExploreQuery>(state.query);
  const [rangeDraft, setRangeDraft] = useState<TimeRange>(state.range);
  useEffect(() => {
    setDraft(state.query);
    setRangeDraft(state.range);
  }, [props.search]);

  const timeline = useRef(new Timeline<LogRecord>());
  const [version, setVersion] = useState(0);
  const [result, setResult] = useState<
    { resp?: SearchResponse; startMs: number; endMs: number; start: string; end: string } | undefined
  >();
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [selected, setSelected] = useState<LogRecord | undefined>();
  const [wrap, setWrap] = useState(false);
  const [view, setView] = useState<'lines' | 'patterns'>('lines');
  const [context, setContext] = useState<{ anchor: LogRecord; before: LogRecord[]; after: LogRecord[] } | undefined>();
  const [live, setLive] = useState<{
    on: boolean;
    paused: boolean;
    received: number;
    shown: number;
    waiting: number;
    lost: number;
    status: string;
  }>({ on: false, paused: false, received: 0, shown: 0, waiting: 0, lost: 0, status: '' });
  const pausedRef = useRef(false);
  const liveCtrl = useRef<AbortController | undefined>(undefined);
  const pausedBuffer = useRef<LogRecord[]>([]);
  const gaps = useRef<Row[]>([]);
  const [logqlLines, setLogqlLines] = useState<LogRecord[] | undefined>();
  const [comparison, setComparison] = useState<
    { figures: Comparison; previousStart: string; previousEnd: string; loaded: [number, number] } | undefined
  >();

  const terms = useMemo(() => (state.query.text ? [state.query.text] : []), [state.query.text]);
  const keep = useMemo(() => excludes(state.query), [state.query]);

  async function run(signal: AbortSignal) {
    stopLive();
    const range = resolveRange(state.range, Date.now());
    if ('error' in range) return setError(range.error);
    setError(undefined);
    setLoading(true);
    setSelected(undefined);
    setContext(undefined);
    setComparison(undefined);
    gaps.current = [];
    // Relative ends are resolved here once, so paging and the histogram share one window.
    const start = new Date(range.startMs).toISOString();
    const end = new Date(range.endMs).toISOString();
    try {
      if (state.query.mode === 'logql') {
        const r = await post<{
          result_type: string;
          result: Array<{ stream: Record<string, string>; values: Array<[string, string]> }>;
        }>('/search/logql', { query: state.query.logql, start, end, limit: 5000, direction: 'backward' });
        if (signal.aborted) return;
        if (r.result_type !== 'streams')
          throw new Error(
            `this query returns ${r.result_type}; Explore shows log queries (metric queries: use the API)`,
          );
        const lines: LogRecord[] = [];
        for (const s of r.result) {
          for (const [ns, line] of s.values) {
            const ts = new Date(Number(BigInt(ns) / 1_000_000n)).toISOString().replace('Z', `${ns.slice(-6)}Z`);
            lines.push({
              id: `${ns}-${lines.length}`,
              timestamp: ts,
              cluster: s.stream['cluster'] ?? '',
              namespace: s.stream['namespace'] ?? '',
              pod: s.stream['pod'] ?? '',
              container: s.stream['container'] ?? '',
              stream: s.stream['stream'] ?? '',
              level: s.stream['detected_level'] ?? 'unknown',
              message: line,
              labels: s.stream,
            });
          }
        }
        lines.sort((a, b) => (a.timestamp < b.timestamp ? 1 : -1));
        setLogqlLines(lines);
        timeline.current.reset(lines);
        setResult({ startMs: range.startMs, endMs: range.endMs, start, end });
        setCursor(null);
      } else {
        setLogqlLines(undefined);
        const resp = await post<SearchResponse>(
          '/search',
          searchBody(state.query, start, end, { limit: PAGE, first: true }),
        );
        if (signal.aborted) return;
        timeline.current.reset(resp.logs);
        setResult({ resp, startMs: range.startMs, endMs: range.endMs, start, end });
        setCursor(resp.next_cursor);
      }
      remember(state.query.mode === 'logql' ? state.query.logql : state.query.text);
      setVersion((v) => v + 1);
    } catch (err) {
      if (!signal.aborted) setError((err as Error).message);
    } finally {
      if (!signal.aborted) setLoading(false);
    }
  }
  useEffect(() => {
    if (!props.canRead) return;
    const ctrl = new AbortController();
    void run(ctrl.signal);
    return () => ctrl.abort();
  }, [props.search]);
  useEffect(() => () => stopLive(), []);

  /** The same filters over the window of the same length just before this one. */
  async function compare() {
    if (!result?.resp) return;
    if (comparison) return setComparison(undefined);
    const prev = previousWindow(result.startMs, result.endMs);
    const previousStart = new Date(prev.startMs).toISOString();
    const previousEnd = new Date(prev.endMs).toISOString();
    try {
      const before = await post<SearchResponse>(
        '/search',
        searchBody(state.query, previousStart, previousEnd, { limit: PAGE, first: true }),
      );
      const figures = (r: SearchResponse, lines: readonly LogRecord[]) => ({
        total: r.total,
        levels: r.aggregations?.level?.buckets ?? [],
        lines: lines.map((l) => stripAnsi(l.message)),
      });
      setComparison({
        figures: compareWindows(figures(result.resp, records), figures(before, before.logs)),
        previousStart,
        previousEnd,
        loaded: [records.length, before.logs.length],
      });
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function loadOlder() {
    if (!cursor || loading || !result) return;
    setLoading(true);
    try {
      const resp = await post<SearchResponse>(
        '/search',
        searchBody(state.query, result.start, result.end, { limit: PAGE, cursor }),
      );
      timeline.current.appendOlder(resp.logs);
      setCursor(resp.next_cursor);
      setVersion((v) => v + 1);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setLoading(false);
    }
  }

  async function download() {
    if (!result) return;
    const body = { ...searchBody(state.query, result.start, result.end, { limit: PAGE }), limit: undefined };
    delete body.limit;
    const res = await fetch(`${API}/search`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${session.token() ?? ''}`,
        accept: 'application/x-ndjson',
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    });
    if (!res.ok) return setError(`download failed: ${res.status}`);
    const blob = await res.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `logs-${result.start}-${result.end}.ndjson`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  async function openContext(r: LogRecord) {
    const base = { cluster: r.cluster, namespace: r.namespace, pod: r.pod, container: r.container, limit: 25 };
    const tsMs = Date.parse(r.timestamp.replace(/(\.\d{3})\d+/, '$1'));
    try {
      const [before, after] = await Promise.all([
        get<SearchResponse>(
          `/${qs({ ...base, end: r.timestamp, start: new Date(tsMs - 86_400_000).toISOString(), direction: 'backward' })}`,
        ),
        get<SearchResponse>(
          `/${qs({ ...base, start: r.timestamp, end: new Date(tsMs + 86_400_000).toISOString(), direction: 'forward' })}`,
        ),
      ]);
      setContext({
        anchor: r,
        before: before.logs.filter((x) => x.id !== r.id).reverse(),
        after: after.logs.filter((x) => x.id !== r.id),
      });
    } catch (err) {
      setError(`context: ${(err as Error).message}`);
    }
  }

  function stopLive() {
    liveCtrl.current?.abort();
    liveCtrl.current = undefined;
    setLive((l) => ({ ...l, on: false, status: l.on ? 'stopped' : l.status }));
  }

  function startLive() {
    if (state.query.mode === 'logql') return setError('live tail follows the simple filters; switch to simple mode');
    stopLive();
    const ctrl = new AbortController();
    liveCtrl.current = ctrl;
    pausedBuffer.current = [];
    // Hand-off: the tail starts at the newest timestamp shown; the timeline drops the ids it has.
    const since = timeline.current.since() ?? new Date(Date.now() - 60_000).toISOString();
    pausedRef.current = false;
    setLive({
      on: true,
      paused: false,
      received: 0,
      shown: timeline.current.records.length,
      waiting: 0,
      lost: 0,
      status: 'connecting…',
    });
    let received = 0;
    let lost = 0;
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    let pending: LogRecord[] = [];
    const flush = () => {
      flushTimer = undefined;
      const batch = pending.filter((r) => keep(r.message));
      pending = [];
      if (pausedRef.current) {
        pausedBuffer.current.push(...batch);
        setLive((l) => ({ ...l, received, lost, waiting: pausedBuffer.current.length }));
        return;
      }
      timeline.current.addLive(batch);
      timeline.current.trim(MAX_LIVE_ROWS);
      setVersion((v) => v + 1);
      setLive((l) => ({ ...l, received, lost, shown: timeline.current.records.length }));
    };
    const onEvent = (e: TailEvent) => {
      if (e.type === 'record') {
        received++;
        pending.push(e.record);
        flushTimer ??= setTimeout(flush, 100);
      } else if (e.type === 'ready')
        setLive((l) => ({ ...l, status: `live since ${shortTime(since)} (hand-off from history)` }));
      else if (e.type === 'caught_up')
        setLive((l) => ({
          ...l,
          status: `live — caught up (${e.backfilled} stored line${e.backfilled === 1 ? '' : 's'} since the newest shown${e.truncated ? ', truncated' : ''}); no gap, no duplicate`,
        }));
      else if (e.type === 'gap') {
        lost += e.count;
        gaps.current.unshift({
          kind: 'gap',
          key: `gap-${e.from}-${e.to}`,
          text: `⚠ ${e.count} line(s) between ${shortTime(e.from)} and ${shortTime(e.to)} were not delivered live (the view fell behind); they are stored — run the query again to see them`,
        });
        setLive((l) => ({ ...l, lost }));
      }
    };
    tail(tailParams(state.query, since), onEvent, ctrl.signal)
      .then(() => setLive((l) => ({ ...l, on: false, status: 'the server ended the tail' })))
      .catch((err) => {
        if (!ctrl.signal.aborted)
          setLive((l) => ({ ...l, on: false, status: `tail failed: ${(err as ApiError).message}` }));
      });
  }

  function togglePause() {
    if (!pausedRef.current) {
      pausedRef.current = true;
      setLive((l) => ({ ...l, paused: true, waiting: 0 }));
      return;
    }
    pausedRef.current = false;
    timeline.current.addLive(pausedBuffer.current);
    pausedBuffer.current = [];
    setVersion((v) => v + 1);
    setLive((l) => ({ ...l, paused: false, waiting: 0, shown: timeline.current.records.length }));
  }

  const apply = (q: ExploreQuery, r: TimeRange = rangeDraft) =>
    props.navigate(encodeExploreState({ query: q, range: r }));
  const submit = (e?: Event) => {
    e?.preventDefault();
    apply(draft);
  };

  const records = timeline.current.records;
  const rows: Row[] = useMemo(() => {
    const out: Row[] = [...gaps.current];
    for (const r of records) if (keep(r.message)) out.push({ kind: 'record', record: r });
    if (!cursor && records.length > 0) out.push({ kind: 'marker', key: 'end', text: '— start of the result —' });
    return out;
  }, [version, keep, cursor]);

  const volume = useMemo(() => {
    if (!result) return [];
    if (result.resp?.histogram) return volumeByLevel(result.resp.histogram.buckets, records, result.endMs);
    return bucketRecords(records, result.startMs, result.endMs, 60);
  }, [version, result]);

  // Restart markers: a container whose id changes within the loaded lines restarted there.
  const markers = useMemo(() => restartMarkers(records), [version]);

  const patterns = useMemo(
    () => (view === 'patterns' ? groupPatterns(records.map((r) => stripAnsi(r.message))) : []),
    [view, version],
  );
  const namespaces = useNames('/namespaces', {});
  const pods = useNames('/pods', { namespace: draft.namespaces.join(',') || undefined });
  const containers = useNames('/containers', {
    namespace: draft.namespaces.join(',') || undefined,
    pod: draft.pods.join(',') || undefined,
  });
  const history = loadHistory();

  if (!props.canRead)
    return (
      <div class="page">
        <div class="banner">
          This token has no <code>logs:read</code> scope: Explore is not available.
        </div>
      </div>
    );
  const resp = result?.resp;
  return (
    <div class="explore">
      <form class="querybar" onSubmit={submit} aria-label="Query">
        <div class="row">
          <div role="group" aria-label="Query mode">
            <button
              type="button"
              class={draft.mode === 'simple' ? 'on' : ''}
              onClick={() => setDraft({ ...draft, mode: 'simple' })}
            >
              Filters
            </button>
            <button
              type="button"
              class={draft.mode === 'logql' ? 'on' : ''}
              onClick={() => setDraft({ ...draft, mode: 'logql', logql: draft.logql || toLogql(draft) })}
            >
              LogQL
            </button>
          </div>
          {draft.mode === 'logql' ? (
            <LogqlInput
              value={draft.logql}
              onInput={(logql) => setDraft({ ...draft, logql })}
              range={rangeDraft}
              history={history}
            />
          ) : (
            <>
              <input
                class="grow"
                name="q"
                list="qhistory"
                placeholder="Text the line contains"
                value={draft.text}
                onInput={(e) => setDraft({ ...draft, text: (e.target as HTMLInputElement).value })}
                aria-label="Text"
              />
              <input
                name="namespace"
                list="nslist"
                placeholder="namespace"
                size={14}
                value={draft.namespaces.join(',')}
                onChange={(e) => setDraft({ ...draft, namespaces: csv((e.target as HTMLInputElement).value) })}
                aria-label="Namespace"
              />
              <input
                name="pod"
                list="podlist"
                placeholder="pod"
                size={16}
                value={draft.pods.join(',')}
                onChange={(e) => setDraft({ ...draft, pods: csv((e.target as HTMLInputElement).value) })}
                aria-label="Pod"
              />
              <input
                name="container"
                list="ctlist"
                placeholder="container"
                size={12}
                value={draft.containers.join(',')}
                onChange={(e) => setDraft({ ...draft, containers: csv((e.target as HTMLInputElement).value) })}
                aria-label="Container"
              />
              <input
                name="labels"
                placeholder="labels: app=web"
                size={14}
                value={draft.labels}
                onChange={(e) => setDraft({ ...draft, labels: (e.target as HTMLInputElement).value })}
                aria-label="Label selector"
              />
            </>
          )}
          <select
            aria-label="Quick range"
            value={rangeDraft.to === 'now' ? rangeDraft.from : ''}
            onChange={(e) => setRangeDraft({ from: (e.target as HTMLSelectElement).value, to: 'now' })}
          >
            {rangeDraft.to !== 'now' || !QUICK_RANGES.some((q) => q.from === rangeDraft.from) ? (
              <option value="">{describeRange(rangeDraft)}</option>
            ) : null}
            {QUICK_RANGES.map((q) => (
              <option key={q.from} value={q.from}>
                {q.label}
              </option>
            ))}
          </select>
          <input
            aria-label="From"
            size={22}
            value={rangeDraft.from}
            onChange={(e) => setRangeDraft({ ...rangeDraft, from: (e.target as HTMLInputElement).value })}
          />
          <input
            aria-label="To"
            size={22}
            value={rangeDraft.to}
            onChange={(e) => setRangeDraft({ ...rangeDraft, to: (e.target as HTMLInputElement).value })}
          />
          <button class="primary" type="submit" data-testid="run">
            Run
          </button>
        </div>
        {draft.mode === 'simple' && (
          <div class="row" role="group" aria-label="Levels">
            {Levels.map((l) => (
              <button
                type="button"
                key={l}
                class={`lvl${draft.levels.includes(l) ? ' on' : ''}`}
                aria-pressed={draft.levels.includes(l)}
                onClick={() =>
                  setDraft({
                    ...draft,
                    levels: draft.levels.includes(l)
                      ? draft.levels.filter((x) => x !== l)
                      : [...draft.levels, l as Level],
                  })
                }
              >
                <span class="lvl-dot" style={{ background: `var(--l-${l})` }} />
                {l}
              </button>
            ))}
            {state.query.exclude.map((x) => (
              <span class="pill" key={x}>
                not “{x}”{' '}
                <button
                  type="button"
                  class="small"
                  aria-label={`remove exclusion ${x}`}
                  onClick={() =>
                    apply({ ...state.query, exclude: state.query.exclude.filter((y) => y !== x) }, state.range)
                  }
                >
                  ×
                </button>
              </span>
            ))}
          </div>
        )}
        <datalist id="qhistory">
          {history.map((h) => (
            <option key={h} value={h} />
          ))}
        </datalist>
        <datalist id="nslist">
          {namespaces.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <datalist id="podlist">
          {pods.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <datalist id="ctlist">
          {containers.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
      </form>
      {error && (
        <div class="banner error" role="alert">
          {error}
        </div>
      )}
      {result && (
        <Histogram
          buckets={volume}
          startMs={result.startMs}
          endMs={result.endMs}
          markers={markers}
          onZoom={(a, b) => apply(state.query, absoluteRange(a, b))}
        />
      )}
      <div class="statusline" data-testid="status">
        {loading ? (
          <span>loading…</span>
        ) : resp ? (
          <span data-testid="total">
            {resp.total_relation === 'gte' ? '≥ ' : ''}
            {resp.total} match{resp.total === 1 ? '' : 'es'} · {records.length} loaded · {resp.took_ms} ms
          </span>
        ) : logqlLines ? (
          <span>{logqlLines.length} lines (LogQL)</span>
        ) : null}
        {result && <span>{describeRange(state.range)}</span>}
        <button
          class="small"
          type="button"
          onClick={() => apply(state.query, { from: 'now-1h', to: 'now' })}
          title="Back to the last hour"
        >
          zoom out
        </button>
        <label>
          <input type="checkbox" checked={wrap} onChange={() => setWrap(!wrap)} /> wrap
        </label>
        <button
          class="small"
          type="button"
          onClick={() => setView(view === 'lines' ? 'patterns' : 'lines')}
          aria-pressed={view === 'patterns'}
        >
          {view === 'lines' ? 'patterns' : 'lines'}
        </button>
        <button class="small" type="button" disabled={!cursor || loading} onClick={loadOlder}>
          load older
        </button>
        <button
          class="small"
          type="button"
          disabled={!resp || loading}
          onClick={() => void compare()}
          aria-pressed={comparison !== undefined}
        >
          compare with previous period
        </button>
        <button class="small" type="button" disabled={!resp} onClick={download}>
          download NDJSON
        </button>
        {live.on ? (
          <>
            <button class="small on" type="button" onClick={stopLive} data-testid="live-stop">
              ■ stop live
            </button>
            <button class="small" type="button" onClick={togglePause} data-testid="live-pause">
              {live.paused ? '▶ resume' : '❚❚ pause'}
            </button>
          </>
        ) : (
          <button class="small" type="button" onClick={startLive} data-testid="live-start">
            ● live
          </button>
        )}
        {(live.on || live.received > 0) && (
          <span data-testid="live-counts">
            received {live.received} · shown{' '}
            {live.paused ? `${live.shown} (paused, ${live.waiting} waiting)` : live.shown}
            {live.lost ? ` · ${live.lost} not delivered live` : ''}
          </span>
        )}
        {live.status && <span data-testid="live-status">{live.status}</span>}
      </div>
      {comparison && <ComparePanel {...comparison} onClose={() => setComparison(undefined)} />}
      <div class="results">
        {view === 'patterns' ? (
          <div class="page">
            <table class="grid" data-testid="patterns">
              <thead>
                <tr>
                  <th>count</th>
                  <th>pattern</th>
                  <th>sample</th>
                </tr>
              </thead>
              <tbody>
                {patterns.map((p) => (
                  <tr key={p.pattern}>
                    <td>{p.count}</td>
                    <td class="mono">{p.pattern}</td>
                    <td class="mono muted">{p.sample}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <LogList
            rows={rows}
            terms={terms}
            wrap={wrap}
            selected={selected?.id}
            onSelect={setSelected}
            onEnd={cursor ? loadOlder : undefined}
          />
        )}
        {selected && (
          <Details
            record={selected}
            onClose={() => setSelected(undefined)}
            onFilter={(field, value, how) => apply(applyFilter(state.query, field, value, how), state.range)}
            onContext={() => openContext(selected)}
            context={context?.anchor.id === selected.id ? context : undefined}
            terms={terms}
          />
        )}
      </div>
    </div>
  );
}

function Details(props: {
  record: LogRecord;
  onClose: () => void;
  onFilter: (field: string, value: string, how: 'in' | 'out') => void;
  onContext: () => void;
  context: { anchor: LogRecord; before: LogRecord[]; after: LogRecord[] } | undefined;
  terms: readonly string[];
}): JSX.Element {
  const r = props.record;
  const pretty = prettyJson(r.message);
  const fields: Array<[string, string]> = [
    ['timestamp', r.timestamp],
    ['level', r.level],
    ['cluster', r.cluster],
    ['namespace', r.namespace],
    ['pod', r.pod],
    ['container', r.container],
    ['stream', r.stream],
    ['node', r.node ?? ''],
    ['pod_uid', r.pod_uid ?? ''],
    ['container_id', r.container_id ?? ''],
    ['id', r.id],
    ...Object.entries(r.labels ?? {}).map(([k, v]) => [`labels.${k}`, String(v)] as [string, string]),
    ...Object.entries(r.fields ?? {}).map(
      ([k, v]) => [`fields.${k}`, typeof v === 'string' ? v : JSON.stringify(v)] as [string, string],
    ),
  ];
  const filterable = (k: string) =>
    ['level', 'cluster', 'namespace', 'pod', 'container'].includes(k) || k.startsWith('labels.');
  return (
    <aside class="details" aria-label="Line details" data-testid="details">
      <div class="row">
        <strong>Line details</strong>
        <span style={{ flex: 1 }} />
        <button class="small" onClick={props.onContext} data-testid="context-open">
          context
        </button>
        <button class="small" onClick={() => void navigator.clipboard?.writeText(r.message)}>
          copy
        </button>
        <button class="small" onClick={props.onClose} aria-label="Close details">
          ×
        </button>
      </div>
      <pre>{pretty ?? <Message text={r.message} terms={props.terms} />}</pre>
      <table>
        <tbody>
          {fields
            .filter(([, v]) => v !== '')
            .map(([k, v]) => (
              <tr key={k}>
                <td class="k">{k}</td>
                <td class="v">{v}</td>
                <td style={{ whiteSpace: 'nowrap' }}>
                  {filterable(k) && (
                    <>
                      <button
                        class="small"
                        title={`only ${k}=${v}`}
                        aria-label={`filter in ${k}`}
                        onClick={() => props.onFilter(k, v, 'in')}
                      >
                        +
                      </button>
                      <button
                        class="small"
                        title={`without ${k}=${v}`}
                        aria-label={`filter out ${k}`}
                        onClick={() => props.onFilter(k, v, 'out')}
                      >
                        −
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
        </tbody>
      </table>
      {props.context && (
        <div class="context" data-testid="context">
          <h3>
            Context in {r.pod}/{r.container}
          </h3>
          {[...props.context.before, props.context.anchor, ...props.context.after].map((x) => (
            <div key={x.id} class={`logrow wrap${x.id === r.id ? ' anchor' : ''}`}>
              <span class="ts">{shortTime(x.timestamp)}</span>
              <span class="msg">
                <Message text={x.message} terms={props.terms} />
              </span>
            </div>
          ))}
        </div>
      )}
    </aside>
  );
}

function ComparePanel(props: {
  figures: Comparison;
  previousStart: string;
  previousEnd: string;
  loaded: [number, number];
  onClose: () => void;
}): JSX.Element {
  const change = (r: { changePct: number | null; current: number }) =>
    r.changePct === null ? (r.current > 0 ? 'new' : '—') : `${r.changePct > 0 ? '+' : ''}${r.changePct}%`;
  const table = (rows: Comparison['levels'], first: string, testid: string) => (
    <table class="grid" data-testid={testid}>
      <thead>
        <tr>
          <th>{first}</th>
          <th>this period</th>
          <th>previous</th>
          <th>change</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key}>
            <td class={first === 'pattern' ? 'mono' : ''}>{r.key}</td>
            <td>{r.current}</td>
            <td>{r.previous}</td>
            <td>{change(r)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
  return (
    <div class="card" data-testid="compare">
      <div class="row">
        <strong>
          Compared with {props.previousStart.replace('T', ' ')} → {props.previousEnd.replace('T', ' ')}
        </strong>
        <button class="small" aria-label="Close comparison" onClick={props.onClose}>
          ×
        </button>
      </div>
      {table([props.figures.total, ...props.figures.levels], 'lines', 'compare-levels')}
      <div class="muted">
        Patterns of the lines loaded ({props.loaded[0]} this period, {props.loaded[1]} previous):
      </div>
      {table(props.figures.patterns, 'pattern', 'compare-patterns')}
    </div>
  );
}
