/**
 * The web client in Chromium on the embedded engine: a group started with several usernames and a
 * title; a long history read by scrolling up, page by page, every message once and in order.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { collectPageErrors, screenshot } from './browser.js';
import { PASSWORD, useEmbeddedWorld } from './embedded-world.js';
/** More than two pages of the client's history (30 per page). */
const HISTORY = 75;

describe('the web client in Chromium: groups and history', () => {
  const world = useEmbeddedWorld();
  const { register } = world;

  it('starts a group by usernames and pages its history upward, every message once and in order', async () => {
    const suffix = randomUUID().slice(0, 8);
    const carol = await register(`carol-${suffix}`, 'Carol');
    await register(`dave-${suffix}`, 'Dave');
    const { server, browser } = world;
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    try {
      await page.goto(`${server.url}/`);
      await page.getByRole('button', { name: 'New here? Create an account' }).click();
      await page.getByLabel('Username').fill(`erin-${suffix}`);
      await page.getByLabel('Display name').fill('Erin');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();

      await page.getByLabel('Start a conversation with').fill(`carol-${suffix}, dave-${suffix}`);
      await page.getByLabel('Group title').fill('Launch team');
      await page.getByRole('button', { name: 'Start' }).click();
      await page.getByRole('heading', { name: 'Launch team' }).waitFor();
      await page.getByText('3 members').waitFor();
      const conversationId = /#\/c\/(.+)$/.exec(page.url())![1]!;

      // Carol writes a long history through the API while Erin watches the live end of it.
      for (let i = 1; i <= HISTORY; i++) {
        const sent = await fetch(`${server.url}/v1/conversations/${conversationId}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${carol.accessToken}` },
          body: JSON.stringify({ text: `Update ${i}` }),
        });
        expect(sent.status).toBe(201);
      }
      const texts = () => page.locator('.messages li.message .text').allTextContents();
      const all = Array.from({ length: HISTORY }, (_, i) => `Update ${i + 1}`);
      await expect.poll(async () => (await texts()).at(-1)).toBe(`Update ${HISTORY}`);

      // A reload shows the latest page only; scrolling to the top loads the earlier ones.
      await page.reload();
      await expect.poll(async () => (await texts()).length).toBe(30);
      expect(await texts()).toEqual(all.slice(-30));
      // Each scroll to the top asks for the page before; polled until everything is there.
      await expect
        .poll(
          async () => {
            await page.locator('.messages').evaluate((element) => (element.scrollTop = 0));
            return (await texts()).length;
          },
          { timeout: 30_000 },
        )
        .toBe(HISTORY);
      expect(await texts()).toEqual(all);
      await screenshot(page, 'group-history-paged-up');
    } finally {
      await context.close();
    }
    expect(errors).toEqual([]);
  }, 90_000);
});
