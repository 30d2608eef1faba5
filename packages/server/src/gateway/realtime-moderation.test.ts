/**
 * Moderation and blocks over realtime, on both engines: a muted user's typing (and a blocked
 * user's, in the direct conversation of the blocker) reaches nobody and answers an error frame
 * (`muted` / `blocked`), as REST refuses their sends; a ban is heard as member.removed by the
 * banned user (and the others), who hears nothing of the group after it; a blocker's presence
 * does not reach the blocked user through their direct conversation.
 */
import { describe, expect, it } from 'vitest';
import { createGroup, openDirect, sendMessage, setRole } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import type { RealtimeClient } from '../test-support/realtime-client.js';
import { aboutConversation, sendMarker, useRealtimeClients } from '../test-support/realtime-fixtures.js';
import { registerUser, useTestServer } from '../test-support/server.js';

describe.each(ENGINE_KINDS)('moderation over realtime (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });
  const { connect } = useRealtimeClients(() => ctx.url);

  const typingOf = (client: RealtimeClient, userId: string) => client.frames.filter((f) => f.type === 'typing' && f.userId === userId);

  async function group() {
    const [owner, admin, member] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const id = (await createGroup(ctx.api, owner.token, [admin.id, member.id], 'Room')).id as string;
    await setRole(ctx.api, owner.token, id, admin.id, 'admin');
    return { owner, admin, member, id };
  }

  it('drops a muted user’s typing with a `muted` error frame; after the mute is lifted it flows again', async () => {
    const { owner, admin, member, id } = await group();
    const [o, m] = await Promise.all([connect(owner), connect(member)]);
    expect((await ctx.api.request('PUT', `/v1/conversations/${id}/mutes/${member.id}`, { token: admin.token })).status).toBe(204);

    m.send({ type: 'typing', conversationId: id });
    expect(await m.waitFor((f) => f.type === 'error')).toMatchObject({ type: 'error', code: 'muted' });
    // Reading goes on: the muted user still hears the group.
    await sendMarker(ctx.api, owner.token, id, [o, m]);
    expect(typingOf(o, member.id)).toEqual([]);

    expect((await ctx.api.delete(`/v1/conversations/${id}/mutes/${member.id}`, admin.token)).status).toBe(204);
    m.send({ type: 'typing', conversationId: id });
    expect(await o.waitFor((f) => f.type === 'typing' && f.userId === member.id)).toEqual({ type: 'typing', conversationId: id, userId: member.id });
  });

  it('a banned user hears member.removed and nothing of the group after it; the others hear the removal', async () => {
    const { owner, admin, member, id } = await group();
    const elsewhere = (await openDirect(ctx.api, owner.token, member.id)).id as string;
    const [o, m] = await Promise.all([connect(owner), connect(member)]);
    expect((await ctx.api.request('PUT', `/v1/conversations/${id}/bans/${member.id}`, { token: admin.token })).status).toBe(204);

    const removed = { type: 'member.removed', cursor: expect.any(String), conversationId: id, userId: member.id, role: 'member' };
    expect(await m.waitFor((f) => f.type === 'member.removed')).toEqual(removed);
    expect(await o.waitFor((f) => f.type === 'member.removed')).toEqual(removed);

    await sendMessage(ctx.api, owner.token, id, 'after the ban');
    await sendMarker(ctx.api, owner.token, elsewhere, [m]);
    const removedAt = m.frames.findIndex((f) => f.type === 'member.removed');
    expect(m.frames.slice(removedAt + 1).filter((f) => aboutConversation(f, id))).toEqual([]);
    m.send({ type: 'typing', conversationId: id });
    expect(await m.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'conversation_not_found' });
  });

  it('drops a blocked user’s typing in the blocker’s direct conversation with a `blocked` error frame', async () => {
    const [blocker, blocked] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const direct = (await openDirect(ctx.api, blocked.token, blocker.id)).id as string;
    const [x, y] = await Promise.all([connect(blocker), connect(blocked)]);
    expect((await ctx.api.request('PUT', `/v1/users/me/blocks/${blocked.id}`, { token: blocker.token })).status).toBe(204);

    y.send({ type: 'typing', conversationId: direct });
    expect(await y.waitFor((f) => f.type === 'error')).toMatchObject({ type: 'error', code: 'blocked' });
    await sendMarker(ctx.api, blocker.token, direct, [x, y]);
    expect(typingOf(x, blocked.id)).toEqual([]);
    // One direction only: the blocker's typing still reaches the blocked user.
    x.send({ type: 'typing', conversationId: direct });
    await y.waitFor((f) => f.type === 'typing' && f.userId === blocker.id);
  });

  it('does not carry a blocker’s presence to the blocked user through their direct conversation', async () => {
    const [blocker, blocked, friend] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const direct = (await openDirect(ctx.api, blocked.token, blocker.id)).id as string;
    await openDirect(ctx.api, friend.token, blocker.id);
    expect((await ctx.api.request('PUT', `/v1/users/me/blocks/${blocked.id}`, { token: blocker.token })).status).toBe(204);
    const [y, f] = await Promise.all([connect(blocked), connect(friend)]);

    const x = await connect(blocker);
    // The friend hears the blocker come online; by then the blocked user would have heard it too.
    await f.waitFor((frame) => frame.type === 'presence' && frame.userId === blocker.id && frame.status === 'online');
    await sendMarker(ctx.api, blocker.token, direct, [y]);
    expect(y.frames.filter((frame) => frame.type === 'presence' && frame.userId === blocker.id)).toEqual([]);

    await x.close();
    await f.waitFor((frame) => frame.type === 'presence' && frame.userId === blocker.id && frame.status === 'offline');
    await sendMarker(ctx.api, blocker.token, direct, [y]);
    expect(y.frames.filter((frame) => frame.type === 'presence' && frame.userId === blocker.id)).toEqual([]);
  });
});
