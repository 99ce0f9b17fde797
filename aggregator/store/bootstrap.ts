/**
 * Creates what the aggregator needs in OpenSearch before it serves: the log index
 * template and the system indices. Idempotent and safe when several replicas start at
 * once: "already exists" is success, and the template is only written when missing or of
 * an older mapping version.
 */
import type { OpenSearch } from './opensearch.ts';
import { storeErrorType } from './opensearch.ts';
import { MAPPING_VERSION, logIndexTemplate } from './log-indices.ts';
import { SYSTEM_INDICES, systemIndexName, type SystemIndexKey } from './system-indices.ts';

export interface StoreLayout {
  readonly indexPrefix: string;
  readonly shards: number;
  readonly replicas: number;
}

export async function bootstrapStore(client: OpenSearch, layout: StoreLayout): Promise<void> {
  const templateName = `${layout.indexPrefix}-logs`;
  const existing = await client.indices
    .getIndexTemplate({ name: templateName })
    .then((r) => r.body as { index_templates?: Array<{ index_template?: { _meta?: { mapping_version?: number } } }> })
    .catch((err: unknown) => {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    });
  const version = existing?.index_templates?.[0]?.index_template?._meta?.mapping_version ?? 0;
  if (version < MAPPING_VERSION) {
    await client.indices.putIndexTemplate({
      name: templateName,
      // The client's mapping types lag OpenSearch (no `wildcard`); the body is plain JSON.
      body: logIndexTemplate(layout.indexPrefix, layout.shards, layout.replicas) as never,
    });
  }
  for (const key of Object.keys(SYSTEM_INDICES) as SystemIndexKey[]) {
    await ensureSystemIndex(client, layout.indexPrefix, key);
  }
}

async function ensureSystemIndex(client: OpenSearch, prefix: string, key: SystemIndexKey) {
  try {
    await client.indices.create({
      index: systemIndexName(prefix, key),
      body: {
        settings: { number_of_shards: 1, number_of_replicas: 0, 'index.auto_expand_replicas': '0-1', 'index.hidden': true },
        mappings: SYSTEM_INDICES[key].mappings,
      },
    });
  } catch (err) {
    if (storeErrorType(err) !== 'resource_already_exists_exception') throw err;
    // An index of an earlier version: add the properties it lacks (additive, so safe to
    // repeat and to race with other replicas).
    await client.indices.putMapping({ index: systemIndexName(prefix, key), body: { properties: SYSTEM_INDICES[key].mappings.properties } as never });
  }
}

/** True when the template is in place: what `/readyz` checks besides reachability. */
export async function storeIsReady(client: OpenSearch, layout: StoreLayout): Promise<boolean> {
  const r = await client.indices.existsIndexTemplate({ name: `${layout.indexPrefix}-logs` });
  return r.body === true || r.statusCode === 200;
}
