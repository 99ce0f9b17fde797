/**
 * The web UI end to end in a real headless browser (Debian's `chromium`, driven by
 * playwright-core with an explicit executable path: no browser download) against a real
 * aggregator on the shared OpenSearch and a real agent tailing CRI files on disk.
 *
 * Covers: sign in, search, zoom the histogram, open context, live tail receiving a line
 * written to a log file, create and revoke a token, create a collection configuration and
 * see the agent obey it; and writes a screenshot of each main page to
 * test/ui/screenshots/ (generated, gitignored; the README links it).
 */
import t from 'tap';

import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startAgent } from '../../agent/agent.ts';
import { defineConfig } from '../../agent/config.ts';
import { startTestAggregator } from '../helpers/aggregator.ts';
import { getJson } from '../helpers/records.ts';
import { waitFor, waitForValue } from '../helpers/wait-for.ts';
import { metricValue } from '../agent/helpers.ts';
import { launchBrowser, prepareBrowserTest, SHOTS } from './browser.ts';
import type { LogRecord } from '../../shared/record.ts';

await prepareBrowserTest(t);

const agg = await startTestAggregator(t, { name: 'ui' });
const ingestToken = await agg.ingestToken('uic');
const work = await mkdtemp(path.join(tmpdir(), 'k8s-logs-ui-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const logDir = path.join(work, 'containers');
await mkdir(logDir);
const files = {
  web: path.join(logDir, `web-7c9f-abcde_shop_app-${'a'.repeat(64)}.log`),
  noisy: path.join(logDir, `web-7c9f-abcde_shop_sidecar-${'b'.repeat(64)}.log`),
  ledger: path.join(logDir, `ledger-0_payments_db-${'c'.repeat(64)}.log`),
};
const cri = (ms: number, stream: string, msg: string) =>
  `${new Date(ms).toISOString().replace('Z', '000000Z')} ${stream} F ${msg}\n`;

// History: 600 lines over the last 20 minutes, mixed levels, some JSON, some ANSI colours.
const now = Date.now();
let web = '';
let ledger = '';
for (let i = 0; i < 600; i++) {
  const ms = now - 20 * 60_000 + i * 2000;
  const kind = i % 10;
  const msg =
    kind === 0
      ? `{"level":"error","msg":"checkout ${i} failed","order":${i}}`
      : kind === 1
        ? `WARN slow checkout ${i} took ${100 + i}ms`
        : kind === 2
          ? `\u001b[32mINFO\u001b[0m cache warmed in ${i}ms`
          : `INFO GET /api/items/${i} 200 ${i % 50}ms`;
  web += cri(ms, kind === 0 ? 'stderr' : 'stdout', msg);
  if (i % 3 === 0) ledger += cri(ms + 500, 'stdout', `INFO ledger commit ${i}`);
}
await writeFile(files.web, web);
await writeFile(files.ledger, ledger);
await writeFile(files.noisy, cri(now - 60_000, 'stdout', 'INFO sidecar ready'));

const agent = await startAgent(
  defineConfig({
    aggregatorUrl: agg.url,
    token: ingestToken,
    cluster: 'uic',
    node: 'n1',
    dataDir: path.join(work, 'agent'),
    logPath: logDir,
    kubernetes: 'off',
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    maxBatchAgeMs: 100,
    heartbeatIntervalMs: 0,
    configPollIntervalMs: 500,
    logLevel: 'silent',
  }),
  { processMetrics: false },
);
t.teardown(() => agent.stop(2000));

async function stored(query: string): Promise<LogRecord[]> {
  await agg.refresh();
  const res = await getJson(`${agg.url}/v1/k8s/logs/?start=now-1h&limit=1000&${query}`, agg.adminToken);
  // A loaded shared store may answer 5xx now and then: the caller's wait retries.
  return res.status === 200 ? (res.body['logs'] as LogRecord[]) : [];
}
await waitFor(
  async () =>
    (await stored('namespace=shop&container=app')).length >= 600 && (await stored('namespace=payments')).length >= 200,
  {
    what: 'the history lines stored',
    timeoutMs: 60_000,
    intervalMs: 300,
  },
);

const browser = await launchBrowser(t);
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
page.on('dialog', (d) => void d.accept());
const pageErrors: string[] = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
page.setDefaultTimeout(20_000);
const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
const rowsWith = (p: Page, text: string) => p.locator('.logrow', { hasText: text });

t.test('sign in: a bad token is refused; the admin token opens Explore and stays out of the URL', async (t) => {
  await page.goto(`${agg.url}/ui/`);
  await page.fill('input[name=token]', 'not-a-token');
  await page.click('button[type=submit]');
  await page.getByRole('alert').waitFor();
  t.match(await page.getByRole('alert').textContent(), /not valid/);
  await shot('sign-in');
  await page.fill('input[name=token]', agg.adminToken);
  await page.click('button[type=submit]');
  await page.getByTestId('who').waitFor();
  t.match(await page.getByTestId('who').textContent(), /bootstrap|admin/i);
  t.notOk(page.url().includes(agg.adminToken), 'the token is not in the URL');
  t.equal(
    await page.evaluate(() => sessionStorage.getItem('k8s-logs.token')),
    agg.adminToken,
    'kept in sessionStorage',
  );
  await rowsWith(page, 'GET /api/items/').first().waitFor();
});

t.test('search: simple filters narrow the result, matches are highlighted, the query is in the URL', async (t) => {
  await page.fill('input[name=q]', 'checkout');
  await page.fill('input[name=namespace]', 'shop');
  await page.getByTestId('run').click();
  await page.waitForFunction(() => /checkout/.test((globalThis as any).location.hash));
  await waitForValue(
    async () => (await page.getByTestId('total').textContent()) ?? '',
    (v) => /^120 matches/.test(v),
    { what: '120 checkout lines', timeoutMs: 20_000 },
  );
  const first = page.locator('.logrow .msg').first();
  t.match(await first.textContent(), /checkout/i);
  t.ok((await page.locator('.logrow mark').count()) > 0, 'matches highlighted');
  t.equal(await rowsWith(page, 'GET /api/items').count(), 0, 'other lines filtered out');
  await shot('explore-search');
});

t.test('zoom: dragging across the histogram narrows the range to an absolute window', async (t) => {
  const svg = page.locator('[data-testid=histogram] svg');
  const box = (await svg.boundingBox())!;
  const before = await page.getByTestId('total').textContent();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.95, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() =>
    /from=\d{4}-\d{2}-\d{2}T/.test(decodeURIComponent((globalThis as any).location.hash)),
  );
  const hash = decodeURIComponent(await page.evaluate(() => (globalThis as any).location.hash));
  const from = Date.parse(/from=([^&]+)/.exec(hash)![1]!);
  const to = Date.parse(/to=([^&]+)/.exec(hash)![1]!);
  t.ok(
    to - from < 25 * 60_000 && to - from > 5 * 60_000,
    `zoomed to ~15 minutes of the hour (${Math.round((to - from) / 60_000)} min)`,
  );
  await waitForValue(
    async () => (await page.getByTestId('total').textContent()) ?? '',
    (v) => v !== before && /matches/.test(v),
    { what: 'the zoomed result', timeoutMs: 20_000 },
  );
  const n = Number(/(\d+) match/.exec((await page.getByTestId('total').textContent())!)![1]);
  t.ok(n > 0 && n < 120, `fewer matches in the zoomed window (${n})`);
  await shot('explore-zoomed');
});

t.test(
  'details and context: a line opens its fields; context shows its neighbours in the same container',
  async (t) => {
    await page.goto(`${agg.url}/ui/#/explore?from=now-1h&to=now&namespace=shop&container=app`);
    await rowsWith(page, 'GET /api/items/').first().waitFor();
    await rowsWith(page, 'failed').first().click();
    const details = page.getByTestId('details');
    await details.waitFor();
    t.match(await details.textContent(), /"level": "error"/, 'JSON pretty-printed');
    t.match(await details.textContent(), /web-7c9f-abcde/);
    await page.getByTestId('context-open').click();
    await page.getByTestId('context').waitFor();
    const lines = await page.locator('[data-testid=context] .logrow').allTextContents();
    t.ok(lines.length >= 20, `context lines (${lines.length})`);
    t.ok(
      lines.some((l) => /cache warmed|GET \/api\/items/.test(l)),
      'neighbouring lines of the same container',
    );
    t.notOk(
      lines.some((l) => /ledger/.test(l)),
      'no line of another container',
    );
    await shot('explore-details-context');
    // Filter in from the details: only the container's level.
    await details.getByRole('button', { name: 'filter in level' }).click();
    await page.waitForFunction(() => /level=error/.test((globalThis as any).location.hash));
    await page
      .getByRole('button', { name: 'Close details' })
      .click()
      .catch(() => {});
  },
);

t.test('live tail: a line written to a log file appears, counted as received and shown', async (t) => {
  await page.goto(`${agg.url}/ui/#/explore?from=now-1h&to=now&namespace=shop`);
  await rowsWith(page, 'GET /api/items/').first().waitFor();
  await page.getByTestId('live-start').click();
  await waitForValue(
    async () => (await page.getByTestId('live-status').textContent()) ?? '',
    (v) => /caught up/.test(v),
    { what: 'the tail caught up', timeoutMs: 20_000 },
  );
  const shownBefore = Number(/(\d+) match/.exec((await page.getByTestId('total').textContent())!)![1]);
  await appendFile(files.web, cri(Date.now(), 'stdout', 'INFO live line from the e2e test'));
  await rowsWith(page, 'live line from the e2e test').first().waitFor({ timeout: 20_000 });
  t.equal(await rowsWith(page, 'live line from the e2e test').count(), 1, 'shown once');
  t.match(await page.getByTestId('live-counts').textContent(), /received [1-9]\d* · shown \d+/);
  const shown = Number(/shown (\d+)/.exec((await page.getByTestId('live-counts').textContent())!)![1]);
  t.ok(shown > shownBefore, `history kept on the same timeline, the live line added (${shownBefore} → ${shown})`);
  // Pause: received keeps counting, shown does not change until resume.
  await page.getByTestId('live-pause').click();
  await appendFile(files.web, cri(Date.now(), 'stdout', 'INFO second live line while paused'));
  await waitForValue(
    async () => (await page.getByTestId('live-counts').textContent()) ?? '',
    (v) => /1 waiting/.test(v),
    { what: 'the paused line counted', timeoutMs: 20_000 },
  );
  t.equal(await rowsWith(page, 'second live line while paused').count(), 0, 'not shown while paused');
  await shot('explore-live');
  await page.getByTestId('live-pause').click();
  await rowsWith(page, 'second live line while paused').first().waitFor();
  await page.getByTestId('live-stop').click();
});

t.test('access tokens: create with scopes and a namespace limit (secret once), then revoke', async (t) => {
  await page.goto(`${agg.url}/ui/#/tokens`);
  await page.fill('input[name=name]', 'ui-e2e-reader');
  await page.fill('input[name=namespaces]', 'shop');
  await page.getByTestId('tokens').waitFor();
  await page.click('form[aria-label="Create a token"] button[type=submit]');
  await page.locator('[data-testid=secret], [role=alert]').first().waitFor();
  t.equal(await page.getByRole('alert').count(), 0, `no error: ${await page.getByRole('alert').allTextContents()}`);
  const secret = (await page.getByTestId('secret').textContent())!.trim();
  t.ok(secret.length > 20, 'secret shown');
  const self = await getJson(`${agg.url}/v1/k8s/logs/tokens/self`, secret);
  t.same(self.body, {
    id: self.body['id'],
    name: 'ui-e2e-reader',
    scopes: ['logs:read'],
    clusters: null,
    namespaces: ['shop'],
  });
  await page.locator('tr', { hasText: 'ui-e2e-reader' }).waitFor();
  await shot('tokens');
  await page.getByRole('button', { name: 'revoke ui-e2e-reader' }).click();
  await page.locator('tr', { hasText: 'ui-e2e-reader' }).waitFor({ state: 'detached' });
  await waitFor(async () => (await getJson(`${agg.url}/v1/k8s/logs/tokens/self`, secret)).status === 401, {
    what: 'the revoked token refused',
  });
  await page.reload();
  t.equal(await page.getByTestId('secret').count(), 0, 'the secret is not shown again');
});

t.test('a namespace-limited reader sees no admin pages and only its namespace', async (t) => {
  const reader = await agg.createToken({ name: 'shop-reader', scopes: ['logs:read'], namespaces: ['shop'] });
  const p = await context.newPage();
  await p.goto(`${agg.url}/ui/`);
  await p.evaluate(() => sessionStorage.clear());
  await p.reload();
  await p.fill('input[name=token]', reader);
  await p.click('button[type=submit]');
  await rowsWith(p, 'GET /api/items/').first().waitFor();
  t.equal(await p.getByRole('link', { name: 'Access tokens' }).count(), 0, 'no tokens page in the navigation');
  t.equal(await rowsWith(p, 'ledger commit').count(), 0, 'no line of another namespace');
  await p.goto(`${agg.url}/ui/#/configs`);
  await p.getByTestId('configs').waitFor();
  t.match(await p.locator('.banner').first().textContent(), /Read-only/);
  await p.close();
});

t.test(
  'collection configuration: created in the UI, the agent obeys it (excluded container not collected)',
  async (t) => {
    await page.goto(`${agg.url}/ui/#/configs`);
    await page.getByTestId('configs').waitFor();
    const changed = () => metricValue(agent, 'k8s_logs_agent_config_polls_total', { outcome: 'changed' });
    const before = await changed();
    await page.fill('input[name=cluster]', 'uic');
    await page.fill('input[name=namespace]', 'shop');
    await page.fill('input[name=exclude_containers]', 'sidecar');
    await page.click('form[aria-label="Create configuration"] button[type=submit]');
    await page.locator('[data-testid=configs] tr', { hasText: 'exclude_containers' }).waitFor();
    await shot('collection-configs');
    await waitForValue(changed, (v) => v > before, {
      what: 'the agent to apply the new configuration',
      timeoutMs: 20_000,
    });
    await appendFile(files.noisy, cri(Date.now(), 'stdout', 'INFO sidecar line after the config'));
    await appendFile(files.web, cri(Date.now() + 1, 'stdout', 'INFO app line after the config'));
    await waitFor(async () => (await stored('namespace=shop&container=app&q=after%20the%20config')).length === 1, {
      what: 'the app line stored',
      timeoutMs: 20_000,
      intervalMs: 200,
    }).catch(async (err) => {
      const recent = (await stored('namespace=shop')).slice(0, 5).map((r) => `${r.container}: ${r.message}`);
      const discards = await getJson(`${agg.url}/metrics`, undefined).catch(() => undefined);
      void discards;
      throw new Error(`${(err as Error).message}; newest shop lines: ${JSON.stringify(recent)}`);
    });
    const ex = await waitForValue(
      () => metricValue(agent, 'k8s_logs_agent_discarded_records_total', { reason: 'excluded_by_config' }),
      (v) => v >= 1,
      { what: 'the sidecar line excluded' },
    );
    t.ok(ex >= 1);
    t.same(
      (await stored('namespace=shop&container=sidecar&q=after%20the%20config')).length,
      0,
      'the excluded container line is not stored',
    );
  },
);

t.test('compare with the previous period: exact totals of both windows, levels and patterns', async (t) => {
  // Lines are 2 s apart from now-20m; these bounds fall between lines: this window holds
  // lines 301..599 (299), the one before it 1..300 (300).
  const from = new Date(now - 10 * 60_000 + 1000).toISOString();
  const to = new Date(now + 500).toISOString();
  await page.goto(`${agg.url}/ui/#/explore?from=${from}&to=${to}&namespace=shop&container=app`);
  await waitForValue(
    async () => (await page.getByTestId('total').textContent()) ?? '',
    (v) => /^299 matches/.test(v),
    { what: '299 lines in this window', timeoutMs: 20_000 },
  );
  await page.getByRole('button', { name: 'compare with previous period' }).click();
  const total = page.locator('[data-testid=compare-levels] tr', { hasText: 'total' });
  await total.waitFor();
  t.match(await total.textContent(), /total\s*299\s*300\s*-0\.3%/, 'totals of both windows and the change');
  const cells = await page
    .locator('[data-testid=compare-levels] tbody tr')
    .evaluateAll((rows) =>
      rows.slice(1).map((r) => [...r.querySelectorAll('td')].slice(1, 3).map((c) => Number(c.textContent))),
    );
  const sums = [0, 1].map((i) => cells.reduce((n, row) => n + row[i]!, 0));
  t.same(sums, [299, 300], 'the levels add up to the totals');
  const patterns = await page.locator('[data-testid=compare-patterns] tbody tr').allTextContents();
  t.ok(
    patterns.some((p) => p.includes('GET /api/items/<n> <n> <n>')),
    'the largest pattern is compared',
  );
  await shot('explore-compare');
  await page.getByRole('button', { name: 'Close comparison' }).click();
  t.equal(await page.getByTestId('compare').count(), 0);
});

t.test('the other pages render against the API (screenshots), with the dark theme too', async (t) => {
  for (const [hash, name, probe] of [
    ['#/browse', 'browse', '[data-testid=browse] li'],
    ['#/clusters', 'clusters', '[data-testid=cluster-status]'],
    ['#/archive', 'archive', '[data-testid=policies]'],
    ['#/collect', 'collect-jobs', '[data-testid=collect-jobs]'],
  ] as const) {
    await page.goto(`${agg.url}/ui/${hash}`);
    await page.locator(probe).first().waitFor();
    await shot(name);
  }
  await page.goto(`${agg.url}/ui/#/explore?from=now-1h&to=now&view=patterns`);
  await rowsWith(page, 'GET /api/items/').first().waitFor();
  await page.getByRole('button', { name: 'patterns' }).click();
  const top = await page.locator('[data-testid=patterns] tbody tr').first().textContent();
  t.match(top, /GET \/api\/items\/<n> <n> <n>/, 'similar lines grouped');
  await shot('explore-patterns');
  await page.getByRole('button', { name: 'lines' }).click();
  await page.getByRole('button', { name: 'Toggle theme' }).click();
  await shot('explore-dark');
  t.same(pageErrors, [], 'no uncaught error in the page');
});
