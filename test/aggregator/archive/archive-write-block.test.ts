// The write block of delete-after-verify, on the real OpenSearch: it records its owner job,
// and a block whose owner has ended (one the store's outage kept the job from lifting) is
// lifted by the archive scheduler's sweep, while a running job's block and a block that is
// not ours stay.
import t from 'tap';
import {
  blockOwnerOf,
  blockWrites,
  liftAbandonedWriteBlocks,
  liftWrites,
} from '../../../aggregator/archive/write-block.ts';
import type { OpenSearch } from '../../../aggregator/store/opensearch.ts';
import { dayOf, dayRecords, startArchiveFixture, startArchivingAggregator } from '../../helpers/archive-fixture.ts';
import { ingest, ndjson } from '../../helpers/records.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const indexOf = (prefix: string, cluster: string, daysAgo: number) =>
  `${prefix}-${cluster}-${dayOf(daysAgo).replaceAll('-', '.')}`;

async function state(client: OpenSearch, index: string) {
  const s = await client.indices.getSettings({ index, flat_settings: true } as never);
  const m = await client.indices.getMapping({ index });
  const meta = (m.body as any)[index].mappings._meta as Record<string, unknown>;
  return {
    blocked: (s.body as any)[index].settings['index.blocks.write'] === 'true',
    owner: blockOwnerOf(meta)?.job_id,
    mappingVersion: meta['mapping_version'],
  };
}

t.test('blockOwnerOf: only a well-formed owner of ours', async (t) => {
  t.equal(blockOwnerOf(undefined), undefined);
  t.equal(blockOwnerOf({ mapping_version: 2 }), undefined);
  t.equal(blockOwnerOf({ archive_write_block: { job_id: 7 } }), undefined);
  t.same(blockOwnerOf({ archive_write_block: { job_id: 'j', since: 'x' } }), { job_id: 'j', since: 'x' });
});

t.test('the sweep lifts blocks of ended jobs only, and never a block that is not ours', async (t) => {
  const f = await startArchiveFixture(t, { name: 'wblock' });
  await f.write([
    ...dayRecords('alpha', 'web', 4, 3),
    ...dayRecords('alpha', 'web', 3, 3),
    ...dayRecords('alpha', 'web', 2, 3),
  ]);
  const [ended, running, operators] = [4, 3, 2].map((d) => indexOf(f.prefix, 'alpha', d)) as [string, string, string];
  await blockWrites(f.client, ended, 'job-ended');
  await blockWrites(f.client, running, 'job-running');
  await f.client.indices.putSettings({ index: operators, body: { 'index.blocks.write': true } });
  t.same(await state(f.client, ended), { blocked: true, owner: 'job-ended', mappingVersion: 2 }, 'owner recorded');

  const lifted = await liftAbandonedWriteBlocks(f.client, f.prefix, async (id) => id === 'job-running');
  t.same(lifted, [ended]);
  t.same(
    await state(f.client, ended),
    { blocked: false, owner: undefined, mappingVersion: 2 },
    'lifted, the owner forgotten, the rest of _meta kept',
  );
  t.same((await state(f.client, running)).blocked, true, "a live job's block stays");
  t.same((await state(f.client, operators)).blocked, true, 'a block without our owner stays');
  await f.write(dayRecords('alpha', 'web', 4, 1));
  t.pass('the unblocked day takes writes again');

  await liftWrites(f.client, running);
  t.same(await state(f.client, running), { blocked: false, owner: undefined, mappingVersion: 2 });
  await liftWrites(f.client, `${f.prefix}-alpha-1999.01.01`);
  t.pass('lifting a missing index is a no-op');
  await f.client.indices.putSettings({ index: operators, body: { 'index.blocks.write': false } });
});

t.test("the aggregator's archive scheduler sweeps a block whose job has ended", async (t) => {
  const { agg } = await startArchivingAggregator(t, 'wblock-app', { scheduleTickMs: 100 });
  const late = dayRecords('alpha', 'web', 3, 2);
  const ingestToken = await agg.ingestToken('alpha');
  t.equal((await ingest(agg.url, ingestToken, ndjson(late.slice(0, 1)))).status, 200);
  const index = indexOf(agg.prefix, 'alpha', 3);
  await blockWrites(agg.app.opensearch, index, 'archive-some-policy-that-ended');
  agg.app.startJobs();
  await waitFor(async () => !(await state(agg.app.opensearch, index)).blocked, {
    what: 'the sweep to lift the abandoned block',
    timeoutMs: 60_000,
    intervalMs: 100,
  });
  const res = await ingest(agg.url, ingestToken, ndjson(late.slice(1)));
  t.equal(res.status, 200, 'a late record for the day is stored again');
});
