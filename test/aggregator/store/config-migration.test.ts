/**
 * Collection configs stored by version 1 (one document per cluster) are rewritten at start
 * as this version's documents (one per scope), so an upgraded install lists them, edits them
 * and hands its agents the same effective config, instead of answering 500.
 */
import t from 'tap';
import { buildApp } from '../../../aggregator/app.ts';
import { configWith } from '../../../aggregator/config.ts';
import { effectiveConfig } from '../../../aggregator/collection/collection-config-model.ts';
import { migrateV1ConfigDoc, type V1ConfigDoc } from '../../../aggregator/collection/v1-config-migration.ts';
import { systemIndexName } from '../../../aggregator/store/system-indices.ts';
import { DEFAULT_COLLECTION_CONFIG } from '../../../shared/schemas/collection-config-default.ts';
import { openSearchUrl, uniquePrefix } from '../../helpers/services.ts';

const ADMIN = 'config-migration-admin-token';

function v1(cluster: string, overrides: V1ConfigDoc['config']['namespace_overrides'], enabled = true): V1ConfigDoc {
  return {
    cluster,
    etag: '"v1-etag"',
    updated_at: '2026-11-01T10:00:00.000Z',
    config: {
      enabled,
      include_namespaces: ['team-*'],
      exclude_namespaces: ['team-secret'],
      include_pods: [],
      exclude_pods: ['noisy-*'],
      include_containers: [],
      exclude_containers: ['istio-proxy'],
      min_level: 'info',
      rate_limit_lines_per_second: 500,
      multiline: false,
      namespace_overrides: overrides,
    },
  };
}

/** What version 1's agents obeyed: the stored config, overrides inheriting the cluster's `enabled`. */
function v1Effective(doc: V1ConfigDoc) {
  const { namespace_overrides, ...rest } = doc.config;
  return {
    ...DEFAULT_COLLECTION_CONFIG,
    ...rest,
    namespace_overrides: Object.fromEntries(
      Object.entries(namespace_overrides).map(([ns, o]) => [ns, { ...o, enabled: o.enabled ?? doc.config.enabled }]),
    ),
  };
}

t.test('the conversion keeps the effective config', async (t) => {
  for (const doc of [
    v1('c1', {}),
    v1('c2', {
      'team-a': { min_level: 'debug' },
      'team-b': { enabled: false, multiline: true, rate_limit_lines_per_second: 0 },
    }),
    v1('c3', { 'team-a': {} }, false),
  ]) {
    const docs = migrateV1ConfigDoc(doc);
    t.equal(
      docs.length,
      1 + Object.keys(doc.config.namespace_overrides).length,
      `${doc.cluster}: one document per scope`,
    );
    t.same(effectiveConfig(doc.cluster, docs), v1Effective(doc), `${doc.cluster}: same effective config`);
  }
});

t.test('prepareStore migrates version-1 documents once, across restarts and replicas', async (t) => {
  const url = await openSearchUrl(t);
  const prefix = uniquePrefix('cfg-v1');
  t.teardown(async () => {
    await fetch(`${url}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
    await fetch(`${url}/_index_template/${prefix}-logs`, { method: 'DELETE' }).catch(() => {});
  });
  const open = async () => {
    const app = await buildApp(configWith({ opensearchUrl: url, indexPrefix: prefix, adminToken: ADMIN }));
    t.teardown(() => app.close());
    return app;
  };
  const first = await open();
  await first.prepareStore();
  const index = systemIndexName(prefix, 'configs');
  const old = {
    plain: v1('plain', {}),
    layered: v1('layered', { 'team-a': { min_level: 'debug' }, 'team-b': { enabled: false } }),
    // Not a namespace name: this version cannot hold it, so it stays as it is.
    odd: v1('odd', { Not_A_Namespace: { multiline: true } }),
  };
  for (const [id, doc] of Object.entries(old)) {
    const res = await fetch(`${url}/${index}/_doc/${id}?refresh=true`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(doc),
    });
    t.equal(res.status, 201, `version-1 document ${id} stored`);
  }

  // A restart of one replica and another replica starting at the same time.
  const [a, b] = [await open(), await open()];
  await Promise.all([a.prepareStore(), b.prepareStore()]);

  const list = await a.inject({
    url: '/v1/k8s/logs/config?cluster=layered',
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  t.equal(list.statusCode, 200, 'the migrated cluster lists');
  const configs = (list.json() as { configs: Array<{ id: string; namespace: string | null; enabled: boolean }> })
    .configs;
  t.same(
    configs.map((c) => [c.id, c.namespace, c.enabled]),
    [
      ['layered', null, true],
      ['layered:team-a', 'team-a', true],
      ['layered:team-b', 'team-b', false],
    ],
  );
  for (const cluster of ['plain', 'layered'] as const) {
    const { config, stored } = await a.collectionConfigs.get(cluster);
    t.ok(stored);
    t.same(config, v1Effective(old[cluster]), `${cluster}: agents get what version 1 gave them`);
  }
  const again = await a.collectionConfigs.migrateV1();
  t.same(
    again,
    { migrated: 0, unreadable: ['odd'] },
    'nothing left to migrate but the document this version cannot hold',
  );

  const edit = await a.inject({
    method: 'PUT',
    url: '/v1/k8s/logs/config?id=layered:team-a',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    payload: { enabled: true, min_level: 'warn' },
  });
  t.equal(edit.statusCode, 200, `a migrated config can be edited: ${edit.body}`);
});
