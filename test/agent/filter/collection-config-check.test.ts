import t from 'tap';
import { Compile } from 'typebox/compile';
import { Levels } from '../../../shared/record.ts';
import { CollectionConfigSchema } from '../../../shared/schemas/collection-config.ts';
import { DEFAULT_COLLECTION_CONFIG } from '../../../shared/schemas/collection-config-default.ts';
import { collectionConfigProblems } from '../../../agent/filter/collection-config-check.ts';
import { LEVEL_RANK } from '../../../agent/filter/collection-filter.ts';

const schema = Compile(CollectionConfigSchema);
const d = DEFAULT_COLLECTION_CONFIG;

t.test('the agent-side check agrees with CollectionConfigSchema', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['default', d],
    [
      'full',
      {
        ...d,
        enabled: false,
        include_namespaces: ['a', 'b*'],
        exclude_pods: ['x'],
        min_level: 'warn',
        rate_limit_lines_per_second: 5,
        multiline: false,
        namespace_overrides: {
          a: { enabled: true, min_level: 'error', multiline: true, rate_limit_lines_per_second: 0 },
          b: {},
        },
      },
    ],
    ['not an object', 'x'],
    ['null', null],
    ['array', []],
    ['missing enabled', { ...d, enabled: undefined }],
    ['extra key', { ...d, extra: 1 }],
    ['bad level', { ...d, min_level: 'loud' }],
    ['negative rate', { ...d, rate_limit_lines_per_second: -1 }],
    ['fractional rate', { ...d, rate_limit_lines_per_second: 1.5 }],
    ['glob not string', { ...d, include_pods: [1] }],
    ['empty glob', { ...d, include_pods: [''] }],
    ['long glob', { ...d, include_pods: ['x'.repeat(254)] }],
    ['too many globs', { ...d, exclude_containers: Array.from({ length: 501 }, () => 'x') }],
    ['override extra key', { ...d, namespace_overrides: { a: { loud: true } } }],
    ['override bad level', { ...d, namespace_overrides: { a: { min_level: 'x' } } }],
    ['override not object', { ...d, namespace_overrides: { a: 1 } }],
    ['overrides not object', { ...d, namespace_overrides: [] }],
    ['multiline not boolean', { ...d, multiline: 'yes' }],
    ['streams, json fields and a label selector', { ...d, streams: ['stderr'], parse_json_fields: true, label_selector: 'app=web' }],
    ['both streams', { ...d, streams: ['stdout', 'stderr'] }],
    ['no stream', { ...d, streams: [] }],
    ['unknown stream', { ...d, streams: ['stdin'] }],
    ['repeated stream', { ...d, streams: ['stdout', 'stdout'] }],
    ['json fields not boolean', { ...d, parse_json_fields: 'on' }],
    ['empty label selector', { ...d, label_selector: '' }],
    ['label selector not string', { ...d, label_selector: 1 }],
    [
      'override with every setting',
      {
        ...d,
        namespace_overrides: {
          a: { include_pods: ['web-*'], exclude_pods: [], include_containers: ['app'], exclude_containers: ['istio-proxy'], streams: ['stdout'], parse_json_fields: false, label_selector: 'tier in (a,b)' },
        },
      },
    ],
    ['override bad glob', { ...d, namespace_overrides: { a: { include_pods: [''] } } }],
    ['override bad streams', { ...d, namespace_overrides: { a: { streams: ['x'] } } }],
    ['override bad selector', { ...d, namespace_overrides: { a: { label_selector: 5 } } }],
  ];
  for (const [name, value] of cases) {
    const clean = JSON.parse(JSON.stringify(value) ?? 'null') as unknown;
    t.equal(collectionConfigProblems(clean).length === 0, schema.Check(clean), name);
  }
  t.same(Object.keys(LEVEL_RANK).sort(), [...Levels].sort(), 'the agent knows exactly the record levels');
});
