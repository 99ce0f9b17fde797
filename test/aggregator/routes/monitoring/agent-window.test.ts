/** The windowed increase of agents' cumulative counts (agent-window.ts), on hand-made store answers. */
import t from 'tap';
import {
  addAgentWindowPage,
  compileAgentWindowSearch,
  RUNS_PER_PAGE,
  sampleId,
  type AgentWindowBody,
  type WindowTotals,
} from '../../../../aggregator/routes/monitoring/agent-window.ts';

const w = { startMs: Date.parse('2026-11-20T10:00:00Z'), endMs: Date.parse('2026-11-20T11:00:00Z') };
const hits = (...s: Array<{ received_at: string; discarded?: Record<string, number> }>) => ({
  hits: { hits: s.map((x) => ({ _source: x })) },
});
const run = (
  node: string,
  startedAt: string,
  last: { received_at: string; discarded?: Record<string, number> } | null,
  before: { received_at: string; discarded?: Record<string, number> } | null,
  inside: { received_at: string; discarded?: Record<string, number> } | null,
) => ({
  key: { cluster: 'c', node, started_at: Date.parse(startedAt) },
  last: last ? hits(last) : hits(),
  before: { s: before ? hits(before) : hits() },
  inside: { s: inside ? hits(inside) : hits() },
});

t.test(
  'increase per run: baseline before the window, start inside it, first sample inside, ended before',
  async (t) => {
    const totals: WindowTotals = { discarded: {}, rejected: {} };
    const body: AgentWindowBody = {
      aggregations: {
        runs: {
          buckets: [
            run(
              'a',
              '2026-11-20T09:00:00Z',
              { received_at: '2026-11-20T10:58:00Z', discarded: { rate_limited: 9, made_up: 2 } },
              { received_at: '2026-11-20T09:58:00Z', discarded: { rate_limited: 4 } },
              { received_at: '2026-11-20T10:02:00Z', discarded: { rate_limited: 5 } },
            ),
            run(
              'b',
              '2026-11-20T10:30:00Z',
              { received_at: '2026-11-20T10:40:00Z', discarded: { rate_limited: 3 } },
              null,
              null,
            ),
            run(
              'e',
              '2026-11-20T08:00:00Z',
              { received_at: '2026-11-20T10:50:00Z', discarded: { rate_limited: 16 } },
              null,
              { received_at: '2026-11-20T10:15:00Z', discarded: { rate_limited: 10 } },
            ),
            run(
              'gone',
              '2026-11-20T08:00:00Z',
              { received_at: '2026-11-20T09:55:00Z', discarded: { rate_limited: 70 } },
              { received_at: '2026-11-20T09:55:00Z', discarded: { rate_limited: 70 } },
              null,
            ),
            // A counter lower than its baseline (never for one run; a bad sample) adds nothing.
            run(
              'odd',
              '2026-11-20T08:00:00Z',
              { received_at: '2026-11-20T10:10:00Z', discarded: { rate_limited: 1 } },
              { received_at: '2026-11-20T09:59:00Z', discarded: { rate_limited: 5 } },
              null,
            ),
          ],
        },
      },
    };
    t.equal(addAgentWindowPage(totals, body, w), undefined, 'a short page is the last');
    t.same(totals, { discarded: { rate_limited: 5 + 3 + 6, other: 2 }, rejected: {} });
  },
);

t.test('a full page asks for the next one from its after_key', async (t) => {
  const totals: WindowTotals = { discarded: {}, rejected: {} };
  const buckets = Array.from({ length: RUNS_PER_PAGE }, (_, i) =>
    run(
      `n${i}`,
      '2026-11-20T10:30:00Z',
      { received_at: '2026-11-20T10:40:00Z', discarded: { rate_limited: 1 } },
      null,
      null,
    ),
  );
  const after = { cluster: 'c', node: 'n999', started_at: 1 };
  t.same(addAgentWindowPage(totals, { aggregations: { runs: { buckets, after_key: after } } }, w), after);
  t.same(totals.discarded, { rate_limited: RUNS_PER_PAGE });
  const q = compileAgentWindowSearch(w, ['c'], after) as { aggs: { runs: { composite: { after: unknown } } } };
  t.same(q.aggs.runs.composite.after, after);
});

t.test('one sample per run and 5-minute bucket', async (t) => {
  const s = { cluster: 'c', node: 'n', started_at: '2026-11-20T09:00:00.000Z' };
  t.equal(sampleId(s, Date.parse('2026-11-20T10:04:59Z')), sampleId(s, Date.parse('2026-11-20T10:00:00Z')));
  t.not(sampleId(s, Date.parse('2026-11-20T10:05:00Z')), sampleId(s, Date.parse('2026-11-20T10:04:59Z')));
  t.equal(sampleId(s, Date.parse('2026-11-20T10:07:00Z')), 'c/n/2026-11-20T09:00:00.000Z/2026-11-20T10:05:00.000Z');
});
