/**
 * The generic system-index repository on the shared OpenSearch: CRUD, versions as ETags,
 * stale writes refused, concurrent updates serialised (none lost), `search_after` paging
 * with cursors bound to their filters, validation on read.
 */
import t from 'tap';
import { Type } from 'typebox';
import { Client } from '@opensearch-project/opensearch';
import { SystemRepository } from '../../../aggregator/store/system-repository.ts';
import { AppError } from '../../../aggregator/errors.ts';
import { formatEtag, parseIfMatch } from '../../../aggregator/http/etag.ts';
import { openSearchUrl, uniquePrefix } from '../../helpers/services.ts';

const url = await openSearchUrl(t);
const index = `.${uniquePrefix('repo')}-things`;
const client = new Client({ node: url });
t.teardown(async () => {
  await client.indices.delete({ index, ignore_unavailable: true }).catch(() => {});
  await client.close();
});
await client.indices.create({
  index,
  body: {
    settings: { number_of_shards: 1, number_of_replicas: 0, 'index.hidden': true },
    mappings: {
      dynamic: 'strict',
      properties: {
        id: { type: 'keyword' },
        kind: { type: 'keyword' },
        n: { type: 'integer' },
        items: { type: 'keyword' },
      },
    },
  },
});

const Thing = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  n: Type.Integer(),
  items: Type.Array(Type.String()),
});
const invalid: string[] = [];
const repo = new SystemRepository(client, index, Thing, {
  resource: 'thing',
  sortField: 'id',
  tiebreakField: 'id',
  onInvalid: (id) => invalid.push(id),
});

const code = (err: unknown) => (err instanceof AppError ? err.code : String(err));

t.test('ETag and If-Match', async (t) => {
  t.equal(formatEtag({ primaryTerm: 1, seqNo: 42 }), '"1.42"');
  t.same(parseIfMatch('"1.42"'), { primaryTerm: 1, seqNo: 42 });
  t.same(parseIfMatch('W/"3.0"'), { primaryTerm: 3, seqNo: 0 });
  t.equal(parseIfMatch('*'), '*');
  t.equal(parseIfMatch(undefined), undefined);
  for (const bad of ['"abc"', '"1.2", "1.3"', '', '"1.2.3"'])
    t.throws(() => parseIfMatch(bad), { code: 'invalid_request' }, bad);
});

t.test('create, get, replace with a version, delete', async (t) => {
  const created = await repo.create('a', { id: 'a', kind: 'x', n: 1, items: [] });
  await t.rejects(
    repo.create('a', { id: 'a', kind: 'x', n: 2, items: [] }),
    { code: 'conflict' },
    'a second create is a 409',
  );
  const got = await repo.get('a');
  t.same(got?.doc, { id: 'a', kind: 'x', n: 1, items: [] });
  t.same(got?.version, created.version, 'get returns the version create wrote');
  const replaced = await repo.replace('a', { id: 'a', kind: 'x', n: 2, items: [] }, { ifVersion: created.version });
  t.not(replaced.version.seqNo, created.version.seqNo, 'a write makes a new version');
  const stale = await repo
    .replace('a', { id: 'a', kind: 'x', n: 3, items: [] }, { ifVersion: created.version })
    .catch((e: unknown) => e);
  t.equal(code(stale), 'precondition_failed', 'a write at a stale version is a 412');
  t.equal((await repo.get('a'))?.doc.n, 2, 'and changes nothing');
  t.equal(
    code(await repo.delete('a', { ifVersion: created.version }).catch((e: unknown) => e)),
    'precondition_failed',
    'a stale delete is a 412',
  );
  t.equal(await repo.delete('a', { ifVersion: replaced.version }), true);
  t.equal(await repo.get('a'), undefined, 'gone');
  t.equal(await repo.delete('a'), false, 'deleting nothing says so');
  t.equal(
    code(
      await repo
        .replace('a', { id: 'a', kind: 'x', n: 9, items: [] }, { ifVersion: replaced.version })
        .catch((e: unknown) => e),
    ),
    'precondition_failed',
    'a versioned write to a deleted document is a 412',
  );
});

t.test('concurrent updates are serialised: none is lost', async (t) => {
  await repo.create('counter', { id: 'counter', kind: 'c', n: 0, items: [] });
  const writers = 12;
  await Promise.all(
    Array.from({ length: writers }, (_, i) =>
      repo.update('counter', ({ doc }) => ({ ...doc, n: doc.n + 1, items: [...doc.items, `w${i}`] }), {
        refresh: false,
      }),
    ),
  );
  const after = await repo.get('counter');
  t.equal(after?.doc.n, writers, 'every increment is there');
  t.same(
    [...(after?.doc.items ?? [])].sort(),
    Array.from({ length: writers }, (_, i) => `w${i}`).sort(),
    'every writer’s item is there',
  );
  // Writers holding the same version: exactly one wins, the others get a 412.
  const v = after!.version;
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, (_, i) =>
      repo.update('counter', ({ doc }) => ({ ...doc, n: 100 + i }), { ifVersion: v }),
    ),
  );
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one conditional writer wins');
  t.ok(
    results.every((r) => r.status === 'fulfilled' || code(r.reason) === 'precondition_failed'),
    'the others are told their version is stale',
  );
});

t.test('lists page with search_after cursors bound to their filters', async (t) => {
  for (let i = 0; i < 25; i++) {
    const id = `item-${String(i).padStart(2, '0')}`;
    await repo.create(id, { id, kind: i % 2 ? 'odd' : 'even', n: i, items: [] }, { refresh: false });
  }
  await client.indices.refresh({ index });
  const seen: number[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await repo.list({ filter: [{ term: { kind: 'even' } }], limit: 5, cursor, digest: 'even' });
    seen.push(...page.items.map((i) => i.doc.n));
    t.ok(
      page.items.every((i) => i.version.seqNo >= 0),
      'items carry their version',
    );
    cursor = page.next_cursor ?? undefined;
    t.equal(page.has_more, cursor !== undefined);
    pages++;
  } while (cursor !== undefined && pages < 10);
  t.same(seen, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24], 'every match once, in order');
  t.equal(pages, 3);
  const first = await repo.list({ filter: [{ term: { kind: 'odd' } }], limit: 5, digest: 'odd' });
  t.equal(
    code(
      await repo
        .list({ filter: [{ term: { kind: 'even' } }], limit: 5, cursor: first.next_cursor!, digest: 'even' })
        .catch((e: unknown) => e),
    ),
    'invalid_cursor',
    'a cursor of other filters is refused',
  );
  t.equal(
    code(await repo.list({ limit: 5, cursor: 'garbage', digest: 'x' }).catch((e: unknown) => e)),
    'invalid_cursor',
  );
  const desc = await repo.list({ filter: [{ term: { kind: 'odd' } }], limit: 3, digest: 'odd', order: 'desc' });
  t.same(
    desc.items.map((i) => i.doc.n),
    [23, 21, 19],
    'descending order',
  );
});

t.test('documents are validated on read', async (t) => {
  await client
    .index({ index, id: 'bad', body: { id: 'bad', kind: 'odd', n: 'x' as unknown as number }, refresh: true })
    .catch(async () => {
      // The strict integer mapping refuses "x": store a shape error the mapping allows instead.
      await client.index({ index, id: 'bad', body: { id: 'bad', kind: 'odd' }, refresh: true });
    });
  t.equal(code(await repo.get('bad').catch((e: unknown) => e)), 'stored_document_invalid', 'get refuses it');
  const all = await repo.list({ filter: [{ term: { kind: 'odd' } }], limit: 100, digest: 'odd-all' });
  t.notOk(
    all.items.some((i) => i.id === 'bad'),
    'list skips it',
  );
  t.equal(all.items.length, 12, 'and returns the rest');
  t.ok(invalid.includes('bad'), 'and reports it');
  await t.rejects(
    repo.create('worse', { id: 'worse' } as never),
    { code: 'internal' },
    'an invalid document is never written',
  );
});
