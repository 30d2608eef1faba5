/**
 * A node process whose Redis stalls (SIGSTOP: connections stay open, nothing answers, every
 * command times out after 3 s — as in a failover or a partition). Whatever clients do meanwhile
 * (typing frames, new WebSocket and SSE connections, REST calls) and whatever the node's timers
 * do (presence heartbeats, protocol pings), the process stays up, answers 503, and serves again
 * once Redis is back. Needs the build (`npm test` runs it first).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from './test-support/api-client.js';
import { expectProblem } from './test-support/conversations.js';
import { connectRealtime, type RealtimeClient } from './test-support/realtime-client.js';
import { startLocalRedis, type LocalRedis } from './test-support/redis.js';
import { startServerProcess, type ServerProcess } from './test-support/server-process.js';

const PASSWORD = 'correct horse battery';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a node process while its Redis is stalled', () => {
  let redis: LocalRedis;
  let node: ServerProcess;

  beforeAll(async () => {
    redis = await startLocalRedis();
    // Short presence and ping intervals so that the node's timers fire many times during the stall;
    // presence lapses (and the node closes its sockets) only after the typing frames are answered.
    node = await startServerProcess({
      REDIS_URL: redis.url,
      PRESENCE_INTERVAL_MS: '300',
      PRESENCE_TTL_MS: '5000',
      REALTIME_HEARTBEAT_MS: '500',
    });
  }, 30_000);
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await redis?.resume().catch(() => undefined);
    await redis?.stop();
  });

  it('survives client frames, connections, REST calls and its own timers, then recovers', async () => {
    const api = createApiClient(node.url);
    const register = async (username: string) => {
      const response = await api.post('/v1/auth/register', { username, password: PASSWORD });
      expect(response.status).toBe(201);
      return { id: response.body.user.id as string, token: response.body.accessToken as string };
    };
    const alice = await register('alice');
    const bob = await register('bob');
    const group = await api.post('/v1/conversations', { type: 'group', title: 'stall', members: [bob.id] }, alice.token);
    expect(group.status).toBe(201);
    const conversationId = group.body.id as string;
    const clients: RealtimeClient[] = [];
    for (const token of [alice.token, alice.token, bob.token]) {
      const client = await connectRealtime(node.url, { token });
      await client.waitFor((frame) => frame.type === 'ready');
      clients.push(client);
    }

    await redis.pause();
    try {
      // Typing frames need a membership read and a publish: both time out.
      for (let i = 0; i < 3; i++) clients[0]!.send({ type: 'typing', conversationId });
      clients[0]!.send({ type: 'ping' });
      // A new connection of each transport while nothing answers.
      const opening = connectRealtime(node.url, { token: bob.token }).then(
        (client) => (clients.push(client), client.closed),
        (error: unknown) => error,
      );
      const sse = fetch(`${node.url}/v1/events?access_token=${bob.token}`, { signal: AbortSignal.timeout(8000) }).then(
        async (response) => (response.status === 200 ? await response.text().catch(() => 'aborted') : response.status),
        (error: unknown) => error,
      );
      const [list, ready] = await Promise.all([api.get('/v1/conversations', alice.token), fetch(`${node.url}/health/ready`)]);
      expectProblem(list, 503, 'storage_unavailable');
      expect(ready.status).toBe(503);
      // The typing frames get their answer once the commands time out (3 s); the heartbeats of
      // presence and of the sockets fire meanwhile.
      const refused = await clients[0]!.waitFor((frame) => frame.type === 'error', 8000);
      expect(refused.code).toBe('storage_unavailable');
      await Promise.all([opening, sse]);
      // Presence heartbeats kept failing: the node tells its clients to reconnect, and lives on.
      expect((await clients[2]!.closed).code).toBe(1012);
      expect(node.child.exitCode).toBeNull();
      expect((await fetch(`${node.url}/health/live`)).status).toBe(200);
    } finally {
      await redis.resume();
    }

    // Back: readiness, REST and realtime work again on the same process.
    const deadline = Date.now() + 15_000;
    while ((await fetch(`${node.url}/health/ready`)).status !== 200) {
      expect(Date.now()).toBeLessThan(deadline);
      await sleep(200);
    }
    expect((await api.get('/v1/conversations', alice.token)).status).toBe(200);
    const [typer, watcher] = await Promise.all([connectRealtime(node.url, { token: alice.token }), connectRealtime(node.url, { token: bob.token })]);
    clients.push(typer, watcher);
    await Promise.all([typer, watcher].map((client) => client.waitFor((frame) => frame.type === 'ready')));
    typer.send({ type: 'typing', conversationId });
    expect(await watcher.waitFor((frame) => frame.type === 'typing')).toMatchObject({ conversationId, userId: alice.id });
    expect(node.child.exitCode).toBeNull();
    await Promise.all(clients.map((client) => client.close()));
  }, 60_000);
});
