/**
 * Caps on realtime connections, on both engines: REALTIME_MAX_CONNECTIONS_PER_USER (the user's
 * oldest connection on the node is closed with 4009, the new one lives; counted across nodes)
 * and the REALTIME_ORIGINS allow-list of WebSocket and SSE (403 problem before any socket or
 * stream exists; requests without an Origin pass).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, expectProblem } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import { connectRealtime, type RealtimeClient } from '../test-support/realtime-client.js';
import { attemptRefusedUpgrade, connectReady, connectSse, sendMarker } from '../test-support/realtime-fixtures.js';
import { registerUser, startTestServer, type TestServer } from '../test-support/server.js';

const ALLOWED = 'https://app.example';

describe.each(ENGINE_KINDS)('realtime caps (%s engine)', (kind) => {
  let nodeA: TestServer;
  let nodeB: TestServer;
  const open: RealtimeClient[] = [];

  beforeAll(async () => {
    const env = { REALTIME_MAX_CONNECTIONS_PER_USER: '2', REALTIME_ORIGINS: `${ALLOWED},https://admin.example` };
    nodeA = await startTestServer({ kind, env });
    // A second node on the same storage, as behind a load balancer.
    nodeB = await startTestServer({ engine: nodeA.engine, env });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await nodeB?.stop();
    await nodeA?.stop();
  });

  const connect = async (url: string, user: { id: string; token: string }) => {
    const client = await connectReady(url, user.token, user.id);
    open.push(client);
    return client;
  };

  it('closes the oldest connection of the user with 4009 when a new one passes the limit; the others keep receiving', async () => {
    const [alice, bob] = await Promise.all([registerUser(nodeA.api), registerUser(nodeA.api)]);
    const group = await createGroup(nodeA.api, alice.token, [bob.id]);
    const first = await connect(nodeA.url, alice);
    const second = await connect(nodeA.url, alice);
    const bobs = await Promise.all([connect(nodeA.url, bob), connect(nodeA.url, bob)]);
    const third = await connect(nodeA.url, alice);
    expect(await first.closed).toEqual({ code: 4009, reason: expect.stringContaining('too many connections') });
    await sendMarker(nodeA.api, bob.token, group.id, [second, third, ...bobs]);
    expect(second.socket.readyState).toBe(second.socket.OPEN);
  });

  it('counts connections across nodes: a node closes its own oldest, never the new one', async () => {
    const alice = await registerUser(nodeA.api);
    const onA = [await connect(nodeA.url, alice), await connect(nodeA.url, alice)];
    // Node B holds none of the user's other connections: the new one is let in (one over, per node).
    const firstOnB = await connect(nodeB.url, alice);
    const secondOnB = await connect(nodeB.url, alice);
    expect((await firstOnB.closed).code).toBe(4009);
    // A reconnect on A (as a phone whose old sockets are half-dead): A closes as many of its own
    // as the user is over the limit, oldest first, and the user is back at the limit.
    const again = await connect(nodeA.url, alice);
    expect((await onA[0]!.closed).code).toBe(4009);
    expect((await onA[1]!.closed).code).toBe(4009);
    await sendMarker(nodeA.api, alice.token, (await createGroup(nodeA.api, alice.token, [])).id, [secondOnB, again]);
  });

  it('refuses a WebSocket upgrade from an origin not listed with 403, before any socket exists', async () => {
    const alice = await registerUser(nodeA.api);
    const refused = await attemptRefusedUpgrade(nodeA.url, { headers: { origin: 'https://evil.example', authorization: `Bearer ${alice.token}` } });
    expect(refused).toMatchObject({ status: 403, opened: false, body: { code: 'forbidden', status: 403 } });
    expect(refused.headers['content-type']).toBe('application/problem+json');
    // Listed origins and requests without an Origin (native apps) connect.
    const listed = await connectRealtime(nodeA.url, { token: alice.token, headers: { origin: ALLOWED } });
    open.push(listed);
    expect((await listed.waitFor(() => true)).type).toBe('ready');
    await connect(nodeA.url, alice);
  });

  it('refuses an SSE stream from an origin not listed with a 403 problem, and serves listed ones', async () => {
    const alice = await registerUser(nodeA.api);
    // A sandboxed page or a file sends the origin `null`: not listed either.
    for (const origin of ['https://evil.example', 'null']) {
      const refused = await nodeA.api.request('GET', '/v1/events', { token: alice.token, headers: { origin, accept: 'text/event-stream' } });
      expectProblem(refused, 403, 'forbidden', origin);
    }
    const listed = await connectSse(nodeA.url, { token: alice.token, headers: { origin: 'https://admin.example' } });
    try {
      expect(listed.response.status).toBe(200);
      expect((await listed.waitFor((event) => event.data?.type === 'ready')).data.userId).toBe(alice.id);
    } finally {
      await listed.close();
    }
  });
});
