import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectReady } from '../test-support/realtime-fixtures.js';
import { registerUser, startTestServer, type TestServer } from '../test-support/server.js';

describe('a node whose presence heartbeat lapsed', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { PRESENCE_INTERVAL_MS: '100', PRESENCE_TTL_MS: '1000' } });
  });
  afterAll(() => server?.stop());

  it('makes its clients reconnect (1012), since other nodes may have turned them offline meanwhile', async () => {
    const user = await registerUser(server.api);
    const client = await connectReady(server.url, user.token, user.id);
    // The process stalls (the event loop is blocked) for longer than the presence TTL.
    const stallUntil = Date.now() + 1500;
    while (Date.now() < stallUntil) {
      /* busy */
    }
    const closed = await Promise.race([client.closed, new Promise((resolve) => setTimeout(() => resolve('still open'), 3000))]);
    expect(closed).toEqual({ code: 1012, reason: expect.any(String) });
  });

  it('keeps clients connected while heartbeats keep up', async () => {
    const user = await registerUser(server.api);
    const client = await connectReady(server.url, user.token, user.id);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    client.send({ type: 'ping' });
    await client.waitFor((frame) => frame.type === 'pong');
    await client.close();
  });
});
