/**
 * Loki's parameter parsing and sample formatting, table-tested against what Loki's own
 * pkg/loghttp does with the same input (defaults, units, error wording).
 */
import t from 'tap';
import {
  LokiParamError,
  defaultStepNs,
  lokiBounds,
  lokiForm,
  parseInstantQuery,
  parseLokiTime,
  parseRangeQuery,
  parseSecondsOrDuration,
  parseTailQuery,
  seriesMatches,
} from '../../../aggregator/routes/loki/loki-params.ts';
import { resultJson, sampleTime, sampleValue } from '../../../aggregator/routes/logql/result-json.ts';

const NOW = 1_764_064_800_000_000_000n; // 2025-11-25T10:00:00Z
const S = 1_000_000_000n;

t.test('times: ns, seconds (≤ 10 digits), float seconds to the ms, RFC 3339', async (t) => {
  const cases: Array<[string, bigint]> = [
    ['1764064800', 1_764_064_800n * S],
    ['1764064800000000000', 1_764_064_800_000_000_000n],
    ['1764064800.5', 1_764_064_800_500_000_000n],
    ['1764064800.1234567', 1_764_064_800_123_000_000n],
    ['2025-11-25T10:00:00Z', 1_764_064_800n * S],
    ['2025-11-25T10:00:00.000000007Z', 1_764_064_800_000_000_007n],
  ];
  for (const [text, ns] of cases) t.equal(parseLokiTime(text, 0n), ns, text);
  t.equal(parseLokiTime(undefined, 42n), 42n, 'absent → default');
  t.throws(
    () => parseLokiTime('yesterday', 0n),
    new LokiParamError('strconv.ParseInt: parsing "yesterday": invalid syntax'),
  );
});

t.test('bounds: the hour before end by default, since, end in the future', async (t) => {
  t.same(lokiBounds(lokiForm({}), NOW), { startNs: NOW - 3600n * S, endNs: NOW });
  t.same(lokiBounds(lokiForm({ since: '15m' }), NOW), { startNs: NOW - 900n * S, endNs: NOW });
  const future = NOW + 7200n * S;
  t.same(lokiBounds(lokiForm({ end: String(future) }), NOW), { startNs: NOW - 3600n * S, endNs: future });
  t.throws(() => lokiBounds(lokiForm({ end: 'x' }), NOW), {
    message: `could not parse 'end' parameter: strconv.ParseInt: parsing "x": invalid syntax`,
  });
});

t.test('range query: defaults, step as seconds or duration, Loki errors', async (t) => {
  const p = parseRangeQuery(lokiForm({ query: '{a="b"}', start: '1764061200', end: '1764064800' }), NOW);
  t.same(p, {
    query: '{a="b"}',
    startNs: 1_764_061_200n * S,
    endNs: NOW,
    stepNs: 14n * S,
    limit: 100,
    direction: 'backward',
  });
  t.equal(defaultStepNs(0n, 100n * S), S, 'never below 1 s');
  t.equal(parseSecondsOrDuration('1.5'), 1_500_000_000n);
  t.equal(parseSecondsOrDuration('1m30s'), 90n * S);
  const bad: Array<[Record<string, string>, string]> = [
    [{ step: '0' }, 'zero or negative query resolution step widths are not accepted. Try a positive integer'],
    [{ step: 'abc' }, 'cannot parse "abc" to a valid duration'],
    [
      { step: '0.1', since: '24h' },
      'exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter',
    ],
    [{ direction: 'sideways' }, "invalid direction 'sideways'"],
    [{ limit: '0' }, 'limit must be a positive value'],
    [{ limit: 'ten' }, 'strconv.Atoi: parsing "ten": invalid syntax'],
    [{ limit: '5001' }, 'max entries limit per query exceeded, limit > max_entries_limit_per_query (5001 > 5000)'],
    [{ start: '1764064801', end: '1764064800' }, 'end timestamp must not be before or equal to start time'],
  ];
  for (const [form, message] of bad) {
    t.throws(() => parseRangeQuery(lokiForm({ query: '{a="b"}', ...form }), NOW), new LokiParamError(message), message);
  }
  t.equal(parseRangeQuery(lokiForm({ direction: 'FORWARD' }), NOW).direction, 'forward', 'direction in any case');
});

t.test('form: a body value wins over the URL one; match[] and match are both read', async (t) => {
  const f = lokiForm({ query: 'body' }, { query: 'url', limit: '7' });
  t.equal(f.get('query'), 'body');
  t.equal(f.get('limit'), '7');
  t.same(seriesMatches(lokiForm({ 'match[]': ['{a="1"}', '{b="2"}'], match: '{a="1"}' })), ['{a="1"}', '{b="2"}']);
  t.same(seriesMatches(lokiForm({ 'match[]': '{ }' })), [], 'a lone {} means every stream');
  t.equal(parseInstantQuery(lokiForm({ query: 'vector(1)' }), NOW).timeNs, NOW, 'instant time defaults to now');
});

t.test('tail: delay_for at most 5 s, start defaults to an hour ago', async (t) => {
  t.same(parseTailQuery(lokiForm({ query: '{a="b"}' }), NOW), {
    query: '{a="b"}',
    limit: 100,
    startNs: NOW - 3600n * S,
    delayForSeconds: 0,
  });
  t.throws(
    () => parseTailQuery(lokiForm({ query: '{a="b"}', delay_for: '6' }), NOW),
    new LokiParamError("delay_for can't be greater than 5"),
  );
});

t.test('sample times are whole ms printed as seconds; values as Go prints them', async (t) => {
  // ns / 1e9 in floating point printed 1796177212.1859999; Loki prints model.Time (ms).
  t.equal(JSON.stringify(sampleTime(1_796_177_212_186_000_000n)), '1796177212.186');
  t.equal(JSON.stringify(sampleTime(1_796_177_212_185_999_999n)), '1796177212.185', 'truncated to the ms');
  t.equal(JSON.stringify(sampleTime(1_764_064_800_123_000_000n)), '1764064800.123');
  t.equal(JSON.stringify(sampleTime(1_764_064_800_000_000_000n)), '1764064800');
  t.equal(sampleValue(1e21), '1000000000000000000000');
  t.equal(sampleValue(Infinity), '+Inf');
  t.equal(sampleValue(NaN), 'NaN');
  const vector = resultJson({
    type: 'vector',
    tNs: 1_796_177_212_186_000_000n,
    samples: [{ labels: [], key: '', value: 2, labelsMap: {} }],
    stats: { entriesScanned: 0, bytesScanned: 0, entriesProcessed: 0, pushedDown: 0 },
  });
  t.equal(JSON.stringify(vector), '[{"metric":{},"value":[1796177212.186,"2"]}]');
});
