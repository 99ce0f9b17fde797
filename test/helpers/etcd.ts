import { fetch } from 'undici';

/**
 * Compacts the test etcd to its current revision, as the API server's periodic compaction
 * does, so that watches resuming from before it get 410 Expired.
 *
 * Test files share one etcd and run side by side: another file's compaction may land
 * between reading the revision and compacting to it. etcd then refuses ours with "required
 * revision has been compacted", but the history up to our revision is gone all the same,
 * which is all a caller asks for.
 */
export async function compactEtcd(etcdUrl: string): Promise<void> {
  const range = await fetch(`${etcdUrl}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from('/').toString('base64') }),
  });
  if (!range.ok) throw new Error(`etcd range: ${range.status} ${await range.text()}`);
  const revision = ((await range.json()) as { header: { revision: string } }).header.revision;
  const res = await fetch(`${etcdUrl}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision, physical: true }),
  });
  if (res.ok) return;
  const body = await res.text();
  if (res.status === 400 && body.includes('required revision has been compacted')) return;
  throw new Error(`etcd compaction to ${revision}: ${res.status} ${body}`);
}
