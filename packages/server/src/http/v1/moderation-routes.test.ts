/**
 * Moderation over HTTP, on both engines: mutes (sends, edits and reactions refused with 403
 * muted, reading goes on), bans (removal, 403 banned on re-adding), who may do either, and the
 * tenant key. Every refusal is followed by a check that nothing changed.
 */
import { describe, expect, it } from 'vitest';
import {
  allMembers,
  conversationList,
  createGroup,
  createTestTenant,
  expectProblem,
  historyOf,
  ids,
  openDirect,
  sendMessage,
  setRole,
} from '../../test-support/conversations.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { registerUser, useTestServer } from '../../test-support/server.js';

describe.each(ENGINE_KINDS)('moderation over HTTP (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });

  /** A group of an owner, an admin and two plain members. */
  async function team() {
    const [owner, admin, member, other] = await Promise.all(Array.from({ length: 4 }, () => registerUser(ctx.api)));
    const group = await createGroup(ctx.api, owner!.token, [admin!.id, member!.id, other!.id], 'Team');
    await setRole(ctx.api, owner!.token, group.id, admin!.id, 'admin');
    return { owner: owner!, admin: admin!, member: member!, other: other!, id: group.id as string };
  }

  const mutePath = (id: string, userId: string) => `/v1/conversations/${id}/mutes/${encodeURIComponent(userId)}`;
  const banPath = (id: string, userId: string) => `/v1/conversations/${id}/bans/${encodeURIComponent(userId)}`;
  const roles = async (token: string, id: string) =>
    Object.fromEntries((await allMembers(ctx.api, token, id)).map((member) => [member.userId, member.role]));

  describe('mutes', () => {
    it('refuses a muted member’s sends, edits and reactions (403 muted) while reading goes on, until lifted', async () => {
      const { owner, member, other, id } = await team();
      const earlier = await sendMessage(ctx.api, member.token, id, 'before the mute');
      const byOwner = await ctx.api.request('PUT', mutePath(id, member.id), { token: owner.token });
      expect(byOwner.status).toBe(204);

      const base = `/v1/conversations/${id}/messages`;
      expectProblem(await ctx.api.post(base, { text: 'hello?' }, member.token), 403, 'muted', 'send');
      expectProblem(await ctx.api.patch(`${base}/${earlier.id}`, { text: 'edited' }, member.token), 403, 'muted', 'edit');
      expectProblem(await ctx.api.request('PUT', `${base}/${earlier.id}/reactions/${encodeURIComponent('👍')}`, { token: member.token }), 403, 'muted', 'react');
      const history = await historyOf(ctx.api, member.token, id);
      expect(history.map((message) => message.text)).toEqual(['before the mute']);
      await sendMessage(ctx.api, other.token, id, 'others go on');

      const listed = await ctx.api.get(`/v1/conversations/${id}/mutes`, owner.token);
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual({ items: [{ userId: member.id, until: null, createdAt: expect.any(String) }], nextCursor: null });

      expect((await ctx.api.delete(mutePath(id, member.id), owner.token)).status).toBe(204);
      expect((await ctx.api.delete(mutePath(id, member.id), owner.token)).status).toBe(204);
      await sendMessage(ctx.api, member.token, id, 'back');
      expect((await ctx.api.get(`/v1/conversations/${id}/mutes`, owner.token)).body.items).toEqual([]);
    });

    it('takes an RFC 3339 end in the future, refuses one in the past or malformed (400), and keeps the mute across leaving', async () => {
      const { owner, admin, member, id } = await team();
      const until = new Date(Date.now() + 3_600_000).toISOString();
      expect((await ctx.api.put(mutePath(id, member.id), { until }, admin.token)).status).toBe(204);
      const [listed] = (await ctx.api.get(`/v1/conversations/${id}/mutes`, admin.token)).body.items;
      expect(listed).toMatchObject({ userId: member.id, until });

      const past = new Date(Date.now() - 1000).toISOString();
      expectProblem(await ctx.api.put(mutePath(id, owner.id), { until }, owner.token), 403, 'forbidden', 'self');
      expectProblem(await ctx.api.put(mutePath(id, admin.id), { until: past }, owner.token), 400, 'validation_failed', 'past');
      expectProblem(await ctx.api.put(mutePath(id, admin.id), { until: 'tomorrow' }, owner.token), 400, 'validation_failed', 'malformed');
      expectProblem(await ctx.api.put(mutePath(id, admin.id), { until, role: 'owner' }, owner.token), 400, 'validation_failed', 'extra field');
      expect((await ctx.api.get(`/v1/conversations/${id}/mutes`, owner.token)).body.items).toHaveLength(1);

      expect((await ctx.api.delete(`/v1/conversations/${id}/members/${member.id}`, member.token)).status).toBe(204);
      expect((await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [member.id] }, owner.token)).status).toBe(200);
      expectProblem(await ctx.api.post(`/v1/conversations/${id}/messages`, { text: 'again' }, member.token), 403, 'muted');
    });

    it('ends a mute on its own at `until`', async () => {
      const { owner, member, id } = await team();
      const until = new Date(Date.now() + 1000).toISOString();
      expect((await ctx.api.put(mutePath(id, member.id), { until }, owner.token)).status).toBe(204);
      expectProblem(await ctx.api.post(`/v1/conversations/${id}/messages`, { text: 'too soon' }, member.token), 403, 'muted');
      await new Promise((resolve) => setTimeout(resolve, Date.parse(until) - Date.now() + 50));
      await sendMessage(ctx.api, member.token, id, 'free again');
      expect((await ctx.api.get(`/v1/conversations/${id}/mutes`, owner.token)).body.items).toEqual([]);
    });

    it('lets only an owner act on an owner, admins on members only, nobody on themselves', async () => {
      const { owner, admin, member, other, id } = await team();
      const stranger = await registerUser(ctx.api);
      expectProblem(await ctx.api.request('PUT', mutePath(id, owner.id), { token: admin.token }), 403, 'forbidden', 'admin → owner');
      await setRole(ctx.api, owner.token, id, other.id, 'admin');
      expectProblem(await ctx.api.request('PUT', mutePath(id, other.id), { token: admin.token }), 403, 'forbidden', 'admin → admin');
      expectProblem(await ctx.api.request('PUT', mutePath(id, admin.id), { token: admin.token }), 403, 'forbidden', 'admin → self');
      expectProblem(await ctx.api.request('PUT', mutePath(id, member.id), { token: member.token }), 403, 'forbidden', 'member → self');
      expectProblem(await ctx.api.request('PUT', mutePath(id, other.id), { token: member.token }), 403, 'forbidden', 'member → admin');
      expectProblem(await ctx.api.get(`/v1/conversations/${id}/mutes`, member.token), 403, 'forbidden', 'member lists');
      expectProblem(await ctx.api.request('PUT', mutePath(id, 'nobody-here'), { token: owner.token }), 404, 'user_not_found', 'unknown user');
      expectProblem(await ctx.api.request('PUT', mutePath(id, member.id), { token: stranger.token }), 404, 'conversation_not_found', 'outsider');
      expect((await ctx.api.get(`/v1/conversations/${id}/mutes`, owner.token)).body.items).toEqual([]);

      // An owner mutes another owner; an admin mutes a user who is not (yet) a member.
      await setRole(ctx.api, owner.token, id, other.id, 'owner');
      expect((await ctx.api.request('PUT', mutePath(id, other.id), { token: owner.token })).status).toBe(204);
      expect((await ctx.api.request('PUT', mutePath(id, stranger.id), { token: admin.token })).status).toBe(204);
      expect((await ctx.api.get(`/v1/conversations/${id}/mutes`, admin.token)).body.items.map((m: { userId: string }) => m.userId).sort()).toEqual(
        [other.id, stranger.id].sort(),
      );
    });

    it('has no mutes or bans in a direct conversation (403 forbidden: blocks serve there)', async () => {
      const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
      const direct = await openDirect(ctx.api, alice.token, bob.id);
      expectProblem(await ctx.api.request('PUT', mutePath(direct.id, bob.id), { token: alice.token }), 403, 'forbidden', 'mute');
      expectProblem(await ctx.api.request('PUT', banPath(direct.id, bob.id), { token: alice.token }), 403, 'forbidden', 'ban');
      expectProblem(await ctx.api.get(`/v1/conversations/${direct.id}/bans`, alice.token), 403, 'forbidden', 'list');
      await sendMessage(ctx.api, bob.token, direct.id, 'still here');
    });
  });

  describe('bans', () => {
    it('removes the member, refuses adding them again (403 banned, nothing added) until lifted', async () => {
      const { owner, admin, member, id } = await team();
      const newcomer = await registerUser(ctx.api);
      expect((await ctx.api.request('PUT', banPath(id, member.id), { token: admin.token })).status).toBe(204);
      expectProblem(await ctx.api.get(`/v1/conversations/${id}`, member.token), 404, 'conversation_not_found');
      expect(await conversationList(ctx.api, member.token)).toEqual([]);

      const before = await roles(owner.token, id);
      expectProblem(await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [newcomer.id, member.id] }, owner.token), 403, 'banned');
      expect(await roles(owner.token, id)).toEqual(before);
      expect(await conversationList(ctx.api, newcomer.token)).toEqual([]);

      const listed = await ctx.api.get(`/v1/conversations/${id}/bans`, owner.token);
      expect(listed.body).toEqual({ items: [{ userId: member.id, createdAt: expect.any(String) }], nextCursor: null });
      expect((await ctx.api.delete(banPath(id, member.id), owner.token)).status).toBe(204);
      expect((await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [member.id] }, owner.token)).status).toBe(200);
      expect(ids(await conversationList(ctx.api, member.token))).toEqual([id]);
    });

    it('bans a user of the tenant who is not a member ahead of time; an unknown user is 404', async () => {
      const { owner, id } = await team();
      const outsider = await registerUser(ctx.api);
      expect((await ctx.api.request('PUT', banPath(id, outsider.id), { token: owner.token })).status).toBe(204);
      expectProblem(await ctx.api.post(`/v1/conversations/${id}/members`, { userIds: [outsider.id] }, owner.token), 403, 'banned');
      expectProblem(await ctx.api.request('PUT', banPath(id, 'nobody-here'), { token: owner.token }), 404, 'user_not_found');
      expectProblem(await ctx.api.request('PUT', banPath(id, owner.id), { token: owner.token }), 403, 'forbidden', 'self');
    });

    it('lets the tenant key mute and ban an owner; banning the only owner hands ownership on', async () => {
      const tenant = await createTestTenant(ctx.api);
      const [owner, admin, member] = await tenant.users(['owner', 'admin', 'member']);
      const group = await createGroup(ctx.api, owner!.token, [member!.id, admin!.id], 'Tenant team');
      await setRole(ctx.api, owner!.token, group.id, admin!.id, 'admin');
      expect((await ctx.api.request('PUT', mutePath(group.id, owner!.id), { token: tenant.key })).status).toBe(204);
      expectProblem(await ctx.api.post(`/v1/conversations/${group.id}/messages`, { text: 'hi' }, owner!.token), 403, 'muted');
      expect((await ctx.api.get(`/v1/conversations/${group.id}/mutes`, tenant.key)).body.items).toHaveLength(1);

      expect((await ctx.api.request('PUT', banPath(group.id, owner!.id), { token: tenant.key })).status).toBe(204);
      expect(await roles(admin!.token, group.id)).toEqual({ [member!.id]: 'member', [admin!.id]: 'owner' });
      expect((await ctx.api.get(`/v1/conversations/${group.id}/bans`, tenant.key)).body.items.map((b: { userId: string }) => b.userId)).toEqual([owner!.id]);
    });
  });
});
