/**
 * The Archive page end to end in headless chromium against a real aggregator on the shared
 * OpenSearch and the local S3 server: a policy created through the API is run with the
 * page's "run now", its job and archived objects appear with the API's figures, and an
 * object's content is read back from S3 into the page. Screenshot: test/ui/screenshots/archive-content.png.
 */
import t from 'tap';
import path from 'node:path';
import { ingest, ndjson } from '../helpers/records.ts';
import { dayRecords, startArchivingAggregator } from '../helpers/archive-fixture.ts';
import { launchBrowser, prepareBrowserTest, signedInPage, SHOTS } from './browser.ts';

await prepareBrowserTest(t);

t.test('archive page: run a policy, see its job and objects, read an object back from S3', async (t) => {
  const { bucketName, agg } = await startArchivingAggregator(t, 'ui-archive');
  const recs = [...dayRecords('uia', 'shop', 3, 30), ...dayRecords('uia', 'payments', 3, 12)];
  t.equal((await ingest(agg.url, await agg.ingestToken('uia'), ndjson(recs))).status, 200);
  await agg.refresh();
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${agg.url}/v1/k8s/logs${p}`, {
      method,
      headers: {
        authorization: `Bearer ${agg.adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const policy = await api('POST', '/archive/policies', {
    name: 'ui nightly',
    enabled: false,
    selection: { clusters: ['uia'] },
    schedule: { age_days: 1 },
    destination: { bucket: bucketName, prefix: 'ui' },
  });
  t.equal(policy.status, 201, JSON.stringify(policy.body));
  agg.app.startJobs();

  const browser = await launchBrowser(t);
  const { page, pageErrors } = await signedInPage(browser, agg.url, agg.adminToken);
  await page.goto(`${agg.url}/ui/#/archive`);

  const row = page.locator('[data-testid=policies] tr', { hasText: 'ui nightly' });
  await row.waitFor();
  t.match(await row.textContent(), /never/, 'a policy that never ran says so');
  t.match(await row.textContent(), new RegExp(`s3://${bucketName}/ui \\(gzip\\)`));
  await row.getByRole('button', { name: 'run now' }).click();

  // The page reloads its lists after the action; refresh until the job shows as succeeded.
  const job = page.locator('[data-testid=archive-jobs] tr', { hasText: 'succeeded' });
  const deadline = Date.now() + 120_000;
  while (!(await job.count())) {
    if (Date.now() > deadline) throw new Error('the archive job never showed as succeeded');
    await page.getByRole('button', { name: 'refresh' }).first().click();
    await job
      .first()
      .waitFor({ timeout: 2_000 })
      .catch(() => {});
  }
  t.match(await job.first().textContent(), new RegExp(`${recs.length} records archived`));
  await page.getByRole('button', { name: 'refresh' }).first().click();
  await page
    .getByTestId('archive-totals')
    .filter({ hasText: `${recs.length} records` })
    .waitFor();
  t.match(await row.textContent(), /succeeded/, 'the policy shows its last run');

  const meta = (await api('GET', '/s3/metadata?limit=100')).body.objects as Array<{ key: string; records: number }>;
  t.equal(meta.length, 2, 'one object per namespace');
  const shop = meta.find((o) => o.key.includes('namespace=shop'))!;
  const objectRow = page.locator('[data-testid=archived-objects] tr', { hasText: shop.key });
  await objectRow.waitFor();
  t.match(await objectRow.textContent(), /uia \/ shop \/ \d{4}-\d{2}-\d{2}30/, 'cluster, namespace, day and records');
  await objectRow.getByRole('button', { name: 'view' }).click();
  const content = page.getByTestId('object-content');
  await content.getByText(`30 of 30 records`).waitFor();
  const shown = await content.locator('tbody tr').allTextContents();
  t.equal(shown.length, 30);
  for (const r of recs.filter((r) => r.namespace === 'shop'))
    t.ok(
      shown.some((s) => s.includes(r.message)),
      `shows ${r.message}`,
    );
  await page.screenshot({ path: path.join(SHOTS, 'archive-content.png'), fullPage: true });
  t.same(pageErrors, [], 'no uncaught error in the page');
});
