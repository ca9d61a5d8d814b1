// Headless Chromium for the web tests: where it is, whether to skip, and a page that records its errors.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.MQIOT_CHROMIUM ?? '/usr/bin/chromium';
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** Outside CI a machine without Chromium skips with a reason; in CI the launch fails and so do the tests. */
export const NO_CHROMIUM =
  !existsSync(CHROMIUM) && !IN_CI
    ? `Chromium not found at ${CHROMIUM}: install Debian's 'chromium' or set MQIOT_CHROMIUM`
    : false;

/** Launches headless Chromium; as root it must run without the sandbox. */
export async function launchChromium(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `Chromium is required in CI and was not found at ${CHROMIUM}`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

/** A new page whose uncaught script errors are pushed to `errors` (tests assert it stays empty). */
export async function newPage(browser: Browser, errors: string[]): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(30_000); // generous: the suite must pass with both cores busy
  page.on('pageerror', (err) => errors.push(err.message));
  return page;
}

/** Where a test keeps a screenshot for people to look at (git-ignored, kept after the run). */
export function artifact(name: string): string {
  const dir = fileURLToPath(new URL('../../.tmp/screenshots/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  return `${dir}${name}`;
}
