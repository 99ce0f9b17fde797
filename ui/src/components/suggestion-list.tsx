/**
 * The drop-down list under a text field that completes it (an ARIA listbox for a combobox
 * input). It only draws: the field owns the items, the active index and the keys (↑/↓ move,
 * Enter/Tab take, Escape closes), so focus never leaves the field. Picking with the mouse
 * keeps the focus in the field too (mousedown is cancelled).
 */
import type { JSX } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';

export function SuggestionList(props: {
  id: string;
  items: readonly string[];
  active: number;
  onPick: (index: number) => void;
  /** A line under the items: loading, an error, or why there is nothing. */
  note?: string | undefined;
  leftPx?: number;
  label: string;
}): JSX.Element {
  const box = useRef<HTMLUListElement>(null);
  useLayoutEffect(() => {
    const el = box.current?.children[props.active] as HTMLElement | undefined;
    el?.scrollIntoView({ block: 'nearest' });
  }, [props.active, props.items]);
  return (
    <div class="suggestions" style={{ left: `${props.leftPx ?? 0}px` }}>
      <ul id={props.id} role="listbox" aria-label={props.label} ref={box}>
        {props.items.map((item, i) => (
          <li
            key={item}
            id={optionId(props.id, i)}
            role="option"
            aria-selected={i === props.active}
            class={i === props.active ? 'active' : ''}
            onMouseDown={(e) => {
              e.preventDefault();
              props.onPick(i);
            }}
          >
            {item}
          </li>
        ))}
      </ul>
      {props.note && <div class="note">{props.note}</div>}
    </div>
  );
}

/** The element id of option `index`, for the field's `aria-activedescendant`. */
export function optionId(listId: string, index: number): string {
  return `${listId}-${index}`;
}
