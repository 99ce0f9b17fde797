import t from 'tap';
import { BulkWriter, DayIndexError, buildBulkBody, buildBulkChunks, classifyBulkItem, type BulkItemResult } from '../../../aggregator/store/bulk-writer.ts';
import type { OpenSearch } from '../../../aggregator/store/opensearch.ts';
import { errors } from '@opensearch-project/opensearch';
import type { LogRecord } from '../../../shared/record.ts';

t.test('bulk item results map to delivery outcomes: only the record\'s own shape is final', async (t) => {
  const cases: Array<[object, string, string?]> = [
    [{ status: 201 }, 'created'],
    [{ status: 409, error: { type: 'version_conflict_engine_exception' } }, 'duplicate'],
    [{ status: 429, error: { type: 'es_rejected_execution_exception' } }, 'retry', 'busy'],
    [{ status: 503, error: { type: 'unavailable_shards_exception' } }, 'retry', 'unavailable'],
    [{ status: 500 }, 'retry', 'unavailable'],
    [{ status: 404, error: { type: 'index_not_found_exception' } }, 'retry', 'index_missing'],
    [{ status: 400, error: { type: 'index_closed_exception' } }, 'retry', 'index_closed'],
    [{ status: 403, error: { type: 'cluster_block_exception' } }, 'retry', 'blocked'],
    [{ status: 429, error: { type: 'cluster_block_exception' } }, 'retry', 'blocked'],
    [{ status: 403, error: { type: 'security_exception' } }, 'retry', 'refused'],
    [{ status: 400, error: { type: 'mapper_parsing_exception' } }, 'rejected', 'mapping_rejected'],
    [{ status: 400, error: { type: 'illegal_argument_exception' } }, 'rejected', 'mapping_rejected'],
    [{ status: 400 }, 'rejected', 'mapping_rejected'],
  ];
  for (const [item, kind, detail] of cases) {
    const out = classifyBulkItem(item as { status: number });
    t.equal(out.kind, kind, JSON.stringify(item));
    if (detail) t.equal((out as { reason?: string; cause?: string }).reason ?? (out as { cause?: string }).cause, detail, JSON.stringify(item));
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

const rec = (i: number, day = '25', message = `m${i}`): LogRecord => ({
  id: `rec-${String(i).padStart(6, '0')}`, timestamp: `2026-11-${day}T10:00:00.000000001Z`, cluster: 'c1', namespace: 'n', pod: 'p', container: 'c', stream: 'stdout', level: 'info', message,
});

t.test('bulk bodies are split at record boundaries under the byte limit, covering the input in order', async (t) => {
  const records = Array.from({ length: 50 }, (_, i) => rec(i, '25', i % 7 === 0 ? 'ü'.repeat(300) : `line ${i}`));
  const chunks = buildBulkChunks('k8s-logs', records, 'x', undefined, 2000);
  t.ok(chunks.length > 5, `${chunks.length} chunks`);
  let next = 0;
  for (const c of chunks) {
    t.equal(c.start, next, 'contiguous');
    t.ok(c.end > c.start, 'never empty');
    t.ok(Buffer.byteLength(c.body) <= 2000, `chunk of ${Buffer.byteLength(c.body)} bytes (UTF-8 counted, not chars)`);
    const lines = c.body.trimEnd().split('\n');
    t.equal(lines.length, (c.end - c.start) * 2);
    t.same(lines.filter((_, i) => i % 2 === 1).map((l) => (JSON.parse(l) as LogRecord).id), records.slice(c.start, c.end).map((r) => r.id));
    next = c.end;
  }
  t.equal(next, records.length);
  t.equal(chunks.map((c) => c.body).join(''), buildBulkBody('k8s-logs', records, 'x'), 'the same documents as one body');
  const big = buildBulkChunks('k8s-logs', [rec(1, '25', 'x'.repeat(5000)), rec(2)], 'x', undefined, 2000);
  t.same(big.map((c) => [c.start, c.end]), [[0, 1], [1, 2]], 'a record over the limit goes alone');
});

/** A fake OpenSearch: answers each `_bulk` item from `answer`, records every call. */
function fakeStore(answer: (index: string, call: number) => BulkItemResult, opts: { createFails?: unknown } = {}) {
  const calls: string[] = [];
  let bulkCalls = 0;
  const client = {
    indices: {
      create: async ({ index, body }: { index: string; body: { aliases: Record<string, unknown> } }) => {
        calls.push(`create ${index} alias=${Object.keys(body.aliases).join(',')}`);
        if (opts.createFails) throw opts.createFails;
        return { body: {} };
      },
      putAlias: async ({ index, name }: { index: string; name: string }) => {
        calls.push(`putAlias ${index} ${name}`);
        return { body: {} };
      },
    },
    bulk: async ({ body }: { body: string }) => {
      bulkCalls++;
      const lines = body.trimEnd().split('\n');
      calls.push(`bulk ${lines.length / 2}`);
      const items = [];
      for (let i = 0; i < lines.length; i += 2) {
        const index = (JSON.parse(lines[i]!) as { create: { _index: string } }).create._index;
        items.push({ create: answer(index, bulkCalls) });
      }
      return { body: { errors: true, items } };
    },
  };
  return { client: client as unknown as OpenSearch, calls };
}

t.test('an index deleted behind the writer\'s back is created again with its alias and its items resent', async (t) => {
  let deleted = false;
  const { client, calls } = fakeStore((index) => (deleted && index.endsWith('2026.11.25') ? { status: 404, error: { type: 'index_not_found_exception' } } : { status: 201 }));
  const writer = new BulkWriter(client, 'k8s-logs');
  t.same((await writer.write([rec(1), rec(2, '26')])).map((o) => o.kind), ['created', 'created']);
  t.same(calls.splice(0), ['create k8s-logs-c1-2026.11.25 alias=k8s-logs-c1', 'create k8s-logs-c1-2026.11.26 alias=k8s-logs-c1', 'bulk 2']);
  // Another replica's retention (or an operator) deletes the 25th; auto-create is off.
  deleted = true;
  // The fake keeps refusing the 25th even after it is created again.
  const resolved = await writer.write([rec(3, '26'), rec(4), rec(5)]);
  t.same(calls.slice(0, 2), ['bulk 3', 'create k8s-logs-c1-2026.11.25 alias=k8s-logs-c1'], 'forgot the index and created it with its alias');
  t.equal(calls[2], 'bulk 2', 'only the refused items are sent again');
  t.same(resolved.map((o) => o.kind), ['created', 'retry', 'retry'], 'still missing after the resend: retry, never rejected');
});

t.test('items of a recreated index are stored on the resend, outcomes in input order', async (t) => {
  // Call 1 stores rec(0); call 2 finds the 25th gone; call 3 is the resend after recreating it.
  const { client, calls } = fakeStore((index, call) => {
    if (index.endsWith('2026.11.25') && call === 2) return { status: 404, error: { type: 'index_not_found_exception' } };
    return { status: call === 3 ? 201 : 409 };
  });
  const writer = new BulkWriter(client, 'k8s-logs');
  await writer.write([rec(0)]);
  const out = await writer.write([rec(1, '26'), rec(2), rec(3, '26'), rec(4)]);
  t.same(out.map((o) => o.kind), ['duplicate', 'created', 'duplicate', 'created']);
  t.same(calls.slice(-3), ['bulk 4', 'create k8s-logs-c1-2026.11.25 alias=k8s-logs-c1', 'bulk 2']);
});

t.test('a day index that already exists is given its alias; a refused creation is a DayIndexError', async (t) => {
  const exists = new errors.ResponseError({ body: { error: { type: 'resource_already_exists_exception' } }, statusCode: 400, headers: {}, warnings: null, meta: {} as never });
  const a = fakeStore(() => ({ status: 201 }), { createFails: exists });
  await new BulkWriter(a.client, 'k8s-logs').write([rec(1)]);
  t.same(a.calls, ['create k8s-logs-c1-2026.11.25 alias=k8s-logs-c1', 'putAlias k8s-logs-c1-2026.11.25 k8s-logs-c1', 'bulk 1']);
  const refused = new errors.ResponseError({ body: { error: { type: 'validation_exception' } }, statusCode: 400, headers: {}, warnings: null, meta: {} as never });
  const b = fakeStore(() => ({ status: 201 }), { createFails: refused });
  const err = await new BulkWriter(b.client, 'k8s-logs').write([rec(1)]).catch((e: unknown) => e);
  t.ok(err instanceof DayIndexError, 'typed');
  t.equal((err as DayIndexError).index, 'k8s-logs-c1-2026.11.25');
  t.equal((err as DayIndexError).cause, refused, 'the store error is kept as the cause');
  t.same(b.calls, ['create k8s-logs-c1-2026.11.25 alias=k8s-logs-c1'], 'nothing is sent to a day that does not exist');
});

t.test('a refused day index creation is asked again only after refusedRetryMs, not for every batch', async (t) => {
  const refused = new errors.ResponseError({ body: { error: { type: 'validation_exception' } }, statusCode: 400, headers: {}, warnings: null, meta: {} as never });
  const opts: { createFails?: unknown } = { createFails: refused };
  const { client, calls } = fakeStore(() => ({ status: 201 }), opts);
  let now = 1_000_000;
  const writer = new BulkWriter(client, 'k8s-logs', { refusedRetryMs: 5000, now: () => now });
  for (let i = 0; i < 5; i++) {
    const err = await writer.write([rec(i)]).catch((e: unknown) => e);
    t.ok(err instanceof DayIndexError && err.cause === refused, `batch ${i}: the same typed refusal`);
    now += 999;
  }
  t.same(calls.splice(0), ['create k8s-logs-c1-2026.11.25 alias=k8s-logs-c1'], 'one create request for five batches');
  await writer.write([rec(9, '26')]).catch(() => undefined);
  t.same(calls.splice(0), ['create k8s-logs-c1-2026.11.26 alias=k8s-logs-c1'], 'another day is asked for at once');
  now += 5; // 5000 ms after the refusal
  opts.createFails = undefined;
  t.same((await writer.write([rec(7)])).map((o) => o.kind), ['created'], 'created once the window passed');
  t.same(calls.splice(0), ['create k8s-logs-c1-2026.11.25 alias=k8s-logs-c1', 'bulk 1']);
  await writer.write([rec(8)]);
  t.same(calls, ['bulk 1'], 'known from then on');
});

t.test('a large batch goes out as several bulk requests of at most maxBulkBytes', async (t) => {
  const { client, calls } = fakeStore(() => ({ status: 201 }));
  const writer = new BulkWriter(client, 'k8s-logs', { maxBulkBytes: 4096 });
  const records = Array.from({ length: 40 }, (_, i) => rec(i, '25', 'y'.repeat(300)));
  const out = await writer.write(records);
  t.equal(out.length, 40);
  t.ok(out.every((o) => o.kind === 'created'));
  const bulks = calls.filter((c) => c.startsWith('bulk'));
  t.ok(bulks.length >= 4, `${bulks.length} requests`);
  t.equal(bulks.reduce((n, c) => n + Number(c.split(' ')[1]), 0), 40);
});
