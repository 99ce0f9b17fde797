/**
 * The Explore page's state in the URL's hash (`#/explore?from=now-1h&to=now&q=…`), pure:
 * a link reproduces the view. The token is never part of it.
 */
import { DEFAULT_RANGE, type TimeRange } from './time-range.ts';
import { Levels, type ExploreQuery, type Level } from './query-build.ts';

export interface ExploreState {
  query: ExploreQuery;
  range: TimeRange;
}

const lists = ['cluster', 'namespace', 'pod', 'container'] as const;

export function encodeExploreState(s: ExploreState): string {
  const p = new URLSearchParams();
  p.set('from', s.range.from);
  p.set('to', s.range.to);
  const q = s.query;
  if (q.mode === 'logql') {
    p.set('mode', 'logql');
    if (q.logql) p.set('logql', q.logql);
  } else {
    for (const k of lists) {
      const v = q[`${k}s`];
      if (v.length) p.set(k, v.join(','));
    }
    if (q.levels.length) p.set('level', q.levels.join(','));
    if (q.text) p.set('q', q.text);
    if (q.exclude.length) p.set('exclude', q.exclude.join('\u001f'));
    if (q.labels) p.set('labels', q.labels);
  }
  return p.toString();
}

export function decodeExploreState(search: string): ExploreState {
  const p = new URLSearchParams(search);
  const split = (k: string) =>
    (p.get(k) ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const levels = split('level').filter((l): l is Level => (Levels as readonly string[]).includes(l));
  return {
    range: { from: p.get('from') ?? DEFAULT_RANGE.from, to: p.get('to') ?? DEFAULT_RANGE.to },
    query: {
      mode: p.get('mode') === 'logql' ? 'logql' : 'simple',
      clusters: split('cluster'),
      namespaces: split('namespace'),
      pods: split('pod'),
      containers: split('container'),
      levels,
      text: p.get('q') ?? '',
      exclude: (p.get('exclude') ?? '').split('\u001f').filter(Boolean),
      labels: p.get('labels') ?? '',
      logql: p.get('logql') ?? '',
    },
  };
}
