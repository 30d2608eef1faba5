/**
 * Debian's Chromium driven by playwright-core for the web client's end-to-end tests: headless,
 * without the background traffic that a closed network refuses, each context a separate
 * browser profile (its own localStorage, cookies and connections).
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Screenshots land here (listed in .gitignore). */
export const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/web/', import.meta.url));

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Saves a full-page screenshot as test-artifacts/web/<name>.png and returns its file name. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = `${name}.png`;
  await page.screenshot({ path: `${ARTIFACTS}${file}`, fullPage: true });
  return file;
}

/**
 * Uncaught exceptions of the page: a test ends by expecting none. (Console errors are not
 * collected: the browser logs every refused connection there, which cutting the network causes.)
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`${page.url()}: ${error.message}`));
  return errors;
}
