/**
 * The write block delete-after-verify puts on a day index (`index.blocks.write`), with its
 * owner recorded in the index mapping's `_meta.archive_write_block` (job id and since when).
 *
 * Why an owner: the block is lifted in a `finally`, which fails too when the store is what
 * went away. A block left behind makes ingest answer that day's late records with a retry
 * for as long as it stays, so the agents keep resending them. The archive scheduler sweeps
 * such blocks on every tick ({@link liftAbandonedWriteBlocks}): a block whose owner job has
 * ended (or is unknown) is lifted; a running job's block stays (it may be verifying, and
 * lifting it then could let a record in between "verified" and "deleted"); a block with no
 * owner tag is not ours (an operator's) and is never touched.
 */
import type { OpenSearch } from '../store/opensearch.ts';
import { storeStatus } from '../store/opensearch.ts';

const OWNER_KEY = 'archive_write_block';

export interface WriteBlockOwner {
  job_id: string;
  since: string;
}

async function metaOf(client: OpenSearch, index: string): Promise<Record<string, unknown>> {
  const res = await client.indices.getMapping({ index });
  const body = res.body as Record<string, { mappings?: { _meta?: Record<string, unknown> } }>;
  return body[index]?.mappings?._meta ?? {};
}

async function putMeta(client: OpenSearch, index: string, meta: Record<string, unknown>): Promise<void> {
  await client.indices.putMapping({ index, body: { _meta: meta } as never });
}

/** Records the owner, then blocks writes (so a block is never without its owner). */
export async function blockWrites(client: OpenSearch, index: string, jobId: string | null): Promise<void> {
  const meta = await metaOf(client, index);
  const owner: WriteBlockOwner = { job_id: jobId ?? 'direct', since: new Date().toISOString() };
  await putMeta(client, index, { ...meta, [OWNER_KEY]: owner });
  await client.indices.putSettings({ index, body: { 'index.blocks.write': true } });
}

/** Lifts the block, then forgets its owner. A missing index has nothing to lift. */
export async function liftWrites(client: OpenSearch, index: string): Promise<void> {
  try {
    await client.indices.putSettings({ index, body: { 'index.blocks.write': false } });
    const meta = await metaOf(client, index);
    if (OWNER_KEY in meta) {
      const { [OWNER_KEY]: _owner, ...rest } = meta;
      await putMeta(client, index, rest);
    }
  } catch (err) {
    if (storeStatus(err) !== 404) throw err;
  }
}

/** Pure: the owner recorded in an index's `_meta`, if it is one of ours. */
export function blockOwnerOf(meta: Record<string, unknown> | undefined): WriteBlockOwner | undefined {
  const o = meta?.[OWNER_KEY] as Partial<WriteBlockOwner> | undefined;
  return o && typeof o.job_id === 'string' && typeof o.since === 'string'
    ? { job_id: o.job_id, since: o.since }
    : undefined;
}

/**
 * Lifts every write block on the prefix's log indices whose owner job is not live
 * (`isLive(jobId)` false: ended, or unknown). Returns the indices it unblocked.
 */
export async function liftAbandonedWriteBlocks(
  client: OpenSearch,
  indexPrefix: string,
  isLive: (jobId: string) => Promise<boolean>,
): Promise<string[]> {
  const res = await client.indices.getSettings({
    index: `${indexPrefix}-*`,
    name: 'index.blocks.write',
    flat_settings: true,
    ignore_unavailable: true,
    allow_no_indices: true,
  } as never);
  const blocked = Object.entries(res.body as Record<string, { settings?: Record<string, string> }>)
    .filter(([, v]) => v.settings?.['index.blocks.write'] === 'true')
    .map(([name]) => name);
  const lifted: string[] = [];
  for (const index of blocked) {
    const owner = blockOwnerOf(await metaOf(client, index));
    if (!owner || (await isLive(owner.job_id))) continue;
    await liftWrites(client, index);
    lifted.push(index);
  }
  return lifted;
}
