import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { WEB_APP_CSP } from './web-app.js';

const INDEX = '<!doctype html><title>Parley</title><script type="module" src="/assets/index-abc123.js"></script>';

describe('the web client served at /', () => {
  let folder: string;
  let server: TestServer;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'parley-web-'));
    await mkdir(join(folder, 'assets'));
    await writeFile(join(folder, 'index.html'), INDEX);
    await writeFile(join(folder, 'assets', 'index-abc123.js'), 'console.log("chat")');
    server = await startTestServer({ env: { WEB_APP_DIR: folder } });
  });
  afterAll(async () => {
    await server?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  it('answers / with the built index.html, under the page CSP and revalidated on every load', async () => {
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toBe(INDEX);
    expect(response.headers.get('content-security-policy')).toBe(WEB_APP_CSP);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
  });

  it('serves hashed assets as immutable', async () => {
    const response = await fetch(`${server.url}/assets/index-abc123.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/javascript/);
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('leaves the API as it was: its CSP and no-store, and a problem for an unknown path', async () => {
    const info = await fetch(`${server.url}/info`);
    expect(info.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(info.headers.get('cache-control')).toBe('no-store');
    const unknown = await fetch(`${server.url}/assets/missing.js`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
    const traversal = await fetch(`${server.url}/..%2f..%2fetc%2fpasswd`);
    expect(traversal.status).toBe(404);
  });

  it('is absent when WEB_APP_DIR=off or the folder holds no build: / is a 404 problem', async () => {
    for (const env of [{ WEB_APP_DIR: 'off' }, { WEB_APP_DIR: join(folder, 'assets') }]) {
      const other = await startTestServer({ env });
      try {
        const response = await fetch(`${other.url}/`);
        expect(response.status, JSON.stringify(env)).toBe(404);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
      } finally {
        await other.stop();
      }
    }
  });
});
