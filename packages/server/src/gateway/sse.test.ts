/**
 * GET /v1/events — the realtime stream as Server-Sent Events, on both engines: token in the
 * Authorization header or `access_token`; durable events carry their cursor as the SSE id;
 * reconnecting with Last-Event-ID (or ?cursor=) replays what was missed; a bad token is a 401
 * problem document; shutdown ends the stream with a close event.
 */
import { describe, expect, it } from 'vitest';
import { createGroup, createTestTenant, openDirect, sendMessage } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import { connectRealtime } from '../test-support/realtime-client.js';
import { connectSse, useClosingAfterEach, type SseClient, type SseEvent } from '../test-support/realtime-fixtures.js';
import { registerUser, startTestServer, useTestServer, type TestUser } from '../test-support/server.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqs = (events: readonly SseEvent[], conversationId: string) =>
  events.filter((e) => e.data.type === 'message.created' && e.data.message.conversationId === conversationId).map((e) => e.data.message.seq as number);

describe.each(ENGINE_KINDS)('Server-Sent Events (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });
  const clients = useClosingAfterEach<SseClient>();

  const stream = async (user: TestUser, options: Parameters<typeof connectSse>[1] = {}) => {
    const client = await connectSse(ctx.url, { token: user.token, ...options });
    clients.track(client);
    expect(client.response.status).toBe(200);
    expect(client.response.headers.get('content-type')).toContain('text/event-stream');
    const ready = await client.waitFor(() => true);
    expect(ready).toEqual({ data: { type: 'ready', userId: user.id, cursor: expect.any(String) } });
    return client;
  };

  it('streams durable events as data frames whose id is their cursor (Authorization header)', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    const client = await stream(bob);
    const sent = await sendMessage(ctx.api, alice.token, id, 'over SSE');
    const event = await client.waitFor((e) => e.data.type === 'message.created');
    expect(event).toEqual({ id: expect.any(String), data: { type: 'message.created', cursor: event.id, message: sent } });
    await ctx.api.patch(`/v1/conversations/${id}/messages/${sent.id}`, { text: 'edited over SSE' }, alice.token);
    const updated = await client.waitFor((e) => e.data.type === 'message.updated');
    expect(updated.id).toBe(updated.data.cursor);
    expect(updated.id).not.toBe(event.id);
  });

  it('accepts the token as access_token', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    const client = await stream(bob, { tokenInQuery: true });
    const sent = await sendMessage(ctx.api, alice.token, id, 'query token');
    expect((await client.waitFor((e) => e.data.type === 'message.created')).data.message).toEqual(sent);
  });

  it('ephemeral events (typing, presence) come without an id', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    const client = await stream(bob);
    const alicesStream = await stream(alice);
    const presence = await client.waitFor((e) => e.data.type === 'presence');
    expect(presence).toEqual({ data: { type: 'presence', userId: alice.id, status: 'online', lastSeenAt: null } });
    // The SSE stream is receive-only: alice types from a WebSocket connection.
    const ws = await connectRealtime(ctx.url, { token: alice.token });
    await ws.waitFor((f) => f.type === 'ready');
    ws.send({ type: 'typing', conversationId: id });
    expect(await client.waitFor((e) => e.data.type === 'typing')).toEqual({ data: { type: 'typing', conversationId: id, userId: alice.id } });
    await ws.close();
    expect(alicesStream.events.filter((e) => e.data.type === 'typing')).toEqual([]);
  });

  it('reconnecting with Last-Event-ID replays exactly what was missed, then live events', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    const group = (await createGroup(ctx.api, alice.token, [bob.id], 'SSE group')).id as string;
    const first = await stream(bob);
    await sendMessage(ctx.api, alice.token, id, 'seen 1');
    await sendMessage(ctx.api, alice.token, id, 'seen 2');
    await first.waitForCount((e) => e.data.type === 'message.created', 2);
    const lastEventId = first.lastEventId()!;
    expect(lastEventId).toEqual(expect.any(String));
    await first.close();

    for (let i = 0; i < 6; i++) await sendMessage(ctx.api, alice.token, i % 2 ? group : id, `missed ${i}`);
    const resumed = await stream(bob, { lastEventId });
    await resumed.waitForCount((e) => e.data.type === 'message.created', 6);
    const live = await sendMessage(ctx.api, alice.token, id, 'live');
    await resumed.waitFor((e) => e.data.type === 'message.created' && e.data.message.id === live.id);
    expect(seqs(resumed.events, id)).toEqual(range(3, 6));
    expect(seqs(resumed.events, group)).toEqual(range(1, 3));
    expect(resumed.events.some((e) => e.data.type === 'resync.required')).toBe(false);
    for (const event of resumed.events.filter((e) => e.data.type === 'message.created')) expect(event.id).toBe(event.data.cursor);
  });

  it('?cursor= resumes as well', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    const first = await stream(bob);
    const cursor = first.events[0]!.data.cursor as string;
    await first.close();
    for (let i = 0; i < 3; i++) await sendMessage(ctx.api, alice.token, id, `missed ${i}`);
    const resumed = await stream(bob, { cursor });
    await resumed.waitForCount((e) => e.data.type === 'message.created', 3);
    expect(seqs(resumed.events, id)).toEqual([1, 2, 3]);
  });

  it('a Last-Event-ID that is not a cursor: ready, resync.required, then live events', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    await sendMessage(ctx.api, alice.token, id, 'before');
    const resumed = await stream(bob, { lastEventId: 'not-a-cursor' });
    expect(await resumed.waitFor((e) => e.data.type === 'resync.required')).toEqual({ data: { type: 'resync.required' } });
    const live = await sendMessage(ctx.api, alice.token, id, 'after');
    await resumed.waitFor((e) => e.data.type === 'message.created');
    expect(resumed.events.map((e) => e.data.type)).toEqual(['ready', 'resync.required', 'message.created']);
    expect(resumed.events[2]!.data.message).toEqual(live);
  });

  it.each([
    ['no token', undefined, 'unauthorized'],
    ['a bad token', 'not-a-token', 'invalid_token'],
  ])('%s → 401 problem+json, no stream', async (_label, token, code) => {
    for (const tokenInQuery of [false, true]) {
      const client = await connectSse(ctx.url, { ...(token ? { token } : {}), tokenInQuery });
      expect(client.response.status).toBe(401);
      expect(client.response.headers.get('content-type')).toContain('application/problem+json');
      const body = await client.response.json();
      expect(body).toMatchObject({ status: 401, code });
      await client.ended;
      expect(client.events).toEqual([]);
    }
  });

  it('a tenant API key gets no stream of events (401, or a close event before any ready)', async () => {
    const tenant = await createTestTenant(ctx.api);
    const client = await connectSse(ctx.url, { token: tenant.key });
    clients.track(client);
    if (client.response.status === 401) return;
    expect(client.response.status).toBe(200);
    await client.ended;
    expect(client.events).toEqual([{ event: 'close', data: { code: 4001, reason: expect.any(String) } }]);
  });

  it('shutdown ends the stream with a close event (1012)', async () => {
    const doomed = await startTestServer({ kind });
    try {
      const bob = await registerUser(doomed.api);
      const client = await connectSse(doomed.url, { token: bob.token });
      await client.waitFor((e) => e.data.type === 'ready');
      await doomed.parley.shutdown();
      await client.ended;
      expect(client.events.at(-1)).toEqual({ event: 'close', data: { code: 1012, reason: expect.any(String) } });
    } finally {
      await doomed.stop();
    }
  });
});
