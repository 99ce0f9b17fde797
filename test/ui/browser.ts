/**
 * What every browser test needs first: Debian's chromium (never a download), a built UI
 * bundle, the screenshots folder (generated, gitignored; the README links it), and a
 * signed-in page.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildUi, uiIsStale } from '../../ui/build.ts';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const SHOTS = path.join(import.meta.dirname, 'screenshots');

/** Fails the test file (not a silent pass) when the browser is missing; builds the UI if stale. */
export async function prepareBrowserTest(t: { fail(message: string): void }): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    // CI installs it (.ci/run); a machine without it says so instead of passing silently.
    t.fail(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    process.exit(1);
  }
  if (await uiIsStale()) await buildUi();
  await mkdir(SHOTS, { recursive: true });
}

/** Headless chromium, closed at the test's teardown. */
export async function launchBrowser(t: { teardown(fn: () => unknown): void }): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/**
 * A page of a new browser context, signed in at `origin`'s UI with `token`, and the
 * uncaught errors it raises from then on (a test ends by checking there were none).
 */
export async function signedInPage(
  browser: Browser,
  origin: string,
  token: string,
  opts: { viewport?: { width: number; height: number }; acceptDownloads?: boolean; timeoutMs?: number } = {},
): Promise<{ page: Page; pageErrors: string[] }> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1280, height: 900 },
    ...(opts.acceptDownloads ? { acceptDownloads: true } : {}),
  });
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeoutMs ?? 30_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${origin}/ui/`);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.getByTestId('who').waitFor();
  return { page, pageErrors };
}
