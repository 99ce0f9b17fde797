// Faults during an archive job, on the real OpenSearch and real S3 servers: S3 stopped in
// the middle, OpenSearch gone (behind a TCP gate) while archiving and while verifying, the
// job's process SIGKILLed during an upload. Afterwards nothing is lost,
// nothing unverified is deleted, and a resumed job finishes without duplicates.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { archiveJobHandler } from '../../../aggregator/jobs/archive-job.ts';
import { S3Failure } from '../../../aggregator/archive/s3-bucket.ts';
import { startS3Server } from '../../../dev/s3/s3-server.ts';
import type { LogRecord } from '../../../shared/record.ts';
import {
  archiveHandlerFor,
  dayOf,
  dayRecords,
  jobContext,
  policyFor,
  startArchiveFixture,
  wrapBucket,
} from '../../helpers/archive-fixture.ts';
import { startTcpGate } from '../../helpers/tcp-gate.ts';
import { ArchiveCatalog } from '../../../aggregator/archive/archive-catalog.ts';
import { createOpenSearchClient, type OpenSearch } from '../../../aggregator/store/opensearch.ts';
import { configWith } from '../../../aggregator/config.ts';
import { blockOwnerOf } from '../../../aggregator/archive/write-block.ts';
import { openSearchUrl } from '../../helpers/services.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const asLines = (records: LogRecord[]) => records.map((r) => JSON.stringify(r)).sort();
const indexOf = (prefix: string, cluster: string, daysAgo: number) =>
  `${prefix}-${cluster}-${dayOf(daysAgo).replaceAll('-', '.')}`;

t.test(
  'S3 stopped mid-job: the job fails saying so, no day is deleted, and the resumed job completes exactly',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'k8s-logs-arch-s3-'));
    let server = await startS3Server({ dataDir: dir });
    t.teardown(async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    });
    const f = await startArchiveFixture(t, { name: 'arch-s3down', s3: server });
    const recs = [
      ...dayRecords('alpha', 'payments', 4, 40),
      ...dayRecords('alpha', 'web', 4, 30),
      ...dayRecords('alpha', 'payments', 3, 20),
      ...dayRecords('alpha', 'web', 2, 10),
    ];
    await f.write(recs);
    const policy = policyFor(f, { after: { delete_from_store: true } });
    let partitionsSeen = 0;
    const run1 = jobContext('job-s3', { policy_id: policy.id });
    const h1 = archiveJobHandler({
      client: f.client,
      indexPrefix: f.prefix,
      bucket: () => f.bucket,
      policy: async () => policy,
      catalog: f.catalog,
      onPartition: async () => {
        if (++partitionsSeen === 2) await server.stop();
      },
    });
    const err = await h1.run(run1.ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof S3Failure && err.kind === 'unreachable', `the job fails with S3 unreachable (${String(err)})`);
    t.same(
      Object.keys((run1.ctx.saved as any).partitions).length,
      2,
      'progress holds the two partitions done before S3 went away',
    );
    const indices = await f.dayIndices();
    for (const d of [4, 3, 2]) t.ok(indices.includes(indexOf(f.prefix, 'alpha', d)), `day -${d} still in the store`);

    server = await startS3Server({ dataDir: dir, port: Number(new URL(server.endpoint).port) });
    const run2 = jobContext('job-s3', { policy_id: policy.id }, run1.ctx.saved);
    const r2 = await archiveJobHandler({
      client: f.client,
      indexPrefix: f.prefix,
      bucket: () => f.bucket,
      policy: async () => policy,
      catalog: f.catalog,
    }).run(run2.ctx);
    t.equal(r2['records'], recs.length);
    t.same((await f.archivedLines()).sort(), asLines(recs), 'every record archived exactly once');
    for (const d of [4, 3, 2])
      t.equal((r2['days'] as any)[`alpha/${dayOf(d)}`]?.deleted, true, `day -${d} deleted after verification`);
  },
);

t.test(
  'the job process SIGKILLed during an upload: no day deleted, another process resumes from the checkpoint without duplicates',
  async (t) => {
    const f = await startArchiveFixture(t, { name: 'arch-kill' });
    const recs = [
      ...dayRecords('alpha', 'payments', 3, 2500),
      ...dayRecords('alpha', 'web', 3, 30),
      ...dayRecords('beta', 'payments', 2, 20),
    ];
    await f.write(recs);
    const policy = policyFor(f, { after: { delete_from_store: true }, format: { target_object_bytes: 16 * 1024 } });
    const dir = await mkdtemp(join(tmpdir(), 'k8s-logs-arch-kill-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const checkpointFile = join(dir, 'checkpoint.json');
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'archive-child.ts')], {
      env: {
        ...process.env,
        OPENSEARCH_URL: await openSearchUrl(t),
        INDEX_PREFIX: f.prefix,
        POLICY: JSON.stringify(policy),
        CHECKPOINT_FILE: checkpointFile,
        S3_ENDPOINT: f.s3.endpoint,
        S3_REGION: f.s3.region,
        S3_ACCESS_KEY_ID: f.s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: f.s3.secretAccessKey,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    // The second object of the big partition: its first object is stored, the partition is not done.
    const uploading = await waitFor(() => (out.match(/^uploading .*$/gm) ?? []).length >= 2 && out, {
      what: 'the child uploading its second object',
      timeoutMs: 120_000,
    });
    child.kill('SIGKILL');
    await once(child, 'exit');
    t.notMatch(uploading, /finished/, 'killed before the job finished');
    const indices = await f.dayIndices();
    t.ok(
      indices.includes(indexOf(f.prefix, 'alpha', 3)) && indices.includes(indexOf(f.prefix, 'beta', 2)),
      'no day deleted by the killed job',
    );

    const saved = await readFile(checkpointFile, 'utf8').then(
      (s) => JSON.parse(s) as Record<string, unknown>,
      () => null,
    );
    const resumed = jobContext('job-killed', { policy_id: policy.id }, saved);
    const r = await archiveJobHandler({
      client: f.client,
      indexPrefix: f.prefix,
      bucket: () => f.bucket,
      policy: async () => policy,
      catalog: f.catalog,
    }).run(resumed.ctx);
    t.equal(r['records'], recs.length);
    t.same((await f.archivedLines()).sort(), asLines(recs), 'after the resume every record is archived exactly once');
    t.equal((r['days'] as any)[`alpha/${dayOf(3)}`]?.deleted, true);
    t.equal((r['days'] as any)[`beta/${dayOf(2)}`]?.deleted, true);
  },
);

/** The job's own OpenSearch client, through a TCP gate in front of the shared node: the store can go away under it. */
async function gatedStore(t: { teardown(fn: () => unknown): void }, requestTimeoutMs = 5_000) {
  const target = new URL(await openSearchUrl(t));
  const gate = await startTcpGate({ host: target.hostname, port: Number(target.port) });
  t.teardown(() => gate.close());
  const client = createOpenSearchClient({
    ...configWith({}).opensearch,
    url: `http://127.0.0.1:${gate.port}`,
    username: undefined,
    password: undefined,
    requestTimeoutMs,
    maxRetries: 0,
  } as never);
  t.teardown(() => client.close());
  return { gate, client };
}

const writeBlocked = async (f: { client: OpenSearch }, index: string) => {
  const s = await f.client.indices.getSettings({ index, flat_settings: true } as never);
  return (
    (s.body as Record<string, { settings: Record<string, string> }>)[index]?.settings['index.blocks.write'] === 'true'
  );
};

t.test(
  'OpenSearch down mid-job: while archiving, the job fails and deletes nothing; resumed, it completes exactly',
  async (t) => {
    const f = await startArchiveFixture(t, { name: 'arch-osdown' });
    const recs = [
      ...dayRecords('alpha', 'payments', 4, 40),
      ...dayRecords('alpha', 'web', 4, 30),
      ...dayRecords('alpha', 'payments', 3, 20),
      ...dayRecords('alpha', 'web', 2, 10),
    ];
    await f.write(recs);
    const policy = policyFor(f, { after: { delete_from_store: true } });
    const { gate, client } = await gatedStore(t);
    const gated = { client, catalog: new ArchiveCatalog(client, f.prefix) };
    let seen = 0;
    const run1 = jobContext('job-os', { policy_id: policy.id });
    const err = await archiveHandlerFor(f, policy, {
      ...gated,
      onPartition: async () => {
        if (++seen === 2) await gate.refuse();
      },
    })
      .run(run1.ctx)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    t.ok(err instanceof Error, `the job fails (${String(err)})`);
    t.equal(Object.keys((run1.ctx.saved as any).partitions).length, 2, 'progress holds the partitions done before');
    const indices = await f.dayIndices();
    for (const d of [4, 3, 2]) t.ok(indices.includes(indexOf(f.prefix, 'alpha', d)), `day -${d} still in the store`);
    const c = await f.client.count({ index: `${f.prefix}-alpha-*` });
    t.equal((c.body as { count: number }).count, recs.length, 'every record still in the store');

    await gate.open();
    const run2 = jobContext('job-os', { policy_id: policy.id }, run1.ctx.saved);
    const r2 = await archiveHandlerFor(f, policy, gated).run(run2.ctx);
    t.equal(r2['records'], recs.length);
    t.same((await f.archivedLines()).sort(), asLines(recs), 'every record archived exactly once');
    for (const d of [4, 3, 2])
      t.equal((r2['days'] as any)[`alpha/${dayOf(d)}`]?.deleted, true, `day -${d} deleted after verification`);
  },
);

t.test(
  'OpenSearch down during delete-after-verify: the day stays (every record), its block keeps its owner, the resumed job deletes it',
  async (t) => {
    const f = await startArchiveFixture(t, { name: 'arch-osverify' });
    const recs = [...dayRecords('alpha', 'payments', 3, 30), ...dayRecords('alpha', 'web', 3, 20)];
    await f.write(recs);
    const policy = policyFor(f, { after: { delete_from_store: true } });
    const { gate, client } = await gatedStore(t);
    // The store goes away as verification reads the first object back from S3: after the
    // day's writes were blocked, before anything could be deleted.
    let verifying = false;
    let cut = false;
    const cutOnFirstObjectRead = async (key: string) => {
      if (verifying && !cut && key.endsWith('.ndjson.gz')) {
        cut = true;
        await gate.refuse();
      }
    };
    const bucket = wrapBucket(f.bucket, {
      get: async (key, range) => (await cutOnFirstObjectRead(key), f.bucket.get(key, range)),
      stream: async (key) => (await cutOnFirstObjectRead(key), f.bucket.stream(key)),
    });
    const gated = { client, bucket: () => bucket, catalog: new ArchiveCatalog(client, f.prefix) };
    let seen = 0;
    const run1 = jobContext('job-osv', { policy_id: policy.id });
    const err = await archiveHandlerFor(f, policy, {
      ...gated,
      onPartition: () => {
        if (++seen === 2) verifying = true;
      },
    })
      .run(run1.ctx)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    t.ok(cut, 'the store went away during verification');
    t.ok(err instanceof Error, `the job fails (${String(err)})`);
    const day = indexOf(f.prefix, 'alpha', 3);
    t.ok((await f.dayIndices()).includes(day), 'the day is not deleted');
    const c = await f.client.count({ index: day });
    t.equal((c.body as { count: number }).count, recs.length, 'every record still in the store');

    await gate.open();
    // The block could not be lifted with the store gone: it stays, owned by the job, which
    // the archive scheduler's sweep lifts once the job has ended (archive-write-block.test.ts).
    t.ok(await writeBlocked(f, day), 'the write block outlived the outage');
    const mapping = await f.client.indices.getMapping({ index: day });
    t.equal(blockOwnerOf((mapping.body as any)[day].mappings._meta)?.job_id, 'job-osv', 'with its owner recorded');
    verifying = false;
    const run2 = jobContext('job-osv', { policy_id: policy.id }, run1.ctx.saved);
    const r2 = await archiveHandlerFor(f, policy, gated).run(run2.ctx);
    t.same(
      (r2['days'] as any)[`alpha/${dayOf(3)}`],
      { deleted: true, records: recs.length },
      'the resumed job deletes it',
    );
    t.same((await f.archivedLines()).sort(), asLines(recs), 'every record archived exactly once');
  },
);
