/**
 * What most browser tests stand on: one Parley process on the embedded engine and one Chromium,
 * started before the file's tests and stopped after; accounts made over the API.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { startServerProcess, type ServerProcess } from '../../../packages/server/src/test-support/server-process.js';
import { launchChromium } from './browser.js';

export const PASSWORD = 'correct horse battery';

export interface EmbeddedWorld {
  readonly server: ServerProcess;
  readonly browser: Browser;
  /** Registers a user of the tenant `default` over the API (not through a page). */
  register(username: string, displayName: string): Promise<{ accessToken: string; user: { id: string } }>;
}

/** Registers the hooks; read the fields inside tests. */
export function useEmbeddedWorld(): EmbeddedWorld {
  let server: ServerProcess | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    server = await startServerProcess({});
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  return {
    get server() {
      return server!;
    },
    get browser() {
      return browser!;
    },
    async register(username, displayName) {
      const response = await fetch(`${server!.url}/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: PASSWORD, displayName }),
      });
      expect(response.status).toBe(201);
      return (await response.json()) as { accessToken: string; user: { id: string } };
    },
  };
}
