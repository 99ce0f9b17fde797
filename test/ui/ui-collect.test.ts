/**
 * The Collect jobs page end to end in headless chromium, against an aggregator whose
 * registered cluster is the real kube-apiserver with the fake kubelet (the collect tests'
 * stack): start a continuous collection from the page, watch its progress move without a
 * click (the page re-reads the list while a job runs), open its per-pod view, cancel it.
 * Screenshot: test/ui/screenshots/collect-jobs.png.
 */
import t from 'tap';
import path from 'node:path';
import { collectStack } from '../aggregator/collect/collect-fixture.ts';
import { launchBrowser, prepareBrowserTest, signedInPage, SHOTS } from './browser.ts';

await prepareBrowserTest(t);
const stack = await collectStack(t);
if (!stack) {
  t.comment('skipped: needs the fake kubelet');
  process.exit(0);
}
const { kube, cluster } = stack;

t.test('collect jobs page: start a continuous job, follow its progress, cancel it', async (t) => {
  const ns = await kube.namespace('uicollect');
  await kube.driver.addPod({ namespace: ns, name: 'web-0', nodeName: kube.node, logs: { main: ['one', 'two'] } });
  const origin = new URL(stack.api()).origin;

  const browser = await launchBrowser(t);
  const { page, pageErrors } = await signedInPage(browser, origin, stack.adminToken);
  await page.goto(`${origin}/ui/#/collect`);

  await page.getByRole('radio', { name: 'continuous' }).check();
  await page.getByRole('textbox', { name: 'Collection request' }).fill(JSON.stringify({ cluster, namespace: ns }));
  await page.getByRole('button', { name: 'Start' }).click();

  // Progress comes in by the page's own re-reads: no refresh is clicked from here on.
  const row = page.locator('[data-testid=collect-jobs] > tbody > tr', { hasText: `${cluster} / ${ns}` });
  await row.filter({ hasText: '2 lines' }).waitFor();
  t.match(await row.textContent(), /continuous/);
  t.match(await row.textContent(), /running/);
  kube.driver.appendLog(ns, 'web-0', 'main', 'three');
  await row.filter({ hasText: '3 lines' }).waitFor();

  await row.getByRole('button', { name: '▸' }).click();
  const pod = page.locator('[data-testid=collect-pods] tr', { hasText: `${ns}/web-0` });
  await pod.filter({ hasText: 'running' }).waitFor();
  t.match(await pod.textContent(), /main/);
  await page.screenshot({ path: path.join(SHOTS, 'collect-jobs.png'), fullPage: true });

  await row.getByRole('button', { name: 'cancel' }).click();
  await row.filter({ hasText: 'cancelled' }).waitFor();
  t.ok(await row.getByRole('button', { name: 'cancel' }).isDisabled(), 'a finished job cannot be cancelled again');

  // What the page showed is what the API says.
  const jobs = (await stack.call('GET', `/collect/jobs?type=continuous`)).body['jobs'] as Array<Record<string, any>>;
  const job = jobs.find((j) => j['params']['namespaces']?.[0] === ns);
  t.equal(job?.['status'], 'cancelled');
  t.same(
    (await stack.stored(ns)).map((r) => r.message),
    ['one', 'two', 'three'],
  );
  t.same(pageErrors, [], 'no uncaught error in the page');
});
