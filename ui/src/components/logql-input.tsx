/**
 * The LogQL query field with completion: inside a stream selector it offers label names
 * (`GET /loki/api/v1/labels`) or the values of the label being written
 * (`/label/{name}/values`), both for the chosen time range and scoped by the selector's
 * other complete matchers; ↓ on a field with no selector context offers the query history.
 * Keys: ↑/↓ move, Enter/Tab take, Escape closes, Ctrl+Space reopens. Where the cursor is and
 * what a taken item writes: lib/logql-completion.ts.
 */
import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { lokiGet, qs } from '../api.ts';
import { applyCompletion, completionAt, rankCompletions, type CompletionContext } from '../lib/logql-completion.ts';
import { resolveRange, type TimeRange } from '../lib/time-range.ts';
import { optionId, SuggestionList } from './suggestion-list.tsx';

const LIST_ID = 'logql-suggestions';

interface Lookup {
  /** Identifies the look-up: what is asked, for which selector and range. */
  key: string;
  path: string;
  what: string;
}

function lookupFor(ctx: CompletionContext | undefined, range: TimeRange): Lookup | undefined {
  if (!ctx) return undefined;
  const r = resolveRange(range, Date.now());
  const window = 'error' in r ? {} : { start: new Date(r.startMs).toISOString(), end: new Date(r.endMs).toISOString() };
  const params = qs({ ...window, query: ctx.selector });
  const rangeKey = `${range.from}→${range.to}`;
  if (ctx.kind === 'label-name')
    return { key: `names ${ctx.selector} ${rangeKey}`, path: `/labels${params}`, what: 'label names' };
  return {
    key: `values ${ctx.label} ${ctx.selector} ${rangeKey}`,
    path: `/label/${encodeURIComponent(ctx.label)}/values${params}`,
    what: `values of ${ctx.label}`,
  };
}

/**
 * Names or values for the look-up, fetched once per key (the prefix is filtered here, so
 * typing within a name or value asks nothing more).
 */
function useLookup(lookup: Lookup | undefined): { values?: string[]; note?: string } {
  const cache = useRef(new Map<string, string[]>());
  const [failed, setFailed] = useState<{ key: string; message: string } | undefined>();
  const [, loaded] = useState(0);
  const key = lookup?.key;
  useEffect(() => {
    if (!lookup || cache.current.has(lookup.key)) return;
    const ctrl = new AbortController();
    lokiGet<string[]>(lookup.path, ctrl.signal)
      .then((values) => {
        cache.current.set(lookup.key, values ?? []);
        loaded((n) => n + 1);
      })
      .catch((err: Error) => {
        if (!ctrl.signal.aborted) setFailed({ key: lookup.key, message: err.message });
      });
    return () => ctrl.abort();
  }, [key]);
  if (!lookup) return {};
  const values = cache.current.get(lookup.key);
  if (values) return values.length ? { values } : { values, note: `no ${lookup.what} in this time range` };
  if (failed?.key === lookup.key) return { note: `${lookup.what} unavailable: ${failed.message}` };
  return { note: `loading ${lookup.what}…` };
}

/** Pixels from the field's left edge to character `index` (monospace field: one measure). */
function caretLeftPx(el: HTMLInputElement | null, index: number): number {
  if (!el) return 0;
  const style = getComputedStyle(el);
  const ctx = document.createElement('canvas').getContext('2d');
  if (!ctx) return 0;
  ctx.font = style.font;
  const x = parseFloat(style.paddingLeft) + ctx.measureText(el.value.slice(0, index)).width - el.scrollLeft;
  return Math.max(0, Math.min(x, el.clientWidth - 220));
}

export function LogqlInput(props: {
  value: string;
  onInput: (value: string) => void;
  range: TimeRange;
  history: readonly string[];
}): JSX.Element {
  const input = useRef<HTMLInputElement>(null);
  /** The caret while the field has focus; undefined when it has not. */
  const [caret, setCaret] = useState<number | undefined>();
  const [dismissed, setDismissed] = useState(false);
  const [historyOpen, setHistoryOpen] = useState(false);
  const [active, setActive] = useState(0);
  const pendingCaret = useRef<number | undefined>(undefined);

  const ctx = caret === undefined || historyOpen ? undefined : completionAt(props.value, caret);
  const found = useLookup(dismissed ? undefined : lookupFor(ctx, props.range));
  let items: string[] = [];
  let note: string | undefined;
  if (historyOpen) {
    const typed = props.value.toLowerCase();
    items = props.history.filter((h) => h !== props.value && h.toLowerCase().includes(typed)).slice(0, 20);
    if (!items.length) note = 'no earlier query like this one';
  } else if (ctx && !dismissed) {
    items = rankCompletions(found.values ?? [], ctx.prefix);
    note = found.note;
  }
  const open = caret !== undefined && (items.length > 0 || note !== undefined);
  const current = Math.min(active, Math.max(0, items.length - 1));

  useLayoutEffect(() => {
    const el = input.current;
    if (el && pendingCaret.current !== undefined) {
      el.setSelectionRange(pendingCaret.current, pendingCaret.current);
      pendingCaret.current = undefined;
    }
  });

  const moved = () => {
    const at = input.current?.selectionStart ?? undefined;
    if (at !== caret) {
      setCaret(at);
      setActive(0);
    }
  };
  const take = (i: number) => {
    const item = items[i];
    if (item === undefined) return;
    const next = historyOpen || !ctx ? { text: item, cursor: item.length } : applyCompletion(props.value, ctx, item);
    props.onInput(next.text);
    pendingCaret.current = next.cursor;
    setCaret(next.cursor);
    setHistoryOpen(false);
    setActive(0);
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === ' ' && e.ctrlKey) {
      e.preventDefault();
      setDismissed(false);
      return;
    }
    if (!open) {
      if (e.key === 'ArrowDown' && !ctx) {
        e.preventDefault();
        setHistoryOpen(true);
        setActive(0);
      }
      return;
    }
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (items.length) setActive((current + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length);
    } else if ((e.key === 'Enter' || e.key === 'Tab') && items.length) {
      e.preventDefault();
      take(current);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      setDismissed(true);
      setHistoryOpen(false);
    }
  };

  return (
    <div class="combo grow">
      <input
        ref={input}
        class="mono"
        name="logql"
        autocomplete="off"
        spellcheck={false}
        placeholder='{namespace="shop"} |= "error"'
        value={props.value}
        role="combobox"
        aria-label="LogQL query"
        aria-autocomplete="list"
        aria-expanded={open}
        aria-controls={LIST_ID}
        aria-activedescendant={open && items.length ? optionId(LIST_ID, current) : undefined}
        onInput={(e) => {
          props.onInput((e.target as HTMLInputElement).value);
          setCaret((e.target as HTMLInputElement).selectionStart ?? undefined);
          setDismissed(false);
          setHistoryOpen(false);
          setActive(0);
        }}
        onKeyDown={onKeyDown}
        onKeyUp={(e) => {
          if (!['ArrowDown', 'ArrowUp', 'Enter', 'Tab', 'Escape'].includes(e.key)) moved();
        }}
        onClick={() => {
          setDismissed(false);
          moved();
        }}
        onFocus={moved}
        onBlur={() => {
          setCaret(undefined);
          setHistoryOpen(false);
        }}
      />
      {open && (
        <SuggestionList
          id={LIST_ID}
          label={
            historyOpen ? 'Earlier queries' : ctx?.kind === 'label-value' ? `Values of ${ctx.label}` : 'Label names'
          }
          items={items}
          active={current}
          onPick={take}
          note={note}
          leftPx={historyOpen ? 0 : caretLeftPx(input.current, ctx?.from ?? 0)}
        />
      )}
    </div>
  );
}
