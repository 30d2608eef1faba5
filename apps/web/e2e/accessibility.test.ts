/**
 * Accessibility of the web client in Chromium, checked by axe-core (WCAG 2.1 A and AA rules:
 * labels, names, contrast, landmarks, ARIA) on each screen in the light and the dark scheme, and
 * a keyboard-only path: sign up, start a conversation and send a message without the mouse.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { screenshot } from './browser.js';
import { PASSWORD, useEmbeddedWorld } from './embedded-world.js';

const AXE_SCRIPT = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** The WCAG 2.1 A/AA violations axe-core finds on the page as it is now. */
async function violations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE_SCRIPT });
  const found = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: unknown[]; passes: unknown[] }> } }).axe;
    return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
  });
  // The rules did run: labels, names and contrast were checked and passed somewhere.
  expect(found.passes.length).toBeGreaterThan(5);
  return (found.violations as Violation[]).map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}

describe('the web client is accessible', () => {
  const world = useEmbeddedWorld();

  it.each(['light', 'dark'] as const)('by keyboard alone, with no WCAG A/AA violation on any screen (%s scheme)', async (colorScheme) => {
    // axe-core is injected as a script: the page's CSP (scripts from its own origin only) is bypassed for this check.
    const { server, browser } = world;
    const context = await browser.newContext({ bypassCSP: true, colorScheme });
    const page = await context.newPage();
    const found: string[] = [];
    const check = async (screen: string) => found.push(...(await violations(page)).map((violation) => `${screen}: ${violation}`));
    try {
      const suffix = randomUUID().slice(0, 8);
      await world.register(`friend-${suffix}`, 'Friend');

      await page.goto(`${server.url}/`);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await check('sign in');

      // Keyboard only from here: Tab moves, Enter and Space act.
      /** Presses Tab until the focused control is the one named `name` (by its label, ARIA label or text). */
      const tabTo = async (name: string) => {
        for (let i = 0; i < 30; i++) {
          await page.keyboard.press('Tab');
          const names = await page.evaluate(() => {
            const element = document.activeElement as HTMLInputElement | null;
            // Tab past the last control leaves the page: the body is no control.
            if (!element || element === document.body) return [];
            const label = element.labels?.[0];
            const labelText = label ? [...label.childNodes].filter((node) => node.nodeType === Node.TEXT_NODE).map((node) => node.textContent).join('') : '';
            return [element.getAttribute('aria-label') ?? '', labelText, element.textContent ?? ''].map((text) => text.trim());
          });
          if (names.includes(name)) return;
        }
        throw new Error(`Tab never reached ${name}`);
      };
      await tabTo('New here? Create an account');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Create an account' }).waitFor();
      await check('create an account');
      await tabTo('Username');
      await page.keyboard.type(`me-${suffix}`);
      await tabTo('Display name');
      await page.keyboard.type('Me');
      await tabTo('Password');
      await page.keyboard.type(PASSWORD);
      await page.keyboard.press('Enter');
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      await check('no conversation yet');

      await tabTo('Start a conversation with');
      await page.keyboard.type(`friend-${suffix}`);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Friend' }).waitFor();
      await tabTo('Message');
      await page.keyboard.type('Typed without a mouse');
      await page.keyboard.press('Enter');
      await page.locator('li.message:not(.pending)', { hasText: 'Typed without a mouse' }).waitFor();
      await check('chat');
      await screenshot(page, `accessibility-chat-${colorScheme}`);
    } finally {
      await context.close();
    }
    expect(found).toEqual([]);
  }, 60_000);
});
