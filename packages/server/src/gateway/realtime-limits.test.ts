/**
 * Limits and lifecycle of realtime connections, on both engines: a client that stops reading is
 * cut off with 4008 (and resumes with its cursor) while others keep receiving; a token that
 * expires closes its socket with 4001; shutdown closes with 1012; frames the server does not
 * understand close with 4400; typing beyond the rate limit is dropped; a peer that stops
 * answering protocol pings is dropped.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createGroup, createTestTenant, openDirect, sendMessage } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import { connectRealtime, type RealtimeClient } from '../test-support/realtime-client.js';
import { attemptRealtime, connectReady, sendMarker, seqsOf, useRealtimeClients } from '../test-support/realtime-fixtures.js';
import { registerUser, startTestServer, useTestServer } from '../test-support/server.js';

/** The client's TCP socket: pausing it makes the client stop reading, as a stalled device does. */
const tcpOf = (client: RealtimeClient) => (client.socket as any)._socket as { pause(): void; resume(): void };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(ENGINE_KINDS)('realtime limits and lifecycle (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });
  const clients = useRealtimeClients(() => ctx.url);

  const connect = async (user: { id: string; token: string }, url = ctx.url, cursor?: string) => {
    const client = await connectReady(url, user.token, user.id, cursor ? { cursor } : {});
    clients.track(client);
    return client;
  };

  describe('frames the server does not understand close the connection with 4400', () => {
    it.each([
      ['not JSON', 'hello'],
      ['an unknown type', JSON.stringify({ type: 'dance' })],
      ['no type', JSON.stringify({ conversationId: 'x' })],
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
      ['typing without a conversationId', JSON.stringify({ type: 'typing' })],
      ['typing with a non-string conversationId', JSON.stringify({ type: 'typing', conversationId: 42 })],
    ])('%s', async (_label, text) => {
      const user = await registerUser(ctx.api);
      const client = await connect(user);
      client.socket.send(text);
      expect((await client.closed).code).toBe(4400);
      expect(client.frames.map((f) => f.type)).toEqual(['ready']);
    });

    it('a binary frame', async () => {
      const user = await registerUser(ctx.api);
      const client = await connect(user);
      client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
      expect((await client.closed).code).toBe(4400);
    });

    it('a frame far larger than any client frame closes the connection (1009), and the server carries on', async () => {
      const user = await registerUser(ctx.api);
      const client = await connect(user);
      client.send({ type: 'ping', padding: 'x'.repeat(64 * 1024) });
      expect((await client.closed).code).toBe(1009);
      expect(client.frames.map((f) => f.type)).toEqual(['ready']);
      const next = await connect(user);
      next.send({ type: 'ping' });
      await next.waitFor((f) => f.type === 'pong');
    });

    it('a text frame that is not UTF-8 closes the connection (1007), and the server carries on', async () => {
      const user = await registerUser(ctx.api);
      const client = await connect(user);
      client.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      expect((await client.closed).code).toBe(1007);
      const next = await connect(user);
      next.send({ type: 'ping' });
      await next.waitFor((f) => f.type === 'pong');
    });

    it('a frame sent before ready is answered once the connection is live', async () => {
      const user = await registerUser(ctx.api);
      const client = await connectRealtime(ctx.url, { token: user.token });
      clients.track(client);
      client.send({ type: 'ping' });
      await client.waitFor((f) => f.type === 'pong');
      expect(client.frames.map((f) => f.type)).toEqual(['ready', 'pong']);
    });
  });

  describe('a slow consumer', () => {
    const small = useTestServer({ kind, env: { REALTIME_MAX_BUFFERED_BYTES: '16384' } });

    it('is closed with 4008 while another member keeps receiving promptly, and resumes with its cursor', async () => {
      const [slow, fast, sender] = await Promise.all([registerUser(small.api), registerUser(small.api), registerUser(small.api)]);
      const { id } = await createGroup(small.api, sender.token, [slow.id, fast.id], 'Flood');
      const s = await connect(slow, small.url);
      const f = await connect(fast, small.url);
      const arrivals = new Map<number, number>();
      f.socket.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        if (frame.type === 'message.created') arrivals.set(frame.message.seq, Date.now());
      });

      tcpOf(s).pause();
      // 16 kB frames (4000 four-byte emoji): far more than kernel buffers and the 16 kB limit hold.
      const text = '😀'.repeat(4000);
      const total = 500;
      const sentAt = new Map<number, number>();
      for (let batch = 0; batch < total / 20; batch++) {
        const sent = await Promise.all(Array.from({ length: 20 }, () => sendMessage(small.api, sender.token, id, text)));
        for (const message of sent) sentAt.set(message.seq, Date.now());
      }
      await f.waitForCount((frame) => frame.type === 'message.created', total);
      expect(seqsOf(f.frames, id)).toEqual(range(1, total));
      // Promptly: no message reached the fast member more than 2 s after its send returned.
      const lags = [...sentAt].map(([seq, at]) => arrivals.get(seq)! - at);
      expect(Math.max(...lags)).toBeLessThan(2000);

      // The slow client reads again: what was sent before the cut, then 4008.
      tcpOf(s).resume();
      const closed = await s.closed;
      expect(closed.code).toBe(4008);
      const received = seqsOf(s.frames, id);
      expect(received.length).toBeLessThan(total);
      expect(received).toEqual(range(1, received.length));

      // Reconnecting with its cursor gets the rest, exactly once, the long replay paced by the
      // client's reading, and messages sent meanwhile after it.
      const during = (async () => {
        for (let i = 0; i < 20; i++) await sendMessage(small.api, sender.token, id, `during replay ${i}`);
      })();
      const resumed = await connect(slow, small.url, s.lastCursor());
      await during;
      await resumed.waitFor((frame) => frame.type === 'message.created' && frame.message.seq === total + 20);
      expect([...received, ...seqsOf(resumed.frames, id)]).toEqual(range(1, total + 20));
      expect(resumed.socket.readyState).toBe(WebSocket.OPEN);
      // The fast member was never cut off.
      const after = await sendMessage(small.api, sender.token, id, 'still there?');
      await f.waitFor((frame) => frame.type === 'message.created' && frame.message.id === after.id);
      expect(f.socket.readyState).toBe(WebSocket.OPEN);
    });
  });

  describe('with a server clock the test moves', () => {
    let offset = 0;
    const clocked = useTestServer({ kind, clock: () => Date.now() + offset });

    it('a token that expires closes its socket with 4001; a connection with a valid token stays', async () => {
      const tenant = await createTestTenant(clocked.api);
      await tenant.upsert(['expiring']);
      // Minted 57 s "ago" for 60 s: it expires about three seconds from now (room for a loaded
      // machine to connect before it does).
      offset = -57_000;
      const minted = await clocked.api.post('/v1/users/expiring/tokens', { expiresIn: 60 }, tenant.key);
      offset = 0;
      expect(minted.status).toBe(201);
      const longLived = await clocked.api.post('/v1/users/expiring/tokens', { expiresIn: 3600 }, tenant.key);

      const started = Date.now();
      const expiring = await connect({ id: 'expiring', token: minted.body.accessToken }, clocked.url);
      const lasting = await connect({ id: 'expiring', token: longLived.body.accessToken }, clocked.url);
      const closed = await expiring.closed;
      expect(closed.code).toBe(4001);
      expect(Date.now() - started).toBeLessThan(6000);
      expect(expiring.frames.map((f) => f.type)).toEqual(['ready']);

      lasting.send({ type: 'ping' });
      await lasting.waitFor((f) => f.type === 'pong');
      expect(lasting.socket.readyState).toBe(WebSocket.OPEN);
    });

    it('a token that expired before connecting never gets a ready (401 at the upgrade or 4001 first)', async () => {
      const tenant = await createTestTenant(clocked.api);
      await tenant.upsert(['late']);
      // Expired 5 s ago (within the verifier's clock tolerance) and 40 s ago (beyond it).
      for (const age of [5_000, 40_000]) {
        offset = -60_000 - age;
        const minted = await clocked.api.post('/v1/users/late/tokens', { expiresIn: 60 }, tenant.key);
        offset = 0;
        expect(minted.status).toBe(201);
        const attempt = await attemptRealtime(clocked.url, minted.body.accessToken);
        if (attempt.refusedStatus !== undefined) expect(attempt.refusedStatus, `expired ${age} ms ago`).toBe(401);
        else expect(attempt.closeCode, `expired ${age} ms ago`).toBe(4001);
        expect(attempt.frames, `expired ${age} ms ago`).toEqual([]);
      }
    });

    it('typing beyond the limit (10 per 10 s) is dropped; the next window allows it again', async () => {
      const [alice, bob] = await Promise.all([registerUser(clocked.api), registerUser(clocked.api)]);
      const { id } = await openDirect(clocked.api, alice.token, bob.id);
      const a = await connect(alice, clocked.url);
      const b = await connect(bob, clocked.url);
      for (let i = 0; i < 15; i++) a.send({ type: 'typing', conversationId: id });
      // The pong comes after the server read all 15 frames.
      a.send({ type: 'ping' });
      await a.waitFor((f) => f.type === 'pong');
      await b.waitForCount((f) => f.type === 'typing', 10);
      await sendMarker(clocked.api, alice.token, id, [b]);
      expect(b.frames.filter((f) => f.type === 'typing')).toHaveLength(10);
      expect(a.socket.readyState).toBe(WebSocket.OPEN);

      offset += 11_000;
      a.send({ type: 'typing', conversationId: id });
      await b.waitForCount((f) => f.type === 'typing', 11);
    });
  });

  it('a peer that stops answering protocol pings is dropped (and goes offline)', async () => {
    const quick = await startTestServer({ kind, env: { REALTIME_HEARTBEAT_MS: '200' } });
    try {
      const [alice, bob] = await Promise.all([registerUser(quick.api), registerUser(quick.api)]);
      await openDirect(quick.api, alice.token, bob.id);
      const b = await connectReady(quick.url, bob.token, bob.id);
      const a = await connectReady(quick.url, alice.token, alice.id);
      try {
        await b.waitFor((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'online');
        tcpOf(a).pause();
        expect(await b.waitFor((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'offline', 5000)).toMatchObject({
          lastSeenAt: expect.any(String),
        });
        // Bob, whose client answers pings by itself, was kept all along.
        expect(b.socket.readyState).toBe(WebSocket.OPEN);
        b.send({ type: 'ping' });
        await b.waitFor((f) => f.type === 'pong');
      } finally {
        tcpOf(a).resume();
        await Promise.all([a.close(), b.close()]);
      }
    } finally {
      await quick.stop();
    }
  });

  it('shutdown closes every socket with 1012 (service restart)', async () => {
    const doomed = await startTestServer({ kind });
    let stopped = false;
    try {
      const [alice, bob] = await Promise.all([registerUser(doomed.api), registerUser(doomed.api)]);
      const [a1, a2, b] = await Promise.all([
        connectReady(doomed.url, alice.token, alice.id),
        connectReady(doomed.url, alice.token, alice.id),
        connectReady(doomed.url, bob.token, bob.id),
      ]);
      await doomed.parley.shutdown();
      for (const client of [a1, a2, b]) expect((await client.closed).code).toBe(1012);
      await doomed.stop();
      stopped = true;
      await expect(connectRealtime(doomed.url, { token: alice.token })).rejects.toThrow();
    } finally {
      if (!stopped) await doomed.stop();
    }
  });
});
