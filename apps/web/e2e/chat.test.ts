/**
 * The web client in a real browser (Debian's Chromium through playwright-core) against real
 * Parley processes: two people register, find each other by username and chat; typing and read
 * receipts show; one person's connection to the server is cut (a TCP proxy between their browser
 * and their node resets every connection and holds new ones) while the other sends five
 * messages, and on return the reconnecting banner comes and goes and the five messages show
 * once each, in order; a reload keeps the session. On the embedded engine (one process) and on
 * two nodes sharing Redis (each person on a different node). Screenshots of the key steps go to
 * test-artifacts/web/.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../../../packages/server/src/test-support/server-process.js';
import { startTcpProxy, type TcpProxy } from '../../../packages/server/src/test-support/tcp-proxy.js';
import { collectPageErrors, launchChromium, screenshot } from './browser.js';

const PASSWORD = 'correct horse battery';
const PHONE = { width: 390, height: 844 };

interface Topology {
  name: 'embedded' | 'redis';
  /** The env of every node of the deployment. */
  env: () => Record<string, string>;
  nodes: number;
}

const TOPOLOGIES: Topology[] = [
  { name: 'embedded', env: () => ({}), nodes: 1 },
  { name: 'redis', env: () => ({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: `web-e2e-${randomUUID()}:` }), nodes: 2 },
];

/** Messages as the chat view shows them, in order: the text of each stored (not pending) message. */
const shownTexts = (page: Page) => page.locator('.messages li.message:not(.pending) .text').allTextContents();

async function register(page: Page, origin: string, username: string, displayName: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByRole('button', { name: 'New here? Create an account' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Display name').fill(displayName);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.keyboard.press('Enter');
}

describe.each(TOPOLOGIES)('the web client in Chromium ($name)', (topology) => {
  let browser: Browser;
  const nodes: ServerProcess[] = [];
  let proxy: TcpProxy;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    const env = topology.env();
    for (let i = 0; i < topology.nodes; i++) nodes.push(await startServerProcess(env));
    // Bob reaches the last node through the proxy, so his connection can be cut.
    const last = new URL(nodes.at(-1)!.url);
    proxy = await startTcpProxy({ host: last.hostname, port: Number(last.port) });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await proxy?.close();
    await Promise.all(nodes.map((node) => node.stop()));
  });

  it('two people register, find each other and chat; a cut connection misses nothing; a reload keeps the session', async () => {
    const suffix = randomUUID().slice(0, 8);
    const [aliceName, bobName] = [`alice-${suffix}`, `bob-${suffix}`];
    const aliceOrigin = nodes[0]!.url;
    const bobOrigin = proxy.url('http');
    const aliceContext = await browser.newContext();
    const bobContext = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    contexts.push(aliceContext, bobContext);
    const alice = await aliceContext.newPage();
    const bob = await bobContext.newPage();
    const errors = [...collectPageErrors(alice), ...collectPageErrors(bob)];
    const shot = (page: Page, step: string) => screenshot(page, `${topology.name}-${step}`);

    await register(alice, aliceOrigin, aliceName, 'Alice');
    await register(bob, bobOrigin, bobName, 'Bob');
    await shot(bob, '01-bob-signed-in-phone');

    // Alice finds Bob by username and writes first.
    await alice.getByLabel('Start a conversation with').fill(bobName);
    await alice.getByRole('button', { name: 'Start' }).click();
    await alice.getByRole('heading', { name: 'Bob' }).waitFor();
    await send(alice, 'Hello Bob!');
    await alice.locator('li.message:not(.pending)', { hasText: 'Hello Bob!' }).waitFor();

    // Bob's list shows the conversation with an unread badge; opening it shows the message.
    const unread = bob.getByText('1 unread');
    await unread.waitFor();
    await shot(bob, '02-bob-unread-badge');
    await bob.getByRole('button', { name: /Alice/ }).click();
    await bob.locator('li.message', { hasText: 'Hello Bob!' }).waitFor();
    await expect.poll(() => unread.count()).toBe(0);

    // Read receipt: Alice sees that Bob has seen it. Typing: Bob types, Alice sees it.
    await alice.getByText('Seen by Bob').waitFor();
    await bob.getByLabel('Message', { exact: true }).pressSequentially('Hi');
    await alice.getByText('Bob is typing…').waitFor();
    await shot(alice, '03-alice-sees-typing');
    await bob.keyboard.press('Enter');
    await expect.poll(() => shownTexts(alice)).toEqual(['Hello Bob!', 'Hi']);
    // Presence: Bob is online in Alice's view.
    await alice.locator('.chat-header [data-presence="online"]').waitFor();

    // Bob's connection is cut: every connection reset, new ones held. Alice sends five messages.
    proxy.setBlackHole(true);
    proxy.resetAll();
    await bob.locator('.banner').waitFor();
    await shot(bob, '04-bob-reconnecting-banner');
    const five = ['one', 'two', 'three', 'four', 'five'].map((word) => `While you were away: ${word}`);
    for (const text of five) {
      await send(alice, text);
      await alice.locator('li.message:not(.pending)', { hasText: text }).waitFor();
    }
    // Back: the banner goes, the five arrive once each, in order.
    proxy.setBlackHole(false);
    await bob.locator('.banner').waitFor({ state: 'detached', timeout: 30_000 });
    await expect.poll(() => shownTexts(bob), { timeout: 15_000 }).toEqual(['Hello Bob!', 'Hi', ...five]);
    await shot(bob, '05-bob-back-with-five-messages');

    // A reload keeps the session and the open conversation.
    await bob.reload();
    await expect.poll(() => shownTexts(bob), { timeout: 15_000 }).toEqual(['Hello Bob!', 'Hi', ...five]);
    await expect(bob.getByRole('button', { name: 'Sign out' }).isVisible()).resolves.toBe(true);
    await shot(bob, '06-bob-after-reload');

    // Replies, reactions, edits and deletes reach the other side.
    // Seqs: 1 Hello Bob!, 2 Hi, 3–7 the five.
    const first = alice.locator('li.message[data-seq="3"]');
    await first.hover();
    await first.getByRole('button', { name: 'Reply' }).click();
    await send(alice, 'Replying to the first one');
    await bob.locator('li.message blockquote', { hasText: 'While you were away: one' }).waitFor();
    await first.getByRole('button', { name: 'React 👍' }).click();
    await bob.locator('li.message[data-seq="3"]').getByRole('button', { name: '👍 1' }).waitFor();
    const second = alice.locator('li.message[data-seq="4"]');
    await second.hover();
    await second.getByRole('button', { name: 'Edit' }).click();
    await alice.getByLabel('Edit message').fill('While you were away: two (fixed)');
    await alice.keyboard.press('Enter');
    await bob.locator('li.message[data-seq="4"]', { hasText: 'While you were away: two (fixed)' }).getByText('(edited)').waitFor();
    const third = alice.locator('li.message[data-seq="5"]');
    await third.hover();
    await third.getByRole('button', { name: 'Delete' }).click();
    await bob.locator('li.message[data-seq="5"]', { hasText: 'Message deleted' }).waitFor();
    await shot(bob, '07-bob-sees-reply-reaction-edit-delete');

    expect(errors).toEqual([]);
  }, 120_000);
});
