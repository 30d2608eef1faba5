/**
 * Opening a realtime connection (GET /v1/realtime), on both engines: who is let in, how a refusal
 * looks to a WebSocket client (an HTTP 401 problem document, no socket), where the token may be,
 * and the first frame.
 */
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import type { ApiClient } from '../test-support/api-client.js';
import { createTestTenant, expectProblem, openDirect, sendMessage } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import { connectRealtime } from '../test-support/realtime-client.js';
import { attemptRealtime, attemptRefusedUpgrade, connectReady } from '../test-support/realtime-fixtures.js';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test-support/server.js';

/** The token with its payload rewritten (`sub` of another user), signature left as it was. */
function tamper(token: string, sub: string): string {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
  return [header, Buffer.from(JSON.stringify({ ...claims, sub })).toString('base64url'), signature].join('.');
}

describe.each(ENGINE_KINDS)('realtime upgrade (%s engine)', (kind) => {
  let server: TestServer;
  let api: ApiClient;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    server = await startTestServer({ kind });
    api = server.api;
    [alice, bob] = await Promise.all([registerUser(api), registerUser(api)]);
  });
  afterAll(() => server?.stop());

  const expectRefused401 = (refused: Awaited<ReturnType<typeof attemptRefusedUpgrade>>, code: string) => {
    expect(refused.opened, 'a socket was opened').toBe(false);
    expect(refused.status).toBe(401);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ status: 401, code });
  };

  describe('refused at the upgrade with 401 and no socket', () => {
    it('without a token', async () => {
      expectRefused401(await attemptRefusedUpgrade(server.url), 'unauthorized');
    });

    it('with a token that is not one (header and query)', async () => {
      expectRefused401(await attemptRefusedUpgrade(server.url, { headers: { authorization: 'Bearer not-a-token' } }), 'invalid_token');
      expectRefused401(await attemptRefusedUpgrade(server.url, { query: { access_token: 'not-a-token' } }), 'invalid_token');
      expectRefused401(await attemptRefusedUpgrade(server.url, { headers: { authorization: 'Bearer ' } }), 'unauthorized');
    });

    it('with a tampered token (claims rewritten to impersonate another user)', async () => {
      const forged = tamper(alice.token, bob.id);
      expectRefused401(await attemptRefusedUpgrade(server.url, { headers: { authorization: `Bearer ${forged}` } }), 'invalid_token');
      expectRefused401(await attemptRefusedUpgrade(server.url, { query: { access_token: forged } }), 'invalid_token');
      // The untampered token is fine, so the refusal was about the tampering.
      const client = await connectReady(server.url, alice.token, alice.id);
      await client.close();
    });

    it('the refusal carries an X-Request-Id and no socket is left open', async () => {
      const refused = await attemptRefusedUpgrade(server.url, { headers: { authorization: 'Bearer nope' } });
      expect(refused.headers['x-request-id']).toEqual(expect.any(String));
      expect(refused.opened).toBe(false);
    });
  });

  it('connectRealtime rejects a refused upgrade with its status', async () => {
    await expect(connectRealtime(server.url, { token: 'garbage' })).rejects.toThrow(/upgrade refused: 401/);
  });

  it('a tenant API key is not a realtime identity: no live connection, no frame', async () => {
    const tenant = await createTestTenant(api);
    const attempt = await attemptRealtime(server.url, tenant.key);
    // The contract allows a 401 at the upgrade or a 4001 close before any `ready`.
    if (attempt.refusedStatus !== undefined) expect(attempt.refusedStatus).toBe(401);
    else expect(attempt.closeCode).toBe(4001);
    expect(attempt.frames).toEqual([]);
  });

  it('accepts the token in the Authorization header; the first frame is ready {userId, cursor}', async () => {
    const client = await connectRealtime(server.url, { token: alice.token });
    const first = await client.waitFor(() => true);
    expect(first).toEqual({ type: 'ready', userId: alice.id, cursor: expect.any(String) });
    expect(first.cursor?.length).toBeGreaterThan(0);
    expect(client.frames[0]).toBe(first);
    await client.close();
  });

  it('accepts the token in the access_token query parameter', async () => {
    const client = await connectRealtime(server.url, { token: bob.token, tokenInQuery: true });
    expect(await client.waitFor(() => true)).toEqual({ type: 'ready', userId: bob.id, cursor: expect.any(String) });
    // And it is a working connection: it hears a message of bob's conversation.
    const direct = await openDirect(api, alice.token, bob.id);
    const sent = await sendMessage(api, alice.token, direct.id, 'over the query token');
    const frame = await client.waitFor((f) => f.type === 'message.created');
    expect(frame.message).toEqual(sent);
    await client.close();
  });

  it('accepts a token minted by a tenant back end for its user, and connects as that user', async () => {
    const tenant = await createTestTenant(api);
    const [user] = await tenant.users(['rt-user-1']);
    const client = await connectReady(server.url, user!.token, 'rt-user-1', { tokenInQuery: true });
    await client.close();
  });

  it('GET /v1/realtime without an upgrade is 426 problem+json', async () => {
    const response = await api.get('/v1/realtime', alice.token);
    expectProblem(response, 426, 'upgrade_required');
    expect(response.headers.get('upgrade')?.toLowerCase()).toBe('websocket');
  });

  it('an upgrade on another path is refused (404), not served', async () => {
    const refused = await attemptRefusedUpgrade(server.url, { path: '/v1/realtimex', headers: { authorization: `Bearer ${alice.token}` } });
    expect(refused.opened).toBe(false);
    expect(refused.status).toBe(404);
  });
});

describe('an upgrade whose client resets while the node is still admitting it', () => {
  let server: TestServer;
  let alice: TestUser;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);

  beforeAll(async () => {
    // The real embedded engine, with its connect counter answering late, as a stalled Redis would.
    const engine = createMemoryEngine();
    const consume = engine.rateLimits.consume.bind(engine.rateLimits);
    engine.rateLimits.consume = async (...args) => {
      await delay(300);
      return consume(...args);
    };
    server = await startTestServer({ engine });
    alice = await registerUser(server.api);
    process.on('uncaughtException', onUncaught);
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await server?.stop();
  });

  it('survives the reset (no unhandled socket error) and keeps serving upgrades', async () => {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.from('0123456789abcdef').toString('base64')}\r\n` +
        `Authorization: Bearer ${alice.token}\r\n\r\n`,
    );
    await delay(50);
    socket.resetAndDestroy();
    await delay(600);
    expect(uncaught).toEqual([]);
    const client = await connectReady(server.url, alice.token, alice.id);
    await client.close();
  });
});
