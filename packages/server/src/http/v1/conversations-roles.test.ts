/**
 * Roles in conversations over HTTP, on both engines: who may rename a group, add and remove
 * members, change roles and leave; a group always keeps an owner (the last one leaving hands
 * ownership on); direct conversations keep
 * their two members. Every refusal is followed by a check that nothing changed.
 */
import { describe, expect, it } from 'vitest';
import {
  allMembers,
  conversationList,
  conversationOf,
  createGroup,
  expectProblem,
  ids,
  openDirect,
  setRole,
} from '../../test-support/conversations.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { registerUser, useTestServer, type TestUser } from '../../test-support/server.js';

describe.each(ENGINE_KINDS)('conversation roles over HTTP (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });

  /** A group of an owner, an admin and `members` plain members. */
  async function team(members: number) {
    const [owner, admin, ...rest] = await Promise.all(Array.from({ length: members + 2 }, () => registerUser(ctx.api)));
    const group = await createGroup(ctx.api, owner!.token, [admin!.id, ...rest.map((user) => user.id)], 'Team');
    await setRole(ctx.api, owner!.token, group.id, admin!.id, 'admin');
    return { owner: owner!, admin: admin!, members: rest, id: group.id as string };
  }

  const roles = async (token: string, id: string) =>
    Object.fromEntries((await allMembers(ctx.api, token, id)).map((member) => [member.userId, member.role]));

  it('lets owners and admins rename a group (200) and refuses members (403)', async () => {
    const { owner, admin, members, id } = await team(1);
    const byOwner = await ctx.api.patch(`/v1/conversations/${id}`, { title: ' Renamed ' }, owner.token);
    expect(byOwner.status).toBe(200);
    expect(byOwner.body).toMatchObject({ id, title: 'Renamed', memberCount: 3 });
    const byAdmin = await ctx.api.patch(`/v1/conversations/${id}`, { title: 'By admin' }, admin.token);
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.title).toBe('By admin');

    expectProblem(await ctx.api.patch(`/v1/conversations/${id}`, { title: 'By member' }, members[0]!.token), 403, 'forbidden');
    expectProblem(await ctx.api.patch(`/v1/conversations/${id}`, { title: '   ' }, owner.token), 400, 'validation_failed');
    expect((await conversationOf(ctx.api, members[0]!.token, id)).title).toBe('By admin');
  });

  it('lets owners and admins add members (200) and refuses members (403)', async () => {
    const { owner, admin, members, id } = await team(1);
    const [x, y, z] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const byOwner = await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [x.id] }, owner.token);
    expect(byOwner.status).toBe(200);
    expect(byOwner.body.memberCount).toBe(4);
    const byAdmin = await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [y.id] }, admin.token);
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.memberCount).toBe(5);
    expect((await roles(owner.token, id))[y.id]).toBe('member');

    const before = await allMembers(ctx.api, owner.token, id);
    expectProblem(await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [z.id] }, members[0]!.token), 403, 'forbidden');
    expect(await allMembers(ctx.api, owner.token, id)).toEqual(before);
    expect(await conversationList(ctx.api, z.token)).toEqual([]);
    expectProblem(await ctx.api.get(`/v1/conversations/${id}`, z.token), 404, 'conversation_not_found');
  });

  it('adding an existing member changes neither their role nor the count', async () => {
    const { owner, admin, id } = await team(1);
    const response = await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [admin.id, owner.id] }, owner.token);
    expect(response.status).toBe(200);
    expect(response.body.memberCount).toBe(3);
    expect(await roles(owner.token, id)).toMatchObject({ [owner.id]: 'owner', [admin.id]: 'admin' });
  });

  it('lets an admin remove a member (204); the removed member loses the conversation', async () => {
    const { owner, admin, members, id } = await team(1);
    const target = members[0]!;
    const removed = await ctx.api.delete(`/v1/conversations/${id}/members/${target.id}`, admin.token);
    expect(removed.status).toBe(204);
    expect(removed.text).toBe('');
    expectProblem(await ctx.api.get(`/v1/conversations/${id}`, target.token), 404, 'conversation_not_found');
    expectProblem(await ctx.api.post(`/v1/conversations/${id}/messages`, { text: 'still here?' }, target.token), 404, 'conversation_not_found');
    expect(await conversationList(ctx.api, target.token)).toEqual([]);
    const after = await conversationOf(ctx.api, owner.token, id);
    expect(after.memberCount).toBe(2);
    expect(after.members.map((member: any) => member.userId)).not.toContain(target.id);
    expectProblem(await ctx.api.delete(`/v1/conversations/${id}/members/${target.id}`, admin.token), 404, 'member_not_found');
  });

  it('refuses an admin removing an owner or another admin (403), and changes nothing', async () => {
    const { owner, admin, members, id } = await team(1);
    await setRole(ctx.api, owner.token, id, members[0]!.id, 'admin');
    const before = await allMembers(ctx.api, owner.token, id);
    expectProblem(await ctx.api.delete(`/v1/conversations/${id}/members/${owner.id}`, admin.token), 403, 'forbidden');
    expectProblem(await ctx.api.delete(`/v1/conversations/${id}/members/${members[0]!.id}`, admin.token), 403, 'forbidden');
    expect(await allMembers(ctx.api, owner.token, id)).toEqual(before);
    // The owner may remove an admin.
    expect((await ctx.api.delete(`/v1/conversations/${id}/members/${members[0]!.id}`, owner.token)).status).toBe(204);
    expect(Object.keys(await roles(owner.token, id))).not.toContain(members[0]!.id);
  });

  it('refuses a member removing others (403) but lets them leave (204)', async () => {
    const { owner, admin, members, id } = await team(2);
    const [leaver, other] = members as [TestUser, TestUser];
    const before = await allMembers(ctx.api, owner.token, id);
    for (const target of [other, admin, owner]) {
      expectProblem(await ctx.api.delete(`/v1/conversations/${id}/members/${target.id}`, leaver.token), 403, 'forbidden', target.id);
    }
    expect(await allMembers(ctx.api, owner.token, id)).toEqual(before);

    expect(ids(await conversationList(ctx.api, leaver.token))).toEqual([id]);
    expect((await ctx.api.delete(`/v1/conversations/${id}/members/${leaver.id}`, leaver.token)).status).toBe(204);
    expectProblem(await ctx.api.get(`/v1/conversations/${id}`, leaver.token), 404, 'conversation_not_found');
    expectProblem(await ctx.api.get(`/v1/conversations/${id}/messages`, leaver.token), 404, 'conversation_not_found');
    expect(await conversationList(ctx.api, leaver.token)).toEqual([]);
    expect((await conversationOf(ctx.api, owner.token, id)).memberCount).toBe(3);
    expect(ids(await conversationList(ctx.api, other.token))).toEqual([id]);
  });

  it('lets only owners change roles: admin → 403, owner → 200', async () => {
    const { owner, admin, members, id } = await team(1);
    const target = members[0]!;
    expectProblem(await ctx.api.patch(`/v1/conversations/${id}/members/${target.id}`, { role: 'admin' }, admin.token), 403, 'forbidden');
    expectProblem(await ctx.api.patch(`/v1/conversations/${id}/members/${admin.id}`, { role: 'owner' }, admin.token), 403, 'forbidden');
    expectProblem(await ctx.api.patch(`/v1/conversations/${id}/members/${target.id}`, { role: 'owner' }, target.token), 403, 'forbidden');
    expect(await roles(owner.token, id)).toEqual({ [owner.id]: 'owner', [admin.id]: 'admin', [target.id]: 'member' });

    const changed = await ctx.api.patch(`/v1/conversations/${id}/members/${target.id}`, { role: 'admin' }, owner.token);
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ userId: target.id, role: 'admin', lastReadSeq: 0 });
    expect((await roles(owner.token, id))[target.id]).toBe('admin');

    expectProblem(await ctx.api.patch(`/v1/conversations/${id}/members/${target.id}`, { role: 'king' }, owner.token), 400, 'validation_failed');
    const stranger = await registerUser(ctx.api);
    expectProblem(await ctx.api.patch(`/v1/conversations/${id}/members/${stranger.id}`, { role: 'admin' }, owner.token), 404, 'member_not_found');
    expect((await roles(owner.token, id))[target.id]).toBe('admin');
  });

  it('keeps an owner: the only owner cannot step down, and leaving hands ownership to the longest-standing admin', async () => {
    const { owner, admin, members, id } = await team(1);
    for (const role of ['admin', 'member']) {
      expectProblem(await ctx.api.patch(`/v1/conversations/${id}/members/${owner.id}`, { role }, owner.token), 403, 'forbidden', role);
    }
    expect((await roles(owner.token, id))[owner.id]).toBe('owner');

    expect((await ctx.api.delete(`/v1/conversations/${id}/members/${owner.id}`, owner.token)).status).toBe(204);
    expect(await conversationList(ctx.api, owner.token)).toEqual([]);
    expect(await roles(admin.token, id)).toEqual({ [admin.id]: 'owner', [members[0]!.id]: 'member' });

    // Without an admin, the longest-standing member takes over; the tenant-key path is the same step.
    expect((await ctx.api.delete(`/v1/conversations/${id}/members/${admin.id}`, admin.token)).status).toBe(204);
    expect(await roles(members[0]!.token, id)).toEqual({ [members[0]!.id]: 'owner' });
  });

  // The owner count is read and changed in the engine's atomic removal: both go, one successor.
  it('hands ownership on exactly once when the last two owners leave at once', async () => {
    for (let round = 0; round < 10; round += 1) {
      const { owner, admin, members, id } = await team(1);
      await setRole(ctx.api, owner.token, id, admin.id, 'owner');
      const statuses = await Promise.all(
        [owner, admin].map(async (user) => (await ctx.api.delete(`/v1/conversations/${id}/members/${user.id}`, user.token)).status),
      );
      expect(statuses, `round ${round}`).toEqual([204, 204]);
      expect(await roles(members[0]!.token, id), `round ${round}`).toEqual({ [members[0]!.id]: 'owner' });
    }
  });

  it('keeps a direct conversation’s two members: adding, changing roles and removing → 403', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const direct = await openDirect(ctx.api, alice.token, bob.id);
    const before = await allMembers(ctx.api, alice.token, direct.id);
    const base = `/v1/conversations/${direct.id}`;
    expectProblem(await ctx.api.post(`${base}/members`, { userIds: [carol.id] }, alice.token), 403, 'forbidden', 'add');
    expectProblem(await ctx.api.patch(`${base}/members/${bob.id}`, { role: 'owner' }, alice.token), 403, 'forbidden', 'role of other');
    expectProblem(await ctx.api.patch(`${base}/members/${alice.id}`, { role: 'admin' }, alice.token), 403, 'forbidden', 'own role');
    expectProblem(await ctx.api.delete(`${base}/members/${bob.id}`, alice.token), 403, 'forbidden', 'remove other');
    expectProblem(await ctx.api.delete(`${base}/members/${alice.id}`, alice.token), 403, 'forbidden', 'leave');
    expectProblem(await ctx.api.patch(base, { title: 'Us' }, alice.token), 403, 'forbidden', 'title');
    expect(await allMembers(ctx.api, alice.token, direct.id)).toEqual(before);
    expect((await conversationOf(ctx.api, bob.token, direct.id)).title).toBeNull();
    expect(await conversationList(ctx.api, carol.token)).toEqual([]);
  });
});
