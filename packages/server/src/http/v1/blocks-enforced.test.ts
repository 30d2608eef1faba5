/**
 * Regression tests of two security-review findings, on both engines:
 *   - a block used to stop only direct sends: the blocked user still edited, reacted, read the
 *     blocker's presence and put the blocker into groups of their making;
 *   - anyone in a tenant read anyone's presence.
 */
import { describe, expect, it } from 'vitest';
import {
  conversationList,
  createGroup,
  createTestTenant,
  expectProblem,
  historyOf,
  openDirect,
  sendMessage,
} from '../../test-support/conversations.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { registerUser, useTestServer, type TestUser } from '../../test-support/server.js';

describe.each(ENGINE_KINDS)('blocks and presence visibility (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });

  const block = async (blocker: TestUser, blocked: TestUser) =>
    expect((await ctx.api.request('PUT', `/v1/users/me/blocks/${blocked.id}`, { token: blocker.token })).status).toBe(204);
  const presence = (viewer: { token: string }, userId: string) => ctx.api.get(`/v1/users/${userId}/presence`, viewer.token);

  describe('a block', () => {
    it('stops the blocked user editing and reacting in the direct conversation (403 blocked), nothing changed', async () => {
      const [blocker, blocked] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
      const direct = await openDirect(ctx.api, blocked.token, blocker.id);
      const mine = await sendMessage(ctx.api, blocked.token, direct.id, 'before');
      const theirs = await sendMessage(ctx.api, blocker.token, direct.id, 'hello');
      await block(blocker, blocked);

      const base = `/v1/conversations/${direct.id}/messages`;
      expectProblem(await ctx.api.patch(`${base}/${mine.id}`, { text: 'sneaky edit' }, blocked.token), 403, 'blocked', 'edit');
      expectProblem(await ctx.api.request('PUT', `${base}/${theirs.id}/reactions/${encodeURIComponent('👎')}`, { token: blocked.token }), 403, 'blocked', 'react');
      expectProblem(await ctx.api.post(base, { text: 'send' }, blocked.token), 403, 'blocked', 'send');
      const history = await historyOf(ctx.api, blocker.token, direct.id);
      expect(history.map((message) => [message.text, message.editedAt, message.reactions])).toEqual([
        ['before', null, {}],
        ['hello', null, {}],
      ]);
      // The blocker is not restricted, and the blocked user still reads.
      expect((await ctx.api.patch(`${base}/${theirs.id}`, { text: 'hello!' }, blocker.token)).status).toBe(200);
      expect((await historyOf(ctx.api, blocked.token, direct.id)).map((message) => message.text)).toEqual(['before', 'hello!']);
    });

    it('stops the blocked user creating a group with the blocker or adding the blocker to one (403 blocked)', async () => {
      const [blocker, blocked, friend] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
      await block(blocker, blocked);
      const created = await ctx.api.post('/v1/conversations', { type: 'group', title: 'Trap', members: [friend.id, blocker.id] }, blocked.token);
      expectProblem(created, 403, 'blocked', 'create');
      expect(await conversationList(ctx.api, blocker.token)).toEqual([]);
      expect(await conversationList(ctx.api, blocked.token)).toEqual([]);

      const group = await createGroup(ctx.api, blocked.token, [friend.id], 'Mine');
      expectProblem(await ctx.api.post(`/v1/conversations/${group.id}/members`, { userIds: [blocker.id] }, blocked.token), 403, 'blocked', 'add');
      expect(await conversationList(ctx.api, blocker.token)).toEqual([]);
      // Someone else may still bring both together: a block governs what the blocked user does.
      expect((await ctx.api.post(`/v1/conversations/${group.id}/members`, { userIds: [friend.id] }, blocked.token)).status).toBe(200);
    });
  });

  describe('presence', () => {
    it('is visible to users sharing a conversation, and to oneself; anyone else gets 404 like an unknown id', async () => {
      const [alice, bob, stranger] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
      expect((await presence(alice, alice.id)).status).toBe(200);
      expectProblem(await presence(stranger, alice.id), 404, 'user_not_found', 'stranger');
      expectProblem(await presence(stranger, 'no-such-user'), 404, 'user_not_found', 'unknown');

      const group = await createGroup(ctx.api, alice.token, [bob.id], 'Pair');
      expect((await presence(bob, alice.id)).body).toEqual({ status: 'offline', lastSeenAt: null });
      expect((await ctx.api.delete(`/v1/conversations/${group.id}/members/${bob.id}`, bob.token)).status).toBe(204);
      expectProblem(await presence(bob, alice.id), 404, 'user_not_found', 'after leaving');
    });

    it('is never visible to a user the target blocked, even with a conversation in common', async () => {
      const [blocker, blocked] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
      await openDirect(ctx.api, blocker.token, blocked.id);
      expect((await presence(blocked, blocker.id)).status).toBe(200);
      await block(blocker, blocked);
      expectProblem(await presence(blocked, blocker.id), 404, 'user_not_found');
      // One direction: the blocker still sees the blocked user.
      expect((await presence(blocker, blocked.id)).status).toBe(200);
    });

    it('is visible to the tenant key for any user of its tenant', async () => {
      const tenant = await createTestTenant(ctx.api);
      const [loner] = await tenant.users(['loner']);
      expect((await presence({ token: tenant.key }, loner!.id)).body).toEqual({ status: 'offline', lastSeenAt: null });
    });
  });
});
