/**
 * The log-volume histogram: bars stacked by level (volume.ts), click-and-drag to select a
 * time span, which becomes the new range (zoom). Keyboard: the zoom-out button beside it.
 */
import { useRef, useState } from 'preact/hooks';
import type { JSX } from 'preact';
import { LEVEL_ORDER, type VolumeBucket } from '../lib/volume.ts';

const H = 84;
const AXIS = 14;

export function Histogram(props: {
  buckets: VolumeBucket[];
  startMs: number;
  endMs: number;
  onZoom: (startMs: number, endMs: number) => void;
  markers?: Array<{ ms: number; label: string }>;
}): JSX.Element {
  const { buckets, startMs, endMs } = props;
  const svg = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<{ a: number; b: number } | undefined>();
  const W = 1000;
  const span = Math.max(1, endMs - startMs);
  const x = (ms: number) => ((ms - startMs) / span) * W;
  const max = Math.max(1, ...buckets.map((b) => b.total));
  const toMs = (clientX: number) => {
    const r = svg.current!.getBoundingClientRect();
    return startMs + Math.min(1, Math.max(0, (clientX - r.left) / r.width)) * span;
  };
  const bars: JSX.Element[] = [];
  buckets.forEach((b, i) => {
    const x0 = x(b.startMs);
    const w = Math.max(1, x(b.endMs) - x0 - 1);
    let y = H - AXIS;
    const seg = (count: number, color: string, key: string) => {
      if (count <= 0) return;
      const h = (count / max) * (H - AXIS - 4);
      y -= h;
      bars.push(
        <rect key={`${i}-${key}`} x={x0} y={y} width={w} height={h} fill={color}>
          <title>{`${new Date(b.startMs).toISOString()} ${key}: ${count}`}</title>
        </rect>,
      );
    };
    for (const l of [...LEVEL_ORDER].reverse()) seg(b.byLevel[l] ?? 0, `var(--l-${l})`, l);
    seg(b.unloaded, 'var(--l-unloaded)', 'not loaded');
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => startMs + f * span);
  return (
    <div class="histogram" data-testid="histogram">
      <svg
        ref={svg}
        viewBox={`0 0 ${W} ${H}`}
        preserveAspectRatio="none"
        onMouseDown={(e) => setDrag({ a: toMs(e.clientX), b: toMs(e.clientX) })}
        onMouseMove={(e) => drag && setDrag({ ...drag, b: toMs(e.clientX) })}
        onMouseUp={() => {
          if (drag && Math.abs(drag.b - drag.a) > span / 200)
            props.onZoom(Math.min(drag.a, drag.b), Math.max(drag.a, drag.b));
          setDrag(undefined);
        }}
        onMouseLeave={() => setDrag(undefined)}
        role="img"
        aria-label="Log volume by level; drag to zoom"
      >
        {bars}
        {(props.markers ?? []).map((m, i) => (
          <line
            key={`m${i}`}
            x1={x(m.ms)}
            x2={x(m.ms)}
            y1={0}
            y2={H - AXIS}
            stroke="var(--danger)"
            stroke-dasharray="3 2"
            stroke-width={1.5}
          >
            <title>{m.label}</title>
          </line>
        ))}
        {drag && (
          <rect
            x={x(Math.min(drag.a, drag.b))}
            y={0}
            width={Math.abs(x(drag.b) - x(drag.a))}
            height={H - AXIS}
            fill="var(--accent)"
            opacity={0.2}
          />
        )}
        {ticks.map((t, i) => (
          <text key={i} class="axis" x={Math.min(W - 60, Math.max(0, x(t) - 30))} y={H - 2}>
            {new Date(t).toISOString().slice(11, 19)}
          </text>
        ))}
      </svg>
    </div>
  );
}
