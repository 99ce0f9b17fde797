import t from 'tap';
import { buildApp } from '../../../aggregator/app.ts';
import { configWith } from '../../../aggregator/config.ts';
import { MAPPING_VERSION } from '../../../aggregator/store/log-indices.ts';
import { openSearchUrl, uniquePrefix } from '../../helpers/services.ts';

const url = await openSearchUrl(t);

async function appOn(prefix: string) {
  const app = await buildApp(configWith({ opensearchUrl: url, indexPrefix: prefix, adminToken: 'bootstrap-test-admin-token' }));
  t.teardown(() => app.close());
  return app;
}

async function template(prefix: string) {
  const res = await fetch(`${url}/_index_template/${prefix}-logs`);
  const body = (await res.json()) as { index_templates: Array<{ index_template: { _meta?: { mapping_version?: number }; template: { mappings?: { properties?: Record<string, { type?: string }> } } } }> };
  return body.index_templates[0]?.index_template;
}

async function putTemplate(prefix: string, version: number) {
  const res = await fetch(`${url}/_index_template/${prefix}-logs`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      index_patterns: [`${prefix}-*`],
      priority: 100,
      _meta: { mapping_version: version, owner: 'k8s-logs' },
      template: { mappings: { properties: { message: { type: 'text' }, timestamp: { type: 'date' } } } },
    }),
  });
  if (res.status !== 200) throw new Error(`put template: ${res.status} ${await res.text()}`);
}

t.teardown(async () => {
  for (const p of prefixes) {
    await fetch(`${url}/_index_template/${p}-logs`, { method: 'DELETE' }).catch(() => {});
    await fetch(`${url}/${p}-*,.${p}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
  }
});
const prefixes: string[] = [];

t.test('prepareStore replaces a template of an older mapping version', async (t) => {
  const prefix = uniquePrefix('mapv-old');
  prefixes.push(prefix);
  await putTemplate(prefix, MAPPING_VERSION - 1);
  t.equal((await template(prefix))?.template.mappings?.properties?.['message']?.type, 'text', 'old template in place');
  const app = await appOn(prefix);
  await app.prepareStore();
  const now = await template(prefix);
  t.equal(now?._meta?.mapping_version, MAPPING_VERSION);
  t.equal(now?.template.mappings?.properties?.['message']?.type, 'wildcard', 'current mapping installed');
  t.equal(now?.template.mappings?.properties?.['timestamp']?.type, 'date_nanos');
  // A day index created now gets the new mapping.
  await fetch(`${url}/${prefix}-alpha-2026.03.10`, { method: 'PUT' });
  const mapping = (await (await fetch(`${url}/${prefix}-alpha-2026.03.10/_mapping`)).json()) as Record<string, { mappings: { _meta?: { mapping_version?: number }; properties: Record<string, { type: string }> } }>;
  const m = mapping[`${prefix}-alpha-2026.03.10`]?.mappings;
  t.equal(m?.properties['message']?.type, 'wildcard');
  t.equal(m?._meta?.mapping_version, MAPPING_VERSION);
});

t.test('prepareStore leaves a template of the current or a newer version alone', async (t) => {
  const prefix = uniquePrefix('mapv-new');
  prefixes.push(prefix);
  // A newer replica (rolling upgrade) already installed its mapping: an older one must not downgrade it.
  await putTemplate(prefix, MAPPING_VERSION + 1);
  const app = await appOn(prefix);
  await app.prepareStore();
  const after = await template(prefix);
  t.equal(after?._meta?.mapping_version, MAPPING_VERSION + 1);
  t.equal(after?.template.mappings?.properties?.['message']?.type, 'text');
});

t.test('prepareStore is idempotent and creates the jobs system index', async (t) => {
  const prefix = uniquePrefix('mapv-idem');
  prefixes.push(prefix);
  const [a, b] = [await appOn(prefix), await appOn(prefix)];
  await Promise.all([a.prepareStore(), b.prepareStore()]);
  t.equal((await template(prefix))?._meta?.mapping_version, MAPPING_VERSION);
  const jobs = await fetch(`${url}/.${prefix}-jobs?expand_wildcards=all`);
  t.equal(jobs.status, 200);
});

t.test('prepareStore rewrites a template of the current version whose settings an operator changed', async (t) => {
  const prefix = uniquePrefix('mapv-set');
  prefixes.push(prefix);
  const base = configWith({ opensearchUrl: url, indexPrefix: prefix, adminToken: 'bootstrap-test-admin-token' });
  const first = await buildApp(base);
  t.teardown(() => first.close());
  await first.prepareStore();
  const settings = async () => {
    const res = await fetch(`${url}/_index_template/${prefix}-logs`);
    const body = (await res.json()) as { index_templates: Array<{ index_template: { template: { settings: { index: Record<string, unknown> } } } }> };
    return body.index_templates[0]?.index_template.template.settings.index;
  };
  t.equal((await settings())?.['refresh_interval'], '1000ms');
  const changed = { ...base, opensearch: { ...base.opensearch, refreshIntervalMs: 5000, translogDurability: 'async' as const } };
  const second = await buildApp(changed);
  t.teardown(() => second.close());
  await second.prepareStore();
  const now = await settings();
  t.equal(now?.['refresh_interval'], '5000ms', 'the new value is installed');
  t.same(now?.['translog'], { durability: 'async', sync_interval: '5000ms' });
  t.equal((await template(prefix))?._meta?.mapping_version, MAPPING_VERSION);
});

t.test('a heartbeats index made by an older version gains the fields added since', async (t) => {
  const prefix = uniquePrefix('bootstrap-hb');
  prefixes.push(prefix);
  // The heartbeats mapping before started_at / discarded / rejected.
  const old = await fetch(`${url}/.${prefix}-heartbeats`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      settings: { number_of_shards: 1, number_of_replicas: 0, 'index.hidden': true },
      mappings: {
        dynamic: 'strict',
        properties: {
          cluster: { type: 'keyword' },
          node: { type: 'keyword' },
          agent_version: { type: 'keyword' },
          files_watched: { type: 'long' },
          bytes_behind: { type: 'long' },
          last_ack_at: { type: 'date' },
          sent_at: { type: 'date' },
          received_at: { type: 'date' },
        },
      },
    }),
  });
  t.equal(old.status, 200);
  const app = await appOn(prefix);
  await app.prepareStore();
  const res = await fetch(`${url}/.${prefix}-heartbeats/_mapping`);
  const props = ((await res.json()) as Record<string, { mappings: { properties: Record<string, unknown> } }>)[
    `.${prefix}-heartbeats`
  ]!.mappings.properties;
  t.match(props, {
    started_at: { type: 'date' },
    discarded: { type: 'object', enabled: false },
    rejected: { type: 'object', enabled: false },
  });
  await app.services.heartbeats.record({
    cluster: 'c',
    node: 'n',
    agent_version: '1',
    files_watched: 0,
    bytes_behind: 0,
    sent_at: new Date().toISOString(),
    discarded: { rate_limited: 1 },
  });
  t.pass('a heartbeat with discards is stored');
});
