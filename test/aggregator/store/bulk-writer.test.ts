import t from 'tap';
import { buildBulkBody, classifyBulkItem } from '../../../aggregator/store/bulk-writer.ts';
import type { LogRecord } from '../../../shared/record.ts';

t.test('bulk item results map to delivery outcomes', async (t) => {
  const cases: Array<[object, string, string?]> = [
    [{ status: 201 }, 'created'],
    [{ status: 409, error: { type: 'version_conflict_engine_exception' } }, 'duplicate'],
    [{ status: 429, error: { type: 'es_rejected_execution_exception' } }, 'retry'],
    [{ status: 503, error: { type: 'unavailable_shards_exception' } }, 'retry'],
    [{ status: 500 }, 'retry'],
    [{ status: 400, error: { type: 'mapper_parsing_exception' } }, 'rejected', 'mapping_rejected'],
    [{ status: 400, error: { type: 'index_closed_exception' } }, 'rejected', 'index_closed'],
  ];
  for (const [item, kind, reason] of cases) {
    const out = classifyBulkItem(item as { status: number });
    t.equal(out.kind, kind, JSON.stringify(item));
    if (reason) t.equal((out as { reason: string }).reason, reason);
  }
});

t.test('a record received with a canonical timestamp is stored as its original text', async (t) => {
  const rec: LogRecord = { id: 'abcdefgh-1', timestamp: '2026-11-25T10:00:00.123456789Z', cluster: 'c1', namespace: 'n', pod: 'p', container: 'c', stream: 'stdout', level: 'info', message: 'say "hi" \\ ✓' };
  const raw = JSON.stringify(rec);
  const fromRaw = buildBulkBody('k8s-logs', [rec], '2026-11-25T10:00:01.000Z', [raw]).split('\n');
  const fromObject = buildBulkBody('k8s-logs', [rec], '2026-11-25T10:00:01.000Z').split('\n');
  t.same(JSON.parse(fromRaw[0]!), { create: { _index: 'k8s-logs-c1-2026.11.25', _id: 'abcdefgh-1' } });
  t.same(JSON.parse(fromRaw[1]!), JSON.parse(fromObject[1]!), 'same document either way');
  t.ok(fromRaw[1]!.startsWith(raw.slice(0, -1)), 'original bytes kept');
  const spaced = buildBulkBody('k8s-logs', [rec], 'x', [`${raw}  \r`]).split('\n')[1]!;
  t.same(JSON.parse(spaced), { ...rec, ingested_at: 'x' }, 'trailing whitespace after the object is fine');
});
