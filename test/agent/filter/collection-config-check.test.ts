import t from 'tap';
import { Compile } from 'typebox/compile';
import { Levels } from '../../../shared/record.ts';
import { CollectionConfigSchema, DEFAULT_COLLECTION_CONFIG } from '../../../shared/schemas/collection-config.ts';
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
  ];
  for (const [name, value] of cases) {
    const clean = JSON.parse(JSON.stringify(value) ?? 'null') as unknown;
    t.equal(collectionConfigProblems(clean).length === 0, schema.Check(clean), name);
  }
  t.same(Object.keys(LEVEL_RANK).sort(), [...Levels].sort(), 'the agent knows exactly the record levels');
});
