/**
 * Is Explore's virtualized result list (ui/src/components/log-list.tsx) still smooth at
 * 10,000+ lines? Loads `--lines` realistic records (bench/aggregator/realistic-records.ts)
 * through the aggregator's ingest API, opens Explore in headless chromium, pages them all
 * in with "load older", and scrolls the list programmatically, one step per animation
 * frame, measuring in the page:
 *
 *   frame_ms p50/p95/p99/max   intervals between requestAnimationFrame callbacks (60 Hz = 16.7)
 *   slow_frames                frames longer than 25 ms (a dropped frame or worse)
 *   main_thread_ms_per_frame   renderer main-thread time (CDP Performance metrics) per frame:
 *                              all tasks, and of it script, layout, style recalculation
 *   long_tasks                 PerformanceObserver 'longtask' entries (> 50 ms of script)
 *   blank_frames               frames whose viewport was not covered by rendered rows
 *   rows_in_dom_max, dom_nodes_max, heap_mb
 *
 * Scenarios: `glide` scrolls 600 px a frame (a fast fling, ~36,000 px/s), `jump` sets a
 * random position each frame (every row new: the worst case), `wrap` glides with wrapped
 * lines (measured, varying heights). The baseline of the same run is the first page alone
 * (1,000 lines): the figures at `--lines` should match it if the list does not grow with
 * the result. One difference is not the size: that page is 19,000 px, so a glide passes
 * over it every ~30 frames and after the first pass its rows are all measured, while a
 * long result keeps bringing rows measured for the first time (a second render each, to
 * place them by their real height). Compare two `--lines` for growth with the size.
 *
 *   npm run bench -- bench/ui/virtual-list.bench.ts [--lines 12000] [--frames 600]
 *
 * OpenSearch: OPENSEARCH_URL, or an embedded node started (and stopped) here.
 */
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { buildUi, uiIsStale } from '../../ui/build.ts';
import { launchBrowser } from '../../test/ui/browser.ts';
import {
  benchAggregator,
  benchOpenSearch,
  dropPrefix,
  emitResult,
  freshPrefix,
  log,
  percentile,
  round,
} from '../aggregator/bench-services.ts';
import { generateRecords, podsOf } from '../aggregator/realistic-records.ts';
import { ndjson, ingest } from '../../test/helpers/records.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '12000' },
    frames: { type: 'string', default: '600' },
  },
});
const LINES = Number(values.lines);
const FRAMES = Number(values.frames);
const PAGE = 1000; // Explore's page size (ui/src/pages/explore.tsx)

const cleanups: Array<() => unknown> = [];
const os = await benchOpenSearch(768);
const prefix = freshPrefix('ui');
const agg = await benchAggregator(os.url, prefix);
try {
  if (await uiIsStale()) await buildUi();
  const token = await agg.token({ name: 'bench agent', scopes: ['ingest'], clusters: ['benchui'] });
  const now = Date.now();
  const records = [
    ...generateRecords({
      cluster: 'benchui',
      pods: podsOf(4, 5),
      count: LINES,
      startMs: now - 30 * 60_000,
      endMs: now - 1000,
      seed: 7,
    }),
  ];
  for (let i = 0; i < records.length; i += 2000) {
    const res = await ingest(agg.url, token, ndjson(records.slice(i, i + 2000)));
    if (res.status !== 200) throw new Error(`ingest: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await fetch(`${os.url}/${prefix}-*/_refresh`, { method: 'POST' });
  log(`ingested ${LINES} lines`);

  const browser = await launchBrowser({ teardown: (fn) => cleanups.push(fn) });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.setDefaultTimeout(60_000);
  await page.goto(`${agg.url}/ui/`);
  await page.fill('input[name=token]', agg.adminToken);
  await page.click('button[type=submit]');
  await page.getByTestId('who').waitFor();
  await page.goto(`${agg.url}/ui/#/explore?from=now-1h&to=now`);
  await page
    .getByTestId('total')
    .filter({ hasText: `· ${PAGE} loaded` })
    .waitFor();
  log(`first page: ${await page.getByTestId('total').textContent()}`);

  const scenarios: Record<string, Measured> = {};
  scenarios['glide_1000'] = await scroll(page, 'glide');
  for (let loaded = PAGE; loaded < LINES;) {
    await page.getByRole('button', { name: 'load older' }).click();
    loaded = Math.min(LINES, loaded + PAGE);
    await page
      .getByTestId('total')
      .filter({ hasText: `· ${loaded} loaded` })
      .waitFor();
  }
  log(`loaded ${LINES} lines in the page`);
  scenarios[`glide_${LINES}`] = await scroll(page, 'glide');
  scenarios[`jump_${LINES}`] = await scroll(page, 'jump');
  await page.getByLabel('wrap').check();
  scenarios[`wrap_glide_${LINES}`] = await scroll(page, 'glide');

  const base = scenarios['glide_1000'];
  const big = scenarios[`glide_${LINES}`]!;
  emitResult({
    bench: 'ui-virtual-list',
    lines: LINES,
    frames: FRAMES,
    scenarios,
    // Same-run comparisons with the first page alone (absolute times on a shared machine are noise).
    p95_frame_ratio_vs_1000: round(big.frame_ms.p95 / base!.frame_ms.p95, 2),
    script_per_frame_ratio_vs_1000: round(
      big.main_thread_ms_per_frame.script / base!.main_thread_ms_per_frame.script,
      2,
    ),
  });
} finally {
  for (const fn of cleanups.reverse()) await fn();
  await agg.close();
  await dropPrefix(os.url, prefix);
  await os.stop();
}

interface Measured {
  frame_ms: { p50: number; p95: number; p99: number; max: number };
  slow_frames: number;
  /** Main-thread time per frame (all tasks; of it script, layout, style recalculation). */
  main_thread_ms_per_frame: { task: number; script: number; layout: number; style: number };
  long_tasks: number;
  blank_frames: number;
  rows_in_dom_max: number;
  dom_nodes_max: number;
  scroll_height_px: number;
  heap_mb: number | null;
}

/** FRAMES animation frames of scrolling the result list, measured inside the page. */
async function scroll(page: Page, mode: 'glide' | 'jump'): Promise<Measured> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const mainThread = async () => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? 0;
    return {
      task: get('TaskDuration'),
      script: get('ScriptDuration'),
      layout: get('LayoutDuration'),
      style: get('RecalcStyleDuration'),
    };
  };
  const before = await mainThread();
  const raw = await page.evaluate(
    async ({ frames, mode }) => {
      const doc = (globalThis as any).document;
      const raf = (globalThis as any).requestAnimationFrame as (cb: (ts: number) => void) => void;
      const el = doc.querySelector('[data-testid=loglist]');
      el.scrollTop = 0;
      await new Promise((r) => raf(() => raf(r)));
      const longTasks: number[] = [];
      // The page's (DOM) observer, not Node's: this function runs in the browser.
      const Observer = (globalThis as any).PerformanceObserver;
      const obs = new Observer((list: { getEntries(): Array<{ duration: number }> }) => {
        for (const e of list.getEntries()) longTasks.push(e.duration);
      });
      obs.observe({ type: 'longtask' });
      const intervals: number[] = [];
      let rowsMax = 0;
      let nodesMax = 0;
      let blank = 0;
      let seed = 42;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      await new Promise<void>((resolve) => {
        let i = 0;
        let last: number | undefined;
        const step = (ts: number) => {
          if (last !== undefined) intervals.push(ts - last);
          last = ts;
          // The rows rendered for the position set in the previous frame must cover the viewport.
          const rows = el.querySelectorAll('.logrow');
          rowsMax = Math.max(rowsMax, rows.length);
          if (i > 0) {
            const first = rows[0];
            const lastRow = rows[rows.length - 1];
            const top = first ? parseFloat(first.style.top) : Infinity;
            const bottom = lastRow ? parseFloat(lastRow.style.top) + lastRow.offsetHeight : -Infinity;
            const maxTop = el.scrollHeight - el.clientHeight;
            if (
              top > Math.min(el.scrollTop, maxTop) ||
              bottom < Math.min(el.scrollTop + el.clientHeight, el.scrollHeight)
            )
              blank++;
          }
          if (i % 20 === 0) nodesMax = Math.max(nodesMax, doc.getElementsByTagName('*').length);
          if (i++ >= frames) return resolve();
          // Short of the last 400 px: nearer, the list asks the next page (onEnd) while a page remains.
          const max = el.scrollHeight - el.clientHeight - 400;
          el.scrollTop = mode === 'glide' ? (el.scrollTop + 600 > max ? 0 : el.scrollTop + 600) : random() * max;
          raf(step);
        };
        raf(step);
      });
      obs.disconnect();
      const memory = (performance as any).memory;
      return {
        intervals,
        longTasks: longTasks.length,
        blank,
        rowsMax,
        nodesMax,
        scrollHeight: el.scrollHeight,
        heap: memory ? memory.usedJSHeapSize : null,
      };
    },
    { frames: FRAMES, mode },
  );
  const after = await mainThread();
  await cdp.detach();
  // Main-thread seconds (CDP Performance metrics) spent while scrolling, per frame in ms.
  const perFrame = (k: keyof typeof after) => round(((after[k] - before[k]) * 1000) / FRAMES, 2);
  const sorted = [...raw.intervals].sort((a, b) => a - b);
  const m: Measured = {
    frame_ms: {
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1) ?? NaN),
    },
    slow_frames: sorted.filter((x) => x > 25).length,
    main_thread_ms_per_frame: {
      task: perFrame('task'),
      script: perFrame('script'),
      layout: perFrame('layout'),
      style: perFrame('style'),
    },
    long_tasks: raw.longTasks,
    blank_frames: raw.blank,
    rows_in_dom_max: raw.rowsMax,
    dom_nodes_max: raw.nodesMax,
    scroll_height_px: raw.scrollHeight,
    heap_mb: raw.heap === null ? null : round(raw.heap / 1048576),
  };
  log(`${mode}: ${JSON.stringify(m)}`);
  return m;
}
