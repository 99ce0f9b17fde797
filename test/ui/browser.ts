/**
 * What every browser test needs first: Debian's chromium (never a download), a built UI
 * bundle, and the screenshots folder (generated, gitignored; the README links it).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
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
