/**
 * Account deletion across nodes, as operators run them: two `node dist/main.js` processes on one
 * Redis (a unique key prefix). A user signed in on both deletes their account on one node; the
 * other node, which had already verified (and cached) the user's token, refuses it at once, and
 * the user's realtime connections close on both. These tests need the build (`npm test` runs it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient } from './test-support/api-client.js';
import { createGroup, createTestTenant, expectProblem } from './test-support/conversations.js';
import { connectRealtime, type RealtimeClient } from './test-support/realtime-client.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from './test-support/redis.js';
import { startServerProcess, type ServerProcess } from './test-support/server-process.js';
import { ADMIN_KEY, registerUser } from './test-support/server.js';

const keyPrefix = uniqueKeyPrefix();
const ENV = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keyPrefix, PARLEY_ADMIN_KEY: ADMIN_KEY, SHUTDOWN_TIMEOUT_MS: '5000' };

const nodes: ServerProcess[] = [];
const clients: RealtimeClient[] = [];
process.once('exit', () => {
  for (const node of nodes) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
});

async function online(node: ServerProcess, token: string): Promise<RealtimeClient> {
  const client = await connectRealtime(node.url, { token });
  clients.push(client);
  await client.waitFor((frame) => frame.type === 'ready', 5000);
  return client;
}

describe('account deletion across two processes on one Redis', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let apiA: ApiClient;
  let apiB: ApiClient;

  beforeAll(async () => {
    // No PUBLIC_URL: nodes started as the README says share the deployment's stored issuer.
    [a, b] = await Promise.all([startServerProcess(ENV), startServerProcess(ENV)]);
    nodes.push(a, b);
    apiA = createApiClient(a.url);
    apiB = createApiClient(b.url);
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await Promise.all(nodes.map((node) => node.stop('SIGTERM')));
    const redis = createTestRedis();
    try {
      await deleteKeysWithPrefix(redis, keyPrefix);
    } finally {
      await redis.quit();
    }
  }, 30_000);

  it("refuses a deleted user's token on the other node at once and closes their sockets on both", async () => {
    const user = await registerUser(apiA);
    const friend = await registerUser(apiA);
    const group = await createGroup(apiA, user.token, [friend.id], 'Across nodes');
    // Node B verifies (and caches) the token before the deletion; the user is online on both nodes.
    expect((await apiB.get('/v1/users/me', user.token)).status).toBe(200);
    const [onA, onB] = await Promise.all([online(a, user.token), online(b, user.token)]);
    const friendOnB = await online(b, friend.token);

    expect((await apiA.delete('/v1/users/me', user.token)).status).toBe(204);

    expectProblem(await apiB.get('/v1/users/me', user.token), 401, 'invalid_token', 'node B, cached before');
    expectProblem(await apiA.get('/v1/users/me', user.token), 401, 'invalid_token', 'node A');
    expectProblem(await apiB.post('/v1/auth/refresh', { refreshToken: user.refreshToken }), 401, 'invalid_refresh_token');
    expect(await onA.closed).toEqual({ code: 4001, reason: 'account deleted' });
    expect(await onB.closed).toEqual({ code: 4001, reason: 'account deleted' });
    // A new connection with the token is refused too.
    const retry = await connectRealtime(b.url, { token: user.token }).then(
      async (client) => {
        clients.push(client);
        return (await client.closed).code;
      },
      () => 401,
    );
    expect([401, 4001]).toContain(retry);

    // The friend, on the other node, hears that the user left and now owns the group.
    const removed = await friendOnB.waitFor((frame) => frame.type === 'member.removed' && frame.conversationId === group.id, 5000);
    expect(removed).toMatchObject({ userId: user.id });
    const shown = await apiB.get(`/v1/users/${user.id}`, friend.token);
    expect(shown.body).toMatchObject({ id: user.id, displayName: 'Deleted user', deleted: true });
  });

  it('deletes a tenant-upserted user by the tenant key on one node, refusing its cached token on the other', async () => {
    const tenant = await createTestTenant(apiA);
    const [member] = await tenant.users(['leaves']);
    expect((await apiB.get('/v1/users/me', member!.token)).status).toBe(200);
    const socket = await online(b, member!.token);
    expect((await apiA.delete('/v1/users/leaves', tenant.key)).status).toBe(204);
    expectProblem(await apiB.get('/v1/users/me', member!.token), 401, 'invalid_token');
    expect((await socket.closed).code).toBe(4001);
  });
});
