/**
 * Explore end to end in headless chromium against a real aggregator on the shared
 * OpenSearch: "load older" paging through the API's cursors (by scrolling and by the
 * button), the NDJSON download of the whole result, the result list driven by the
 * keyboard, and LogQL completion of label names and values from the Loki API (scoped to
 * the chosen time range and to the selector's other matchers), restart markers on the
 * timeline. Screenshot:
 * test/ui/screenshots/explore-autocomplete.png.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { ingest, ndjson, record } from '../helpers/records.ts';
import { launchBrowser, prepareBrowserTest, signedInPage, SHOTS } from './browser.ts';
import type { LogRecord } from '../../shared/record.ts';

await prepareBrowserTest(t);

const agg = await startTestAggregator(t, { name: 'ui-explore' });
const now = Date.now();
const at = (ms: number) => new Date(ms).toISOString().replace('Z', '000000Z');
const seq = (i: number) => `seq=${String(i).padStart(4, '0')}`;

// shop: 2,500 lines over the last 25 minutes (2.5 pages of 1,000), half from app=web, half app=api.
const SHOP_LINES = 2500;
const recs: LogRecord[] = [];
for (let i = 0; i < SHOP_LINES; i++) {
  const web = i % 2 === 0;
  recs.push(
    record({
      cluster: 'uix',
      namespace: 'shop',
      pod: web ? 'web-1' : 'api-1',
      container: 'app',
      timestamp: at(now - 25 * 60_000 + i * 600),
      message: `GET /api/items/${i} 200 ${seq(i)}`,
      labels: { app: web ? 'web' : 'api', tier: 'frontend' },
    }),
  );
}
// payments: another namespace and app in the same hour; batch-old: only three hours ago.
for (let i = 0; i < 50; i++)
  recs.push(
    record({
      cluster: 'uix',
      namespace: 'payments',
      pod: 'ledger-0',
      container: 'db',
      timestamp: at(now - 20 * 60_000 + i * 1000),
      message: `ledger commit ${i}`,
      labels: { app: 'ledger' },
    }),
  );
for (let i = 0; i < 20; i++)
  recs.push(
    record({
      cluster: 'uix',
      namespace: 'batch-old',
      pod: 'nightly-1',
      container: 'job',
      timestamp: at(now - 3 * 3_600_000 + i * 1000),
      message: `nightly step ${i}`,
      labels: { app: 'nightly', schedule: 'daily' },
    }),
  );
// crashy, eight hours ago (outside every range the other tests look at): worker-0's container
// restarted ten minutes into it (a new container id from then on).
for (let i = 0; i < 20; i++)
  recs.push(
    record({
      cluster: 'uix',
      namespace: 'crashy',
      pod: 'worker-0',
      container: 'app',
      container_id: i < 10 ? 'containerd://1111' : 'containerd://2222',
      timestamp: at(now - 8 * 3_600_000 + i * 60_000),
      message: `work item ${i}`,
      labels: { app: 'worker' },
    }),
  );
const ingested = await ingest(agg.url, await agg.ingestToken('uix'), ndjson(recs));
if (ingested.status !== 200) throw new Error(`ingest: ${ingested.status} ${JSON.stringify(ingested.body)}`);
await agg.refresh();

const browser = await launchBrowser(t);
const { page, pageErrors } = await signedInPage(browser, agg.url, agg.adminToken, {
  viewport: { width: 1280, height: 800 },
  acceptDownloads: true,
  timeoutMs: 20_000,
});

const total = (p: Page) => p.getByTestId('total');
const SHOP = `${agg.url}/ui/#/explore?from=now-1h&to=now&namespace=shop`;
/** A fresh Explore on shop (the same URL again changes no hash, so it is reloaded: a new first page). */
async function openShop(): Promise<void> {
  await page.goto(SHOP);
  await page.reload();
}

t.test('load older: scrolling to the end and the button page through the cursors to the first line', async (t) => {
  await openShop();
  await total(page)
    .filter({ hasText: `${SHOP_LINES} matches · 1000 loaded` })
    .waitFor();
  const list = page.getByTestId('loglist');
  t.match(await list.locator('.logrow').first().textContent(), seq(SHOP_LINES - 1), 'newest first');
  t.equal(await page.getByText('— start of the result —').count(), 0, 'no end marker while older lines remain');

  // Scrolling near the end asks the next page (the list's onEnd).
  await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await total(page)
    .filter({ hasText: `${SHOP_LINES} matches · 2000 loaded` })
    .waitFor();
  // The button asks the last one; every line then is loaded once (the list merges by id).
  await page.getByRole('button', { name: 'load older' }).click();
  await total(page)
    .filter({ hasText: `${SHOP_LINES} matches · ${SHOP_LINES} loaded` })
    .waitFor();
  t.ok(await page.getByRole('button', { name: 'load older' }).isDisabled(), 'nothing older to load');

  await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await page.getByText('— start of the result —').waitFor();
  const lastRows = await list.locator('.logrow:not(.marker)').allTextContents();
  t.match(lastRows.at(-1), seq(0), 'the oldest line of the range is the last row');
});

t.test('download NDJSON: the file holds every line of the result, one JSON record a line', async (t) => {
  await openShop();
  await total(page)
    .filter({ hasText: `${SHOP_LINES} matches · 1000 loaded` })
    .waitFor();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'download NDJSON' }).click(),
  ]);
  t.match(download.suggestedFilename(), /^logs-.*\.ndjson$/);
  const lines = (await readFile(await download.path(), 'utf8')).split('\n').filter((l) => l !== '');
  const shown = Number(/^(\d+) matches/.exec((await total(page).textContent())!)![1]);
  t.equal(lines.length, shown, `as many lines as the result has matches (${shown}), not one page`);
  const parsed = lines.map((l) => JSON.parse(l) as LogRecord);
  t.equal(new Set(parsed.map((r) => r.id)).size, SHOP_LINES, 'no line twice');
  t.ok(
    parsed.every((r) => r.namespace === 'shop'),
    'only lines of the query',
  );
  t.same(
    new Set(parsed.map((r) => r.message)),
    new Set(recs.filter((r) => r.namespace === 'shop').map((r) => r.message)),
    'exactly the lines stored for the query',
  );
});

t.test('keyboard: ↓/↑ and j/k move the selection, the details follow, the list scrolls with it', async (t) => {
  await openShop();
  await total(page).filter({ hasText: '1000 loaded' }).waitFor();
  const list = page.getByTestId('loglist');
  const selected = list.locator('.logrow[aria-selected=true]');
  const details = page.getByTestId('details');
  await list.focus();
  await page.keyboard.press('ArrowDown');
  await selected.filter({ hasText: seq(SHOP_LINES - 1) }).waitFor();
  t.match(await details.textContent(), seq(SHOP_LINES - 1), 'the details show the selected line');
  for (let i = 0; i < 3; i++) await page.keyboard.press('j');
  await selected.filter({ hasText: seq(SHOP_LINES - 4) }).waitFor();
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('k');
  await selected.filter({ hasText: seq(SHOP_LINES - 2) }).waitFor();
  await details.filter({ hasText: seq(SHOP_LINES - 2) }).waitFor();
  t.equal(await selected.count(), 1, 'one row selected');

  // Far below the first screen: the list scrolls so the selected row stays in view.
  for (let i = 0; i < 80; i++) await page.keyboard.press('ArrowDown');
  const far = selected.filter({ hasText: seq(SHOP_LINES - 82) });
  await far.waitFor();
  const box = (await list.boundingBox())!;
  const row = (await far.boundingBox())!;
  t.ok(await list.evaluate((el) => el.scrollTop > 0), 'the list scrolled');
  // Rows are laid out by their measured offsetHeight (whole pixels): allow the sub-pixel rest.
  t.ok(
    row.y >= box.y - 1 && row.y + row.height <= box.y + box.height + 1,
    `the selected row is inside the list viewport (row ${row.y}+${row.height}, list ${box.y}+${box.height})`,
  );
  t.equal(
    await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute('data-testid')),
    'loglist',
    'focus stayed',
  );
});

t.test('LogQL completion: label names and values from the API, for the range and the selector', async (t) => {
  await page.goto(`${agg.url}/ui/#/explore?from=now-1h&to=now`);
  await total(page).waitFor();
  await page.getByRole('button', { name: 'LogQL' }).click();
  const field = page.getByRole('combobox', { name: 'LogQL query' });
  const listbox = page.getByRole('listbox');
  const options = listbox.getByRole('option');
  const activeOption = listbox.locator('[role=option][aria-selected=true]');
  await field.fill('');

  // Names of the streams in the last hour: pod labels included, `schedule` (three hours ago only) not.
  await field.pressSequentially('{');
  await listbox.getByRole('option', { name: 'namespace', exact: true }).waitFor();
  const names = await options.allTextContents();
  for (const n of ['app', 'cluster', 'container', 'namespace', 'pod', 'stream', 'tier']) t.ok(names.includes(n), n);
  t.notOk(names.includes('schedule'), 'no label of a stream outside the time range');
  t.same(names, [...names].sort(), 'sorted');

  await field.pressSequentially('na');
  await options.filter({ hasText: 'container' }).waitFor({ state: 'detached' });
  t.same(await options.allTextContents(), ['namespace'], 'filtered by what is typed');
  await field.press('Enter');
  t.equal(await field.inputValue(), '{namespace=', 'Enter takes the name and its operator');

  // Its values open at once: the namespaces of the last hour.
  await options.filter({ hasText: 'shop' }).waitFor();
  t.same(await options.allTextContents(), ['payments', 'shop'], 'no namespace outside the time range');
  t.match(await activeOption.textContent(), 'payments', 'the first is active');
  await field.press('ArrowDown');
  await activeOption.filter({ hasText: 'shop' }).waitFor();
  t.equal(
    await field.getAttribute('aria-activedescendant'),
    await activeOption.getAttribute('id'),
    'the field points at the active option',
  );
  await field.press('Tab');
  t.equal(await field.inputValue(), '{namespace="shop"', 'Tab takes the value, quoted');
  await listbox.waitFor({ state: 'detached' });

  // Values of another label, scoped by the matcher already written: no `ledger` (payments).
  await field.pressSequentially(', app=~"');
  await options.filter({ hasText: 'web' }).waitFor();
  t.same(await options.allTextContents(), ['api', 'web'], 'only the apps of namespace shop');
  await field.pressSequentially('w');
  await options.filter({ hasText: 'api' }).waitFor({ state: 'detached' });
  await page.screenshot({ path: path.join(SHOTS, 'explore-autocomplete.png') });
  await field.press('Escape');
  await listbox.waitFor({ state: 'detached' });
  await field.press('Control+Space');
  await options.filter({ hasText: 'web' }).waitFor();
  await field.press('Enter');
  t.equal(await field.inputValue(), '{namespace="shop", app=~"web"');

  // The query written by completion runs: Enter with the list closed submits.
  await field.pressSequentially('}');
  await field.press('Enter');
  await page.getByText(`${SHOP_LINES / 2} lines (LogQL)`).waitFor();

  // A wider range brings the older stream's namespace and label.
  await page.getByRole('combobox', { name: 'Quick range' }).selectOption('now-6h');
  await field.fill('');
  await field.pressSequentially('{namespace="');
  await options.filter({ hasText: 'batch-old' }).waitFor();
  t.same(await options.allTextContents(), ['batch-old', 'payments', 'shop']);
  await field.fill('');
  await field.pressSequentially('{sch');
  await options.filter({ hasText: 'schedule' }).waitFor();
  t.same(await options.allTextContents(), ['schedule']);

  // ↓ in a field with no selector context offers the query history.
  await field.fill('');
  await field.press('ArrowDown');
  await page.getByRole('listbox', { name: 'Earlier queries' }).waitFor();
  t.ok((await options.allTextContents()).includes('{namespace="shop", app=~"web"}'), 'the query run above');
  await field.press('Escape');
  t.same(pageErrors, [], 'no uncaught error in the page');
});

t.test('a container restart is marked on the timeline where the new instance begins', async (t) => {
  await page.goto(`${agg.url}/ui/#/explore?from=now-9h&to=now-7h&namespace=crashy`);
  await page.reload();
  await total(page).filter({ hasText: '20 matches · 20 loaded' }).waitFor();
  const marker = page.locator('svg line title', { hasText: 'crashy/worker-0/app restarted' });
  await marker.waitFor({ state: 'attached' });
  t.equal(await marker.count(), 1, 'one restart, one marker');
  t.same(pageErrors, [], 'no uncaught error in the page');
});
