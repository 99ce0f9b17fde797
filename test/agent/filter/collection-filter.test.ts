import t from 'tap';
import type { CollectionConfig } from '../../../shared/schemas/collection-config.ts';
import { DEFAULT_COLLECTION_CONFIG } from '../../../shared/schemas/collection-config-default.ts';
import { compileCollectionConfig, decideFile, LEVEL_RANK } from '../../../agent/filter/collection-filter.ts';

const cfg = (o: Partial<CollectionConfig>) => compileCollectionConfig({ ...DEFAULT_COLLECTION_CONFIG, ...o });
const f = { namespace: 'shop', pod: 'web-7d-x', container: 'nginx' };
const none = { pod: undefined, namespace: undefined };

t.test('decideFile: table', async (t) => {
  const cases: Array<
    [
      string,
      ReturnType<typeof cfg>,
      typeof none | { pod?: Record<string, string>; namespace?: Record<string, string> },
      string | null,
    ]
  > = [
    ['default collects', cfg({}), none, null],
    ['cluster disabled', cfg({ enabled: false }), none, 'excluded_by_config'],
    ['namespace excluded', cfg({ exclude_namespaces: ['sh*'] }), none, 'excluded_by_config'],
    ['namespace not included', cfg({ include_namespaces: ['kube-*'] }), none, 'excluded_by_config'],
    ['namespace included', cfg({ include_namespaces: ['shop'] }), none, null],
    [
      'exclude wins over include',
      cfg({ include_namespaces: ['shop'], exclude_namespaces: ['shop'] }),
      none,
      'excluded_by_config',
    ],
    ['override disables', cfg({ namespace_overrides: { shop: { enabled: false } } }), none, 'excluded_by_config'],
    [
      'override re-enables',
      cfg({ exclude_namespaces: ['*'], namespace_overrides: { shop: { enabled: true } } }),
      none,
      null,
    ],
    ['pod glob excluded', cfg({ exclude_pods: ['web-*'] }), none, 'excluded_by_config'],
    ['pod not included', cfg({ include_pods: ['db-?'] }), none, 'excluded_by_config'],
    ['container excluded', cfg({ exclude_containers: ['nginx'] }), none, 'excluded_by_config'],
    ['container included', cfg({ include_containers: ['ngi*'] }), none, null],
    ['pod annotation', cfg({}), { pod: { 'k8s-logs.io/exclude': 'true' } }, 'excluded_by_annotation'],
    ['pod annotation false', cfg({}), { pod: { 'k8s-logs.io/exclude': 'false' } }, null],
    ['namespace annotation', cfg({}), { namespace: { 'k8s-logs.io/exclude': 'True' } }, 'excluded_by_annotation'],
    [
      'exclude-containers hit',
      cfg({}),
      { pod: { 'k8s-logs.io/exclude-containers': 'sidecar, nginx' } },
      'excluded_by_annotation',
    ],
    ['exclude-containers miss', cfg({}), { pod: { 'k8s-logs.io/exclude-containers': 'sidecar' } }, null],
  ];
  for (const [name, c, ann, want] of cases) {
    t.equal(decideFile(c, f, { pod: ann.pod, namespace: ann.namespace }).exclude, want, name);
  }
});

t.test('min level, multiline and rate limit: cluster values with namespace overrides', async (t) => {
  const c = cfg({
    min_level: 'info',
    multiline: true,
    rate_limit_lines_per_second: 100,
    namespace_overrides: { shop: { min_level: 'error', multiline: false, rate_limit_lines_per_second: 5 } },
  });
  t.match(decideFile(c, f, none), { minLevelRank: LEVEL_RANK.error, multiline: false, rateLimit: 5 });
  t.match(decideFile(c, { ...f, namespace: 'other' }, none), {
    minLevelRank: LEVEL_RANK.info,
    multiline: true,
    rateLimit: 100,
  });
});

t.test('decideFile: label_selector on the pod labels, cluster-wide or per namespace', async (t) => {
  const decide = (c: ReturnType<typeof cfg>, podLabels: Record<string, string> | undefined, ns = 'shop') =>
    decideFile(c, { ...f, namespace: ns }, { pod: undefined, namespace: undefined, podLabels }).exclude;
  const wide = cfg({ label_selector: 'app in (web,api),tier!=batch,!legacy' });
  t.equal(decide(wide, { app: 'web' }), null, 'matches (a missing tier is not batch)');
  t.equal(decide(wide, { app: 'api', tier: 'front' }), null);
  t.equal(decide(wide, { app: 'db' }), 'excluded_by_config', 'app not in the set');
  t.equal(decide(wide, { app: 'web', tier: 'batch' }), 'excluded_by_config', 'tier!=batch');
  t.equal(decide(wide, { app: 'web', legacy: '' }), 'excluded_by_config', '!legacy: the key must be absent');
  t.equal(decide(wide, {}), 'excluded_by_config', 'no labels: app is required');
  t.equal(decide(wide, undefined), null, 'pod unknown (no metadata yet): collected, never dropped on a guess');
  const perNs = cfg({ label_selector: 'app=web', namespace_overrides: { shop: { label_selector: 'app=db' } } });
  t.equal(decide(perNs, { app: 'db' }), null, "the namespace's selector wins");
  t.equal(decide(perNs, { app: 'web' }), 'excluded_by_config');
  t.equal(decide(perNs, { app: 'web' }, 'other'), null, 'other namespaces use the cluster-wide one');
  t.equal(decide(perNs, { app: 'db' }, 'other'), 'excluded_by_config');
  const broken = cfg({ label_selector: 'app in (web' });
  t.equal(decide(broken, { app: 'db' }), null, 'a selector the agent cannot parse drops nothing');
});
