/**
 * The virtualized result list: only the rows in view (plus a margin) are in the DOM, so
 * 10,000+ lines scroll smoothly. Rows have an estimated height until measured (wrapped
 * lines vary); offsets are prefix sums over the known heights. Keyboard: ↑/↓ (j/k) move the
 * selection, Enter opens it.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { JSX } from 'preact';
import type { LogRecord } from '../api.ts';
import { ansiToSpans, hasAnsi } from '../lib/ansi.ts';
import { splitMatches } from '../lib/highlight.ts';

export type Row =
  | { kind: 'record'; record: LogRecord }
  | { kind: 'gap'; key: string; text: string }
  | { kind: 'marker'; key: string; text: string };

const ROW_PX = 20;
const OVERSCAN = 20;

export function rowKey(r: Row): string {
  return r.kind === 'record' ? r.record.id : r.key;
}

export function Message(props: { text: string; terms: readonly string[] }): JSX.Element {
  const { text, terms } = props;
  if (hasAnsi(text)) {
    return (
      <>
        {ansiToSpans(text).map((s, i) => (
          <span
            key={i}
            style={{
              color: s.fg,
              background: s.bg,
              fontWeight: s.bold ? 700 : undefined,
              opacity: s.dim ? 0.7 : undefined,
              fontStyle: s.italic ? 'italic' : undefined,
              textDecoration: s.underline ? 'underline' : undefined,
            }}
          >
            {splitMatches(s.text, terms).map((p, j) => (p.match ? <mark key={j}>{p.text}</mark> : p.text))}
          </span>
        ))}
      </>
    );
  }
  return <>{splitMatches(text, terms).map((p, j) => (p.match ? <mark key={j}>{p.text}</mark> : p.text))}</>;
}

export function shortTime(ts: string): string {
  // 2026-12-01T10:00:00.123456789Z → 12-01 10:00:00.123
  return `${ts.slice(5, 10)} ${ts.slice(11, 23)}`;
}

export function LogList(props: {
  rows: Row[];
  terms: readonly string[];
  wrap: boolean;
  selected: string | undefined;
  onSelect: (r: LogRecord) => void;
  onEnd?: () => void;
}): JSX.Element {
  const { rows, wrap } = props;
  const box = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewH, setViewH] = useState(600);
  const [, bump] = useState(0);
  useEffect(() => heights.current.clear(), [wrap]);

  const offsets = useMemo(() => {
    const out = new Float64Array(rows.length + 1);
    for (let i = 0; i < rows.length; i++) out[i + 1] = out[i]! + (heights.current.get(rowKey(rows[i]!)) ?? ROW_PX);
    return out;
  }, [rows, wrap, heights.current.size, bump]);
  const total = offsets[rows.length] ?? 0;
  // First row in view: binary search over the offsets.
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid + 1]! <= scrollTop) lo = mid + 1;
    else hi = mid;
  }
  const first = Math.max(0, lo - OVERSCAN);
  let last = lo;
  while (last < rows.length && offsets[last]! < scrollTop + viewH) last++;
  last = Math.min(rows.length, last + OVERSCAN);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    setViewH(el.clientHeight);
    let changed = false;
    for (const child of Array.from(el.children) as HTMLElement[]) {
      const key = child.dataset['key'];
      if (!key) continue;
      const h = child.offsetHeight;
      if (heights.current.get(key) !== h) {
        heights.current.set(key, h);
        changed = true;
      }
    }
    if (changed) bump((x) => x + 1);
  });

  const onScroll = () => {
    const el = box.current!;
    setScrollTop(el.scrollTop);
    if (props.onEnd && el.scrollTop + el.clientHeight >= el.scrollHeight - 200) props.onEnd();
  };
  const selIndex = rows.findIndex((r) => r.kind === 'record' && r.record.id === props.selected);
  const onKey = (e: KeyboardEvent) => {
    const move = e.key === 'ArrowDown' || e.key === 'j' ? 1 : e.key === 'ArrowUp' || e.key === 'k' ? -1 : 0;
    if (!move) return;
    e.preventDefault();
    for (let i = selIndex + move; i >= 0 && i < rows.length; i += move) {
      const r = rows[i]!;
      if (r.kind !== 'record') continue;
      props.onSelect(r.record);
      const el = box.current!;
      if (offsets[i]! < el.scrollTop) el.scrollTop = offsets[i]!;
      else if (offsets[i + 1]! > el.scrollTop + el.clientHeight) el.scrollTop = offsets[i + 1]! - el.clientHeight;
      break;
    }
  };
  const visible: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    const r = rows[i]!;
    const top = offsets[i]!;
    if (r.kind !== 'record') {
      visible.push(
        <div key={r.key} data-key={r.key} class={`logrow ${r.kind}`} style={{ top: `${top}px` }} role="row">
          {r.text}
        </div>,
      );
      continue;
    }
    const rec = r.record;
    visible.push(
      <div
        key={rec.id}
        data-key={rec.id}
        class={`logrow${wrap ? ' wrap' : ''}${rec.id === props.selected ? ' sel' : ''}`}
        style={{ top: `${top}px`, borderLeftColor: `var(--l-${rec.level})` }}
        role="row"
        aria-selected={rec.id === props.selected}
        onClick={() => props.onSelect(rec)}
      >
        <span class="ts">{shortTime(rec.timestamp)}</span>
        <span class="src" title={`${rec.namespace}/${rec.pod}/${rec.container}`}>
          {rec.pod}/{rec.container}
        </span>
        <span class="msg">
          <Message text={rec.message} terms={props.terms} />
        </span>
      </div>,
    );
  }
  return (
    <div
      class="loglist"
      ref={box}
      onScroll={onScroll}
      tabIndex={0}
      onKeyDown={onKey}
      role="grid"
      aria-label="Log lines"
      data-testid="loglist"
    >
      <div style={{ height: `${total}px` }} />
      {visible}
    </div>
  );
}
