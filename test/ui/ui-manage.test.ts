/**
 * The manage pages end to end in headless chromium against a real aggregator (shared
 * OpenSearch, a fresh bucket on the local S3 server): every change is made through the page
 * and then read back from the REST API, so a page that shows a change the server never got
 * (or misses one it did get) fails.
 *
 * Covers: a collection configuration created, edited, disabled and deleted on the
 * Configurations page; a cluster registered against the real kube-apiserver (connected) and
 * one against a closed port (its unreachable state shown), reconnected and removed on the
 * Clusters page; an archive policy created and deleted on the Archive page; and the Browse
 * tree's namespaces, pods, containers and counts against the discovery endpoints.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { Locator, Page } from 'playwright-core';
import { ingest, ndjson, record } from '../helpers/records.ts';
import { apiCaller, dayRecords, startArchivingAggregator } from '../helpers/archive-fixture.ts';
import { testKube } from '../helpers/kube.ts';
import { openSearchUrl, uniquePrefix } from '../helpers/services.ts';
import { buildApp } from '../../aggregator/app.ts';
import { loadConfig } from '../../aggregator/config.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { launchBrowser, prepareBrowserTest, signedInPage } from './browser.ts';

await prepareBrowserTest(t);

const { bucketName, agg } = await startArchivingAggregator(t, 'ui-manage');
const { call } = apiCaller(agg.url, agg.adminToken);
const browser = await launchBrowser(t);
const { page, pageErrors } = await signedInPage(browser, agg.url, agg.adminToken);
// The pages confirm deletions with window.confirm: answer yes.
page.on('dialog', (d) => void d.accept());

/** The page's error banner, if one is shown (an action the API refused). */
const alertText = async (p: Page) =>
  (await p.getByRole('alert').count()) ? await p.getByRole('alert').first().textContent() : null;

/** Waits for what an action shows on success; fails at once with the page's error banner instead. */
async function shown(p: Page, what: Locator): Promise<void> {
  await what.or(p.getByRole('alert')).first().waitFor();
  const err = await alertText(p);
  if (err !== null) throw new Error(`the page shows an error: ${err}`);
}

/** Waits until `row` is rendered with text matching `re`. */
const rowMatching = (row: Locator, re: RegExp, what: string) =>
  waitFor(async () => ((await row.count()) === 1 && re.test((await row.textContent()) ?? '') ? true : undefined), {
    what,
    timeoutMs: 20_000,
  });

/** An aggregator on the shared OpenSearch that can store cluster credentials (its own index prefix). */
async function startCredentialedAggregator(t: { teardown(fn: () => unknown): void }) {
  const opensearch = await openSearchUrl(t);
  const prefix = uniquePrefix('ui-clusters');
  const adminToken = `admin-${randomBytes(16).toString('hex')}`;
  const app = await buildApp({
    ...loadConfig([], {
      OPENSEARCH_URL: opensearch,
      K8S_LOGS_INDEX_PREFIX: prefix,
      K8S_LOGS_ADMIN_TOKEN: adminToken,
      K8S_LOGS_RATE_LIMIT_STANDARD: '0',
      K8S_LOGS_RATE_LIMIT_HEAVY: '0',
      K8S_LOGS_CREDENTIALS_KEY: randomBytes(32).toString('hex'),
      K8S_LOGS_LOG_LEVEL: 'silent',
    }),
    port: 0,
    host: '127.0.0.1',
  });
  t.teardown(async () => {
    await app.close();
    await fetch(`${opensearch}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {});
  });
  await app.prepareStore();
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, adminToken };
}

/** A port with nothing listening on it (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

t.test(
  'configurations: created, edited, disabled and deleted in the page, each step read back from the API',
  async (t) => {
    const configsOf = async (cluster: string) => {
      const res = await call('GET', `/config?cluster=${cluster}`);
      t.equal(res.status, 200, res.text);
      return res.body.configs as Array<Record<string, any>>;
    };
    await page.goto(`${agg.url}/ui/#/configs`);
    await page.getByTestId('configs').waitFor();
    const row = page.locator('[data-testid=configs] tbody tr', { hasText: 'uim' });

    // Create: a namespace configuration with a pod exclusion and a minimum level.
    const create = page.locator('form[aria-label="Create configuration"]');
    await create.locator('input[name=cluster]').fill('uim');
    await create.locator('input[name=namespace]').fill('shop');
    await create.locator('input[name=exclude_pods]').fill('noisy-*');
    await create.locator('select[name=min_level]').selectOption('info');
    await create.locator('button[type=submit]').click();
    await rowMatching(
      row,
      /shop.*yes.*exclude_pods: \["noisy-\*"\].*min_level: "info"/,
      'the created configuration listed',
    );
    const created = await waitFor(async () => (await configsOf('uim'))[0], { what: 'the configuration in the API' });
    t.match(created, {
      cluster: 'uim',
      namespace: 'shop',
      enabled: true,
      exclude_pods: ['noisy-*'],
      min_level: 'info',
    });
    t.equal((await configsOf('uim')).length, 1, 'one configuration created');

    // Edit: another pod glob and a higher level; the scope cannot change.
    await row.getByRole('button', { name: 'edit' }).click();
    const edit = page.locator('form[aria-label="Edit configuration"]');
    await edit.waitFor();
    t.ok(await edit.locator('input[name=cluster]').isDisabled(), 'the cluster of a configuration is fixed');
    t.equal(
      await edit.locator('input[name=exclude_pods]').inputValue(),
      'noisy-*',
      'the form holds the current values',
    );
    await edit.locator('input[name=exclude_pods]').fill('noisy-*, debug-*');
    await edit.locator('select[name=min_level]').selectOption('warn');
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.locator('form[aria-label="Create configuration"]').waitFor();
    await rowMatching(
      row,
      /exclude_pods: \["noisy-\*","debug-\*"\].*min_level: "warn"/,
      'the edited configuration listed',
    );
    const edited = await waitFor(
      async () => (await configsOf('uim')).find((c) => c['min_level'] === 'warn' && c['exclude_pods']?.length === 2),
      { what: 'the edit in the API' },
    );
    t.equal(edited['id'], created['id'], 'the same configuration was replaced');
    t.same(edited['exclude_pods'], ['noisy-*', 'debug-*']);
    t.not(edited['version'], created['version'], 'a new version');
    t.equal(edited['enabled'], true);

    // Disable the namespace.
    await row.getByRole('button', { name: 'disable namespace' }).click();
    await rowMatching(row, /shop\s*disabled/, 'the configuration shown disabled');
    const disabled = await waitFor(async () => (await configsOf('uim')).find((c) => c['enabled'] === false), {
      what: 'the configuration disabled in the API',
    });
    t.equal(disabled['id'], created['id']);
    t.equal(disabled['min_level'], 'warn', 'disabling keeps the settings');
    t.ok(await row.getByRole('button', { name: 'disable namespace' }).isDisabled(), 'cannot disable twice');

    // Delete.
    await row.getByRole('button', { name: 'delete' }).click();
    await waitFor(async () => (await row.count()) === 0, { what: 'the deleted configuration gone from the page' });
    await waitFor(async () => (await configsOf('uim')).length === 0, { what: 'the configuration gone from the API' });
    // A reload (the list alone) agrees.
    await page.reload();
    await page.getByTestId('configs').waitFor();
    t.equal(await row.count(), 0, 'not listed after a reload');
    t.equal(await alertText(page), null, 'no error shown');
  },
);

t.test(
  'clusters: registered (real API server and a closed port), reconnected and removed in the page, read back from the API',
  async (t) => {
    const kube = await testKube(t);
    if (!kube) throw new Error('testKube gives the shared control plane without options');
    // Registering credentials needs the aggregator's credentials key, which the shared test aggregator has not.
    const clusterAgg = await startCredentialedAggregator(t);
    const call = apiCaller(clusterAgg.url, clusterAgg.adminToken).call;
    const { page, pageErrors } = await signedInPage(browser, clusterAgg.url, clusterAgg.adminToken);
    page.on('dialog', (d) => void d.accept());
    const downUrl = `http://127.0.0.1:${await closedPort()}`;
    const statusOf = async (id: string) =>
      ((await call('GET', '/clusters/status')).body.clusters as Array<Record<string, any>>).find((c) => c['id'] === id);
    const registered = async () =>
      ((await call('GET', '/clusters/configs')).body.clusters as Array<Record<string, any>>).map((c) => c['id']);

    await page.goto(`${clusterAgg.url}/ui/#/clusters`);
    await page.getByTestId('cluster-status').waitFor();
    const json = page.getByLabel('Cluster JSON');
    const register = async (body: unknown) => {
      await json.fill(JSON.stringify(body));
      await page.getByRole('button', { name: 'Register' }).click();
    };
    const registration = (id: string) =>
      page.locator('tr', { has: page.getByRole('button', { name: 'reconnect' }), hasText: id });
    const status = (id: string) => page.locator('[data-testid=cluster-status] tbody tr', { hasText: id });

    // The draft the page offers is a valid registration once its placeholders are filled in.
    const draft = JSON.parse(await json.inputValue()) as Record<string, any>;
    draft['id'] = 'uim-live';
    draft['name'] = 'Live cluster';
    draft['api'] = {
      ...draft['api'],
      server: kube.access.url,
      token: kube.access.token,
      insecure_skip_tls_verify: true,
    };
    await register(draft);
    await shown(page, registration('uim-live'));
    await register({ id: 'uim-down', name: 'Unreachable cluster', api: { server: downUrl } });
    await shown(page, registration('uim-down'));

    const regs = (await call('GET', '/clusters/configs')).body.clusters as Array<Record<string, any>>;
    t.match(
      regs.find((c) => c['id'] === 'uim-live'),
      {
        name: 'Live cluster',
        api: { server: kube.access.url, auth: 'token', insecure_skip_tls_verify: true },
      },
    );
    t.match(
      regs.find((c) => c['id'] === 'uim-down'),
      { name: 'Unreachable cluster', api: { server: downUrl } },
    );
    t.notMatch(JSON.stringify(regs), kube.access.token, 'the credential is never shown');
    t.notMatch(await registration('uim-live').textContent(), kube.access.token, 'nor in the page');

    // The status table shows each connection's state as the API reports it.
    await page.locator('h2').getByRole('button', { name: 'refresh' }).click();
    // Columns: cluster, status, agents, last record, rate, API, reasons.
    const apiCell = (id: string) => status(id).locator('td').nth(5);
    await rowMatching(apiCell('uim-live'), /^connected$/, 'the live cluster connected');
    await rowMatching(apiCell('uim-down'), /^unreachable$/, 'the closed port unreachable');
    const live = await statusOf('uim-live');
    t.match(live, { api: { state: 'connected', reachable: true } });
    t.equal(
      await status('uim-live').locator('td').nth(1).textContent(),
      live?.['status'],
      'the status the API reports',
    );
    t.match(await status('uim-live').locator('td').first().textContent(), /Live cluster/);
    const down = await statusOf('uim-down');
    t.match(down, { status: 'disconnected', api: { state: 'unreachable', reachable: false } });
    t.equal(await status('uim-down').locator('td').nth(1).textContent(), 'disconnected');
    t.match(await status('uim-down').locator('td').first().textContent(), /Unreachable cluster/);

    // Reconnect probes the API server again: a newer check time in the API, no error in the page.
    await registration('uim-down').getByRole('button', { name: 'reconnect' }).click();
    const rechecked = await waitFor(
      async () => {
        const s = await statusOf('uim-down');
        return s?.['api']?.['checked_at'] > down?.['api']?.['checked_at'] ? s : undefined;
      },
      { what: 'a new probe of the unreachable cluster' },
    );
    t.match(rechecked, { api: { state: 'unreachable' } });
    t.equal(await alertText(page), null, 'reconnect answered without error');

    // Remove both.
    for (const id of ['uim-live', 'uim-down']) {
      await registration(id).getByRole('button', { name: 'remove' }).click();
      await waitFor(async () => (await registration(id).count()) === 0, { what: `${id} gone from the page` });
    }
    t.notOk(
      (await registered()).some((id) => id.startsWith('uim-')),
      'both registrations deleted in the API',
    );
    await waitFor(async () => (await status('uim-down').count()) === 0, { what: 'the status row gone' });
    t.equal(await alertText(page), null, 'no error shown');
    t.same(pageErrors, [], 'no uncaught error in the page');
  },
);

t.test('archive: a policy created and deleted in the page, read back from the API', async (t) => {
  const policies = async () => (await call('GET', '/archive/policies')).body.policies as Array<Record<string, any>>;
  // A policy must select something: records of shop four days ago, older than its three days.
  const old = dayRecords('uim', 'shop', 4, 6);
  t.equal((await ingest(agg.url, await agg.ingestToken('uim'), ndjson(old))).status, 200);
  await agg.refresh();
  await page.goto(`${agg.url}/ui/#/archive`);
  await page.getByTestId('policies').waitFor();
  await page.getByLabel('Policy JSON').fill(
    JSON.stringify({
      name: 'ui weekly shop',
      enabled: false,
      selection: { clusters: ['uim'], namespaces: ['shop'] },
      schedule: { age_days: 3, interval_minutes: 60 },
      destination: { bucket: bucketName, prefix: 'weekly' },
      after: { delete_from_store: false, s3_retention_days: 30 },
    }),
  );
  await page.getByRole('button', { name: 'Create policy' }).click();
  const row = page.locator('[data-testid=policies] tbody tr', { hasText: 'ui weekly shop' });
  await shown(page, row);
  const text = (await row.textContent()) ?? '';
  t.match(text, /not scheduled/);
  t.match(text, /clusters uim; namespaces shop/);
  t.match(text, /days older than 3, every 60 min/);
  t.match(text, new RegExp(`s3://${bucketName}/weekly \\(gzip\\)`));
  t.match(text, /keep in store; S3 30 days/);
  t.match(text, /never/);

  const listed = await policies();
  t.equal(listed.length, 1);
  t.match(listed[0], {
    name: 'ui weekly shop',
    enabled: false,
    selection: { clusters: ['uim'], namespaces: ['shop'] },
    schedule: { age_days: 3, interval_minutes: 60 },
    destination: { bucket: bucketName, prefix: 'weekly' },
    format: { compression: 'gzip' },
    after: { delete_from_store: false, s3_retention_days: 30 },
  });
  t.match(text, listed[0]!['id'], 'the page shows the policy id');

  await row.getByRole('button', { name: 'delete' }).click();
  await waitFor(async () => (await row.count()) === 0, { what: 'the policy gone from the page' });
  t.same(await policies(), [], 'the policy deleted in the API');
});

t.test('browse: namespaces, pods and containers with the counts the discovery API reports', async (t) => {
  const seed = [
    ...Array.from({ length: 5 }, () => record({ cluster: 'uib', namespace: 'shop', pod: 'web-1', container: 'app' })),
    ...Array.from({ length: 2 }, () => record({ cluster: 'uib', namespace: 'shop', pod: 'web-1', container: 'proxy' })),
    ...Array.from({ length: 3 }, () => record({ cluster: 'uib', namespace: 'shop', pod: 'web-2', container: 'app' })),
    ...Array.from({ length: 4 }, () =>
      record({ cluster: 'uib', namespace: 'payments', pod: 'ledger-0', container: 'db' }),
    ),
  ];
  t.equal((await ingest(agg.url, await agg.ingestToken('uib'), ndjson(seed))).status, 200);
  await agg.refresh();
  const namespaces = await waitFor(
    async () => {
      const ns = (await call('GET', '/namespaces?cluster=uib')).body.namespaces as Array<Record<string, any>>;
      return ns?.reduce((n, x) => n + x['log_count'], 0) === seed.length ? ns : undefined;
    },
    { what: 'the seeded records counted by the API', timeoutMs: 30_000 },
  );
  const count = (ns: string) => namespaces.find((n) => n['name'] === ns)?.['log_count'];
  t.same([count('shop'), count('payments')], [10, 4], 'the API counts the seed');
  const pods = (await call('GET', '/pods?cluster=uib&namespace=shop')).body.pods as Array<Record<string, any>>;
  t.same(pods.map((p) => [p['name'], p['log_count']]).sort(), [
    ['web-1', 7],
    ['web-2', 3],
  ]);
  const containers = (await call('GET', '/containers?cluster=uib&namespace=shop&pod=web-1')).body.containers as Array<
    Record<string, any>
  >;
  t.same(containers.map((c) => [c['name'], c['log_count']]).sort(), [
    ['app', 5],
    ['proxy', 2],
  ]);

  await page.goto(`${agg.url}/ui/#/browse`);
  const cluster = page.locator('[data-testid=browse] > li', { hasText: 'uib' });
  await cluster.waitFor();
  t.match(
    await cluster.locator(':scope > .muted').textContent(),
    new RegExp(`^${seed.length} lines \\(24 h\\)`),
    'the cluster total',
  );
  const nsItem = (name: string) => cluster.locator(':scope > ul > li', { has: page.getByRole('button', { name }) });
  for (const n of namespaces)
    t.match(
      await nsItem(n['name']).locator(':scope > .muted').textContent(),
      new RegExp(`^${n['log_count']} lines`),
      `${n['name']} count`,
    );
  t.equal(await cluster.locator(':scope > ul > li').count(), namespaces.length, 'one item per namespace of the API');

  await nsItem('shop').getByRole('button', { name: 'shop' }).click();
  const podItem = (name: string) =>
    nsItem('shop').locator(':scope > ul > li', { has: page.getByRole('button', { name }) });
  await podItem('web-1').waitFor();
  for (const p of pods)
    t.match(
      await podItem(p['name']).locator(':scope > .muted').textContent(),
      new RegExp(`^${p['log_count']} lines`),
      `${p['name']} count`,
    );
  t.equal(await nsItem('shop').locator(':scope > ul > li').count(), pods.length, 'one item per pod of the API');

  await podItem('web-1').getByRole('button', { name: 'web-1' }).click();
  const containerItems = podItem('web-1').locator(':scope > ul > li');
  await containerItems.first().waitFor();
  t.same(
    (await containerItems.allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim()).sort(),
    containers.map((c) => `▪ ${c['name']} ${c['log_count']} lines`).sort(),
    'the containers of web-1 with their counts',
  );
  const link = await containerItems.getByRole('link', { name: 'proxy' }).getAttribute('href');
  t.match(link, /^#\/explore\?/, 'a container opens Explore');
  t.match(decodeURIComponent(link ?? ''), /proxy/);
  t.same(pageErrors, [], 'no uncaught error in the page');
});
