/**
 * A few stored records for the API fuzz, so reads, cursors and discovery have something
 * to return: two namespaces, both streams, several levels, a JSON line, within the last
 * minutes. Made through the real ingest route, then the indices are refreshed.
 */
import { gzipSync } from 'node:zlib';

export async function seedFuzzRecords(
  url: string,
  ingestToken: string,
  opensearchUrl: string,
  prefix: string,
  cluster = 'fuzz',
): Promise<number> {
  const now = Date.now();
  const levels = ['info', 'warn', 'error', 'debug', 'unknown'];
  const records = Array.from({ length: 40 }, (_, i) => ({
    id: `fuzz-seed-${i.toString(36).padStart(4, '0')}`,
    timestamp: new Date(now - 300_000 + i * 1000).toISOString().replace('Z', '000000Z'),
    cluster,
    namespace: i % 2 ? 'shop' : 'default',
    pod: `web-${i % 3}`,
    container: 'app',
    node: 'node-1',
    stream: i % 4 === 0 ? 'stderr' : 'stdout',
    level: levels[i % levels.length],
    message: i % 5 === 0 ? `{"level":"info","msg":"request ${i}","path":"/cart"}` : `request ${i} took ${i * 7} ms`,
    labels: { app: 'web', tier: i % 2 ? 'api' : 'db' },
  }));
  const res = await fetch(`${url}/v1/ingest`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ingestToken}`,
      'content-type': 'application/x-ndjson',
      'content-encoding': 'gzip',
    },
    body: gzipSync(records.map((r) => JSON.stringify(r)).join('\n') + '\n'),
  });
  if (res.status !== 200) throw new Error(`seeding records: ${res.status} ${await res.text()}`);
  await fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*/_refresh?expand_wildcards=all`, { method: 'POST' });
  return records.length;
}
