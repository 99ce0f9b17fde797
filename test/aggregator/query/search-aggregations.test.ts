import t from 'tap';
import { compileAggregations, compileHighlight, shapeHistogram, shapeTermCounts, TERMS_SIZE } from '../../../aggregator/query/search-aggregations.ts';
import { compileSearch, type LogQuery } from '../../../aggregator/query/log-query.ts';

const q: LogQuery = { scope: { clusters: null, namespaces: ['shop'] }, startNs: 1_700_000_000_000_000_000n, endNs: 1_700_000_060_000_000_000n, direction: 'backward', limit: 10 };

t.test('terms aggregations with bounded sizes; nothing asked, nothing compiled', async (t) => {
  t.equal(compileAggregations([], undefined), undefined);
  const aggs = compileAggregations(['level', 'pod', 'level'], undefined)!;
  t.same(Object.keys(aggs), ['by_level', 'by_pod']);
  t.same(aggs['by_pod'], { terms: { field: 'pod', size: TERMS_SIZE.pod, order: [{ _count: 'desc' }, { _key: 'asc' }] } });
});

t.test('date histogram spans the whole window with empty buckets', async (t) => {
  const aggs = compileAggregations([], { interval: '1s', startNs: q.startNs, endNs: q.endNs })!;
  t.same(aggs['histogram'], {
    date_histogram: { field: 'timestamp', fixed_interval: '1s', min_doc_count: 0, extended_bounds: { min: 1_700_000_000_000, max: 1_700_000_060_000 } },
  });
});

t.test('aggregations and highlight ride on the scoped query', async (t) => {
  const body = compileSearch(q, { fetch: 11, trackTotalHits: 10_000, aggs: compileAggregations(['namespace'], undefined), highlight: compileHighlight() });
  t.same((body['query'] as any).bool.filter[1], { terms: { namespace: ['shop'] } });
  t.ok(body['aggs']);
  t.equal((body['highlight'] as any).encoder, 'html');
  t.notOk('aggs' in compileSearch(q, { fetch: 11, trackTotalHits: 10_000 }), 'plain pages carry no aggs');
});

t.test('shaping OpenSearch answers', async (t) => {
  const raw = {
    by_level: { buckets: [{ key: 'error', doc_count: 3 }, { key: 'info', doc_count: 2 }], sum_other_doc_count: 0 },
    by_pod: { buckets: [{ key: 'api-1', doc_count: 7 }], sum_other_doc_count: 4 },
    histogram: { buckets: [{ key: 1_700_000_000_000, doc_count: 2 }, { key: 1_700_000_001_000, doc_count: 0 }] },
  };
  t.same(shapeTermCounts(['level', 'pod', 'namespace'], raw), {
    level: { buckets: [{ key: 'error', count: 3 }, { key: 'info', count: 2 }], other_count: 0 },
    pod: { buckets: [{ key: 'api-1', count: 7 }], other_count: 4 },
    namespace: { buckets: [], other_count: 0 },
  });
  t.same(shapeHistogram('1s', raw), {
    interval: '1s',
    buckets: [{ start: '2023-11-14T22:13:20.000000000Z', count: 2 }, { start: '2023-11-14T22:13:21.000000000Z', count: 0 }],
  });
});
