/**
 * Live delivery over real WebSockets, on both engines: every durable event type reaches every
 * member (the actor's own other connections included) in its documented shape with a cursor;
 * message events of a conversation arrive in seq order; typing reaches the others only and has
 * no cursor; ping answers pong; and nobody outside a conversation ever hears any of it.
 */
import { describe, expect, it } from 'vitest';
import { createGroup, createTestTenant, openDirect, sendMessage } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import type { Frame, RealtimeClient } from '../test-support/realtime-client.js';
import { aboutConversation, durable, sendMarker, seqsOf, useRealtimeClients } from '../test-support/realtime-fixtures.js';
import { registerUser, useTestServer } from '../test-support/server.js';

const DURABLE_TYPES = new Set([
  'message.created',
  'message.updated',
  'message.deleted',
  'reaction.added',
  'reaction.removed',
  'conversation.created',
  'conversation.updated',
  'member.added',
  'member.removed',
  'member.updated',
  'read',
]);

/** Every durable frame has a cursor; no other frame (ready aside) has one. */
function expectCursorsOnDurableOnly(frames: readonly Frame[]) {
  for (const frame of frames) {
    if (DURABLE_TYPES.has(frame.type)) expect(frame.cursor, `${frame.type} has a cursor`).toEqual(expect.any(String));
    else if (frame.type !== 'ready') expect(frame, `${frame.type} has no cursor`).not.toHaveProperty('cursor');
  }
}

describe.each(ENGINE_KINDS)('realtime delivery (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });
  const { connect } = useRealtimeClients(() => ctx.url);

  /** alice (two connections), bob and carol in a group alice created. */
  async function groupOfThree() {
    const [alice, bob, carol] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const group = await createGroup(ctx.api, alice.token, [bob.id, carol.id], 'Three');
    const [a1, a2, b, c] = await Promise.all([connect(alice), connect(alice), connect(bob), connect(carol)]);
    return { alice, bob, carol, group, id: group.id as string, a1, a2, b, c, all: [a1, a2, b, c] };
  }

  /** Waits for the one frame matching on each client and returns them; fails if any client got it twice. */
  async function eachGetsOnce(clients: RealtimeClient[], predicate: (frame: Frame) => boolean): Promise<Frame[]> {
    const frames = await Promise.all(clients.map((client) => client.waitFor(predicate)));
    for (const client of clients) expect(client.frames.filter(predicate)).toHaveLength(1);
    return frames;
  }

  it('message.created reaches every member, the sender’s two connections included, as the REST message with a cursor', async () => {
    const { alice, id, all } = await groupOfThree();
    const sent = await sendMessage(ctx.api, alice.token, id, 'hello everyone');
    const frames = await eachGetsOnce(all, (f) => f.type === 'message.created' && f.message.id === sent.id);
    for (const frame of frames) {
      expect(frame).toEqual({ type: 'message.created', cursor: expect.any(String), message: sent });
      expect(Object.keys(frame).sort()).toEqual(['cursor', 'message', 'type']);
    }
  });

  it('message.updated, reaction.added, reaction.removed and message.deleted reach every member in their shapes', async () => {
    const { alice, bob, id, all } = await groupOfThree();
    const sent = await sendMessage(ctx.api, alice.token, id, 'first draft');

    const edited = await ctx.api.patch(`/v1/conversations/${id}/messages/${sent.id}`, { text: 'final text' }, alice.token);
    expect(edited.status).toBe(200);
    for (const frame of await eachGetsOnce(all, (f) => f.type === 'message.updated')) {
      expect(frame).toEqual({ type: 'message.updated', cursor: expect.any(String), message: edited.body });
      expect(frame.message).toMatchObject({ id: sent.id, conversationId: id, seq: sent.seq, text: 'final text', editedAt: expect.any(String) });
    }

    const emoji = '👍';
    expect((await ctx.api.put(`/v1/conversations/${id}/messages/${sent.id}/reactions/${encodeURIComponent(emoji)}`, undefined, bob.token)).status).toBe(204);
    for (const frame of await eachGetsOnce(all, (f) => f.type === 'reaction.added')) {
      expect(frame).toEqual({ type: 'reaction.added', cursor: expect.any(String), conversationId: id, messageId: sent.id, emoji, userId: bob.id });
    }
    expect((await ctx.api.delete(`/v1/conversations/${id}/messages/${sent.id}/reactions/${encodeURIComponent(emoji)}`, bob.token)).status).toBe(204);
    for (const frame of await eachGetsOnce(all, (f) => f.type === 'reaction.removed')) {
      expect(frame).toEqual({ type: 'reaction.removed', cursor: expect.any(String), conversationId: id, messageId: sent.id, emoji, userId: bob.id });
    }

    expect((await ctx.api.delete(`/v1/conversations/${id}/messages/${sent.id}`, alice.token)).status).toBe(204);
    for (const frame of await eachGetsOnce(all, (f) => f.type === 'message.deleted')) {
      expect(frame).toMatchObject({ type: 'message.deleted', cursor: expect.any(String) });
      expect(frame.message).toMatchObject({ id: sent.id, conversationId: id, seq: sent.seq, text: null, deletedAt: expect.any(String) });
    }

    // Each client saw them in the order they happened, each with a distinct cursor.
    for (const client of all) {
      const events = durable(client.frames).filter((f) => aboutConversation(f, id));
      expect(events.map((f) => f.type)).toEqual(['message.created', 'message.updated', 'reaction.added', 'reaction.removed', 'message.deleted']);
      expect(new Set(events.map((f) => f.cursor)).size).toBe(events.length);
      expectCursorsOnDurableOnly(client.frames);
    }
  });

  it('a reaction that changes nothing (added twice, removed when absent) is not an event', async () => {
    const { alice, bob, id, all } = await groupOfThree();
    const sent = await sendMessage(ctx.api, alice.token, id, 'react to me');
    const path = `/v1/conversations/${id}/messages/${sent.id}/reactions/${encodeURIComponent('🎉')}`;
    expect((await ctx.api.put(path, undefined, bob.token)).status).toBe(204);
    expect((await ctx.api.put(path, undefined, bob.token)).status).toBe(204);
    expect((await ctx.api.delete(`/v1/conversations/${id}/messages/${sent.id}/reactions/${encodeURIComponent('🙂')}`, bob.token)).status).toBe(204);
    await sendMarker(ctx.api, alice.token, id, all);
    for (const client of all) {
      expect(client.frames.filter((f) => f.type === 'reaction.added')).toHaveLength(1);
      expect(client.frames.filter((f) => f.type === 'reaction.removed')).toHaveLength(0);
    }
  });

  it('conversation.updated and read reach every member, the actor’s other connection included', async () => {
    const { alice, bob, id, all } = await groupOfThree();
    const renamed = await ctx.api.patch(`/v1/conversations/${id}`, { title: 'Renamed' }, alice.token);
    expect(renamed.status).toBe(200);
    for (const frame of await eachGetsOnce(all, (f) => f.type === 'conversation.updated')) {
      expect(frame).toEqual({ type: 'conversation.updated', cursor: expect.any(String), conversation: renamed.body });
      expect(frame.conversation).toMatchObject({ id, type: 'group', title: 'Renamed' });
    }

    await sendMessage(ctx.api, alice.token, id, 'one');
    await sendMessage(ctx.api, alice.token, id, 'two');
    expect((await ctx.api.post(`/v1/conversations/${id}/read`, { seq: 2 }, bob.token)).status).toBe(204);
    for (const frame of await eachGetsOnce(all, (f) => f.type === 'read' && f.userId === bob.id)) {
      expect(frame).toEqual({ type: 'read', cursor: expect.any(String), conversationId: id, userId: bob.id, seq: 2 });
    }
    // Reading again to the same place moves nothing and tells nobody.
    expect((await ctx.api.post(`/v1/conversations/${id}/read`, { seq: 1 }, bob.token)).status).toBe(204);
    await sendMarker(ctx.api, alice.token, id, all);
    for (const client of all) expect(client.frames.filter((f) => f.type === 'read' && f.userId === bob.id)).toHaveLength(1);
  });

  it('member.added and member.removed reach the members (and the member concerned) in their shape', async () => {
    const { alice, id, all } = await groupOfThree();
    const dave = await registerUser(ctx.api);
    const d = await connect(dave);
    expect((await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [dave.id] }, alice.token)).status).toBe(200);
    const added = { type: 'member.added', cursor: expect.any(String), conversationId: id, userId: dave.id, role: 'member' };
    for (const frame of await eachGetsOnce([...all, d], (f) => f.type === 'member.added')) expect(frame).toEqual(added);

    expect((await ctx.api.delete(`/v1/conversations/${id}/members/${dave.id}`, alice.token)).status).toBe(204);
    const removed = { type: 'member.removed', cursor: expect.any(String), conversationId: id, userId: dave.id, role: 'member' };
    for (const frame of await eachGetsOnce([...all, d], (f) => f.type === 'member.removed')) expect(frame).toEqual(removed);
  });

  it('conversation.created reaches every member of a new group and a new direct conversation (all their connections)', async () => {
    const [alice, bob, carol, outsider] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const [a1, a2, b, c, o] = await Promise.all([connect(alice), connect(alice), connect(bob), connect(carol), connect(outsider)]);

    const created = await ctx.api.post('/v1/conversations', { type: 'group', title: 'Fresh', members: [bob.id, carol.id] }, alice.token);
    expect(created.status).toBe(201);
    const group = created.body;
    for (const frame of await eachGetsOnce([a1, a2, b, c], (f) => f.type === 'conversation.created' && f.conversation.id === group.id)) {
      expect(Object.keys(frame).sort()).toEqual(['conversation', 'cursor', 'type']);
      expect(frame.cursor).toEqual(expect.any(String));
      expect(frame.conversation).toEqual(group);
    }

    const direct = await openDirect(ctx.api, bob.token, carol.id);
    for (const frame of await eachGetsOnce([b, c], (f) => f.type === 'conversation.created' && f.conversation.id === direct.id)) {
      expect(frame.conversation).toMatchObject({ id: direct.id, type: 'direct' });
      expect(frame.conversation.members.map((m: any) => m.userId).sort()).toEqual([bob.id, carol.id].sort());
    }
    // Opening the existing direct conversation again creates nothing and tells nobody.
    await openDirect(ctx.api, carol.token, bob.id);

    // The new conversations are followed at once: their first messages arrive.
    const inGroup = await sendMessage(ctx.api, carol.token, group.id, 'first in group');
    const inDirect = await sendMessage(ctx.api, carol.token, direct.id, 'first in direct');
    await eachGetsOnce([a1, a2, b, c], (f) => f.type === 'message.created' && f.message.id === inGroup.id);
    await eachGetsOnce([b, c], (f) => f.type === 'message.created' && f.message.id === inDirect.id);
    expect(b.frames.filter((f) => f.type === 'conversation.created' && f.conversation.id === direct.id)).toHaveLength(1);

    // The outsider heard none of it (their own conversation's marker came through).
    const mine = await openDirect(ctx.api, outsider.token, alice.id);
    await o.waitFor((f) => f.type === 'conversation.created' && f.conversation.id === mine.id);
    await sendMarker(ctx.api, alice.token, mine.id, [o]);
    expect(o.frames.filter((f) => aboutConversation(f, group.id) || aboutConversation(f, direct.id))).toEqual([]);
  });

  it('message events of one conversation arrive in seq order on every connection, even when sent concurrently', async () => {
    const { alice, bob, carol, id, all } = await groupOfThree();
    const senders = [alice, bob, carol];
    const count = 45;
    const sent = await Promise.all(Array.from({ length: count }, (_, i) => sendMessage(ctx.api, senders[i % 3]!.token, id, `burst ${i}`)));
    expect(sent.map((m) => m.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    for (const client of all) {
      await client.waitForCount((f) => f.type === 'message.created', count);
      expect(seqsOf(client.frames, id)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    }
  });

  it('edits and deletes of several messages arrive in the order they were made, after the creations', async () => {
    const { alice, id, all } = await groupOfThree();
    const first = await sendMessage(ctx.api, alice.token, id, 'm1');
    const second = await sendMessage(ctx.api, alice.token, id, 'm2');
    await ctx.api.patch(`/v1/conversations/${id}/messages/${second.id}`, { text: 'm2 edited' }, alice.token);
    await ctx.api.patch(`/v1/conversations/${id}/messages/${first.id}`, { text: 'm1 edited' }, alice.token);
    await ctx.api.delete(`/v1/conversations/${id}/messages/${second.id}`, alice.token);
    await sendMarker(ctx.api, alice.token, id, all);
    for (const client of all) {
      const events = durable(client.frames)
        .filter((f) => f.type.startsWith('message.') && [first.id, second.id].includes(f.message.id))
        .map((f) => `${f.type}:${f.message.seq}`);
      expect(events).toEqual(['message.created:1', 'message.created:2', 'message.updated:2', 'message.updated:1', 'message.deleted:2']);
    }
  });

  it('typing reaches the other members, not the typist (on any of their connections), and carries no cursor', async () => {
    const { alice, bob, carol, id, a1, a2, b, c } = await groupOfThree();
    a1.send({ type: 'typing', conversationId: id });
    const expected = { type: 'typing', conversationId: id, userId: alice.id };
    expect(await b.waitFor((f) => f.type === 'typing')).toEqual(expected);
    expect(await c.waitFor((f) => f.type === 'typing')).toEqual(expected);

    b.send({ type: 'typing', conversationId: id });
    expect(await a2.waitFor((f) => f.type === 'typing')).toEqual({ type: 'typing', conversationId: id, userId: bob.id });
    expect(await a1.waitFor((f) => f.type === 'typing')).toEqual({ type: 'typing', conversationId: id, userId: bob.id });
    await c.waitForCount((f) => f.type === 'typing', 2);

    // Typing is not stored: carol's message after it is the conversation's first durable event
    // for her, and the typists never heard themselves.
    await sendMarker(ctx.api, carol.token, id, [a1, a2, b, c]);
    expect(a1.frames.filter((f) => f.type === 'typing' && f.userId === alice.id)).toEqual([]);
    expect(a2.frames.filter((f) => f.type === 'typing' && f.userId === alice.id)).toEqual([]);
    expect(b.frames.filter((f) => f.type === 'typing' && f.userId === bob.id)).toEqual([]);
    for (const client of [a1, a2, b, c]) {
      expect(client.frames.filter((f) => f.type === 'typing').length).toBeLessThanOrEqual(2);
      expectCursorsOnDurableOnly(client.frames);
    }
  });

  it('typing in a conversation one is not in reaches nobody and answers an error frame', async () => {
    const { carol, id, b } = await groupOfThree();
    const eve = await registerUser(ctx.api);
    const e = await connect(eve);
    e.send({ type: 'typing', conversationId: id });
    const error = await e.waitFor((f) => f.type === 'error');
    expect(error).toMatchObject({ type: 'error', code: 'conversation_not_found' });
    expect(error).not.toHaveProperty('cursor');
    // The connection stays usable.
    e.send({ type: 'ping' });
    await e.waitFor((f) => f.type === 'pong');
    // A member's typing, sent after eve's was refused, reaches bob; eve's never does.
    const c2 = await connect(carol);
    c2.send({ type: 'typing', conversationId: id });
    await b.waitFor((f) => f.type === 'typing' && f.userId === carol.id);
    expect(b.frames.filter((f) => f.type === 'typing' && f.userId !== carol.id)).toEqual([]);
  });

  it('ping answers pong (and only pong), on each connection separately', async () => {
    const { a1, a2 } = await groupOfThree();
    a1.send({ type: 'ping' });
    expect(await a1.waitFor((f) => f.type === 'pong')).toEqual({ type: 'pong' });
    a1.send({ type: 'ping' });
    await a1.waitForCount((f) => f.type === 'pong', 2);
    a2.send({ type: 'ping' });
    await a2.waitFor((f) => f.type === 'pong');
    expect(a2.frames.filter((f) => f.type === 'pong')).toHaveLength(1);
  });

  it('a non-member of the same tenant and a user of another tenant never receive any event of the conversation', async () => {
    const { alice, bob, carol, id, all, b } = await groupOfThree();
    const eve = await registerUser(ctx.api);
    const eveDirect = await openDirect(ctx.api, eve.token, carol.id);
    const tenant = await createTestTenant(ctx.api);
    const [mallory, trent] = await tenant.users(['mallory', 'trent']);
    const malloryDirect = await openDirect(ctx.api, mallory!.token, trent!.id);
    const [e, m] = await Promise.all([connect(eve), connect(mallory!)]);

    // Every kind of event of the group, and typing.
    const sent = await sendMessage(ctx.api, alice.token, id, 'secret');
    await ctx.api.patch(`/v1/conversations/${id}/messages/${sent.id}`, { text: 'secret, edited' }, alice.token);
    await ctx.api.put(`/v1/conversations/${id}/messages/${sent.id}/reactions/${encodeURIComponent('🔥')}`, undefined, bob.token);
    await ctx.api.delete(`/v1/conversations/${id}/messages/${sent.id}/reactions/${encodeURIComponent('🔥')}`, bob.token);
    await ctx.api.post(`/v1/conversations/${id}/read`, { seq: 1 }, carol.token);
    await ctx.api.patch(`/v1/conversations/${id}`, { title: 'Still secret' }, alice.token);
    const dave = await registerUser(ctx.api);
    await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [dave.id] }, alice.token);
    await ctx.api.delete(`/v1/conversations/${id}/members/${dave.id}`, alice.token);
    await ctx.api.delete(`/v1/conversations/${id}/messages/${sent.id}`, alice.token);
    b.send({ type: 'typing', conversationId: id });
    const group2 = await createGroup(ctx.api, alice.token, [bob.id], 'Another secret');
    await sendMessage(ctx.api, bob.token, group2.id, 'also secret');
    // The members got all of it, so it was all published.
    await Promise.all(all.map((client) => client.waitFor((f) => f.type === 'message.deleted')));
    await Promise.all(all.filter((client) => client !== b).map((client) => client.waitFor((f) => f.type === 'typing')));

    // Markers in conversations they are in, published after everything above.
    await sendMarker(ctx.api, carol.token, eveDirect.id, [e]);
    await sendMarker(ctx.api, trent!.token, malloryDirect.id, [m]);
    for (const client of [e, m]) {
      const foreign = client.frames.filter((f) => aboutConversation(f, id) || aboutConversation(f, group2.id) || f.type === 'typing');
      expect(foreign).toEqual([]);
    }
    // Mallory heard nothing at all from the default tenant: only her ready and her own conversation.
    const otherTenantUsers = new Set([alice.id, bob.id, carol.id, dave.id, eve.id]);
    expect(m.frames.filter((f) => otherTenantUsers.has(f.userId) || otherTenantUsers.has(f.message?.senderId))).toEqual([]);
    expect(m.frames.every((f) => f.type === 'ready' || f.type === 'presence' || aboutConversation(f, malloryDirect.id))).toBe(true);
  });

  it('a user of another tenant cannot type into a conversation of the default tenant', async () => {
    const { carol, id, b } = await groupOfThree();
    const tenant = await createTestTenant(ctx.api);
    const [mallory] = await tenant.users(['mallory']);
    const m = await connect(mallory!);
    m.send({ type: 'typing', conversationId: id });
    expect(await m.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'conversation_not_found' });
    const c2 = await connect(carol);
    c2.send({ type: 'typing', conversationId: id });
    await b.waitFor((f) => f.type === 'typing' && f.userId === carol.id);
    expect(b.frames.filter((f) => f.type === 'typing' && f.userId !== carol.id)).toEqual([]);
  });
});
