/**
 * Joining and leaving while connected, on both engines: a user added to a group hears that they
 * were added and then the group's next events (nothing from before); a user removed, or leaving,
 * hears the removal and nothing after it, whatever else happens in the group.
 */
import { describe, expect, it } from 'vitest';
import { createGroup, openDirect, sendMessage } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import { aboutConversation, durable, sendMarker, seqsOf, useRealtimeClients } from '../test-support/realtime-fixtures.js';
import { registerUser, useTestServer } from '../test-support/server.js';

describe.each(ENGINE_KINDS)('realtime membership changes (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });
  const { connect } = useRealtimeClients(() => ctx.url);

  /** alice owns a group with bob and some history; dave is a connected outsider with a direct line to alice. */
  async function setting() {
    const [alice, bob, dave] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const group = await createGroup(ctx.api, alice.token, [bob.id], 'Club');
    for (const text of ['before 1', 'before 2', 'before 3']) await sendMessage(ctx.api, alice.token, group.id, text);
    const direct = await openDirect(ctx.api, alice.token, dave.id);
    const [a, b, d] = await Promise.all([connect(alice), connect(bob), connect(dave)]);
    return { alice, bob, dave, id: group.id as string, direct: direct.id as string, a, b, d };
  }

  it('a user added to a group hears member.added, then the group’s next message, and nothing from before', async () => {
    const { alice, dave, id, a, b, d } = await setting();
    const d2 = await connect(dave);
    expect((await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [dave.id] }, alice.token)).status).toBe(200);
    for (const client of [d, d2]) {
      expect(await client.waitFor((f) => f.type === 'member.added')).toEqual({
        type: 'member.added',
        cursor: expect.any(String),
        conversationId: id,
        userId: dave.id,
        role: 'member',
      });
    }
    const next = await sendMessage(ctx.api, alice.token, id, 'welcome dave');
    for (const client of [d, d2]) {
      const frame = await client.waitFor((f) => f.type === 'message.created' && f.message.conversationId === id);
      expect(frame.message).toEqual(next);
      // Exactly: the addition once, then the next message; none of the history before joining.
      expect(durable(client.frames).filter((f) => aboutConversation(f, id)).map((f) => f.type)).toEqual(['member.added', 'message.created']);
    }
    // The other members heard the addition too, once.
    for (const client of [a, b]) {
      await client.waitFor((f) => f.type === 'message.created' && f.message.id === next.id);
      expect(client.frames.filter((f) => f.type === 'member.added' && f.userId === dave.id)).toHaveLength(1);
    }
    // The new member is followed for every kind of event, typing included.
    await ctx.api.patch(`/v1/conversations/${id}`, { title: 'Club with Dave' }, alice.token);
    expect(await d.waitFor((f) => f.type === 'conversation.updated')).toMatchObject({ conversation: { id, title: 'Club with Dave' } });
    b.send({ type: 'typing', conversationId: id });
    expect(await d.waitFor((f) => f.type === 'typing')).toEqual({ type: 'typing', conversationId: id, userId: expect.any(String) });
    // And dave may type there now.
    d.send({ type: 'typing', conversationId: id });
    expect(await a.waitFor((f) => f.type === 'typing' && f.userId === dave.id)).toEqual({ type: 'typing', conversationId: id, userId: dave.id });
  });

  it('messages sent right after the addition (before the new member could follow) all arrive, in order, once', async () => {
    const { alice, bob, dave, id, d } = await setting();
    const adding = ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [dave.id] }, alice.token);
    const added = await adding;
    expect(added.status).toBe(200);
    // No wait for member.added: these race the new member's catch-up.
    const sent = await Promise.all(Array.from({ length: 10 }, (_, i) => sendMessage(ctx.api, i % 2 ? alice.token : bob.token, id, `right after ${i}`)));
    await d.waitForCount((f) => f.type === 'message.created' && f.message.conversationId === id, 10);
    await sendMarker(ctx.api, alice.token, id, [d]);
    expect(seqsOf(d.frames, id)).toEqual([...sent.map((m) => m.seq).sort((x, y) => x - y), 14]);
    const events = durable(d.frames).filter((f) => aboutConversation(f, id));
    expect(events[0]).toMatchObject({ type: 'member.added', userId: dave.id });
    expect(events.filter((f) => f.type === 'member.added')).toHaveLength(1);
  });

  it('a removed user hears member.removed and nothing of the group after it', async () => {
    const { alice, bob, dave, id, direct, a, b, d } = await setting();
    await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [dave.id] }, alice.token);
    await d.waitFor((f) => f.type === 'member.added');
    const last = await sendMessage(ctx.api, bob.token, id, 'while dave is here');
    await d.waitFor((f) => f.type === 'message.created' && f.message.id === last.id);

    expect((await ctx.api.delete(`/v1/conversations/${id}/members/${dave.id}`, alice.token)).status).toBe(204);
    expect(await d.waitFor((f) => f.type === 'member.removed')).toEqual({
      type: 'member.removed',
      cursor: expect.any(String),
      conversationId: id,
      userId: dave.id,
      role: 'member',
    });

    // Life goes on in the group...
    const after = [];
    for (const text of ['after 1', 'after 2', 'after 3']) after.push(await sendMessage(ctx.api, alice.token, id, text));
    await ctx.api.patch(`/v1/conversations/${id}/messages/${after[0].id}`, { text: 'after 1, edited' }, alice.token);
    await ctx.api.put(`/v1/conversations/${id}/messages/${after[1].id}/reactions/${encodeURIComponent('👍')}`, undefined, bob.token);
    await ctx.api.post(`/v1/conversations/${id}/read`, { seq: after[2].seq }, bob.token);
    await ctx.api.patch(`/v1/conversations/${id}`, { title: 'Without Dave' }, alice.token);
    b.send({ type: 'typing', conversationId: id });
    await a.waitFor((f) => f.type === 'typing' && f.userId === bob.id);
    await a.waitFor((f) => f.type === 'conversation.updated');

    // ...and a marker elsewhere shows dave heard none of it.
    await sendMarker(ctx.api, alice.token, direct, [d]);
    const removedAt = d.frames.findIndex((f) => f.type === 'member.removed');
    expect(d.frames.slice(removedAt + 1).filter((f) => aboutConversation(f, id))).toEqual([]);
    expect(d.frames.filter((f) => f.type === 'member.removed')).toHaveLength(1);
    // Dave may not type there any more.
    d.send({ type: 'typing', conversationId: id });
    expect(await d.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'conversation_not_found' });
  });

  it('a user who leaves hears member.removed (on every connection) and nothing after it; the others hear the departure', async () => {
    const { alice, bob, id, direct, a, b } = await setting();
    const b2 = await connect(bob);
    const bobDirect = await openDirect(ctx.api, alice.token, bob.id);
    expect((await ctx.api.delete(`/v1/conversations/${id}/members/${bob.id}`, bob.token)).status).toBe(204);
    const departure = { type: 'member.removed', cursor: expect.any(String), conversationId: id, userId: bob.id, role: 'member' };
    for (const client of [a, b, b2]) expect(await client.waitFor((f) => f.type === 'member.removed')).toEqual(departure);

    for (const text of ['gone 1', 'gone 2']) await sendMessage(ctx.api, alice.token, id, text);
    await ctx.api.patch(`/v1/conversations/${id}`, { title: 'Alone' }, alice.token);
    await a.waitFor((f) => f.type === 'conversation.updated');
    await sendMarker(ctx.api, alice.token, bobDirect.id, [b, b2]);
    for (const client of [b, b2]) {
      const removedAt = client.frames.findIndex((f) => f.type === 'member.removed');
      expect(client.frames.slice(removedAt + 1).filter((f) => aboutConversation(f, id))).toEqual([]);
      expect(client.frames.filter((f) => f.type === 'member.removed')).toHaveLength(1);
    }
    expect(direct).toEqual(expect.any(String));
  });

  it('removed and added again: hears the removal, nothing in between, then the addition and what follows', async () => {
    const { alice, dave, id, direct, d } = await setting();
    await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [dave.id] }, alice.token);
    await d.waitFor((f) => f.type === 'member.added');
    await ctx.api.delete(`/v1/conversations/${id}/members/${dave.id}`, alice.token);
    await d.waitFor((f) => f.type === 'member.removed');
    await sendMessage(ctx.api, alice.token, id, 'not for dave');
    await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [dave.id] }, alice.token);
    await d.waitForCount((f) => f.type === 'member.added', 2);
    const back = await sendMessage(ctx.api, alice.token, id, 'dave is back');
    await d.waitFor((f) => f.type === 'message.created' && f.message.id === back.id);
    await sendMarker(ctx.api, alice.token, direct, [d]);
    const events = durable(d.frames).filter((f) => aboutConversation(f, id));
    expect(events.map((f) => (f.type === 'message.created' ? `message:${f.message.text}` : f.type))).toEqual([
      'member.added',
      'member.removed',
      'member.added',
      'message:dave is back',
    ]);
  });

  it('a member added with others at once: each added user hears their own addition through their inbox exactly once', async () => {
    const { alice, id } = await setting();
    const [e1, e2] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const [c1, c2] = await Promise.all([connect(e1), connect(e2)]);
    await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [e1.id, e2.id] }, alice.token);
    const next = await sendMessage(ctx.api, alice.token, id, 'hello both');
    for (const [client, user] of [
      [c1, e1],
      [c2, e2],
    ] as const) {
      await client.waitFor((f) => f.type === 'message.created' && f.message.id === next.id);
      expect(client.frames.filter((f) => f.type === 'member.added' && f.userId === user.id)).toHaveLength(1);
    }
    // Each is followed from their own addition on: e1 (added first) hears e2 join, once; e2 does not hear e1.
    expect(c1.frames.filter((f) => f.type === 'member.added' && f.userId === e2.id)).toHaveLength(1);
    expect(c2.frames.filter((f) => f.type === 'member.added' && f.userId === e1.id)).toHaveLength(0);
  });
});
