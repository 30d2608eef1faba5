/**
 * Conversations over HTTP, on both engines: creating direct and group conversations, member
 * listings and limits, and the caller's conversation list (order, last message, unread counts,
 * read positions, paging). Every rejected write is followed by a check that nothing was stored.
 */
import { describe, expect, it } from 'vitest';
import {
  RFC3339_UTC,
  allMembers,
  conversationList,
  conversationOf,
  createGroup,
  createTestTenant,
  expectProblem,
  ids,
  openDirect,
  sendMessage,
  strictlyIncreasingClock,
} from '../../test-support/conversations.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { registerUser, useTestServer, type TestUser } from '../../test-support/server.js';

describe.each(ENGINE_KINDS)('conversations over HTTP (%s engine)', (kind) => {
  const ctx = useTestServer({ kind, clock: strictlyIncreasingClock() });

  const users = (count: number): Promise<TestUser[]> => Promise.all(Array.from({ length: count }, () => registerUser(ctx.api)));

  describe('direct conversations', () => {
    it('opens one conversation per pair: 201, then 200 with the same id from either side', async () => {
      const [alice, bob] = await users(2);
      const first = await ctx.api.post('/v1/conversations', { type: 'direct', members: [bob!.id] }, alice!.token);
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ type: 'direct', title: null, memberCount: 2, lastSeq: 0 });
      expect(first.body.id).toEqual(expect.any(String));
      expect(first.body.createdAt).toMatch(RFC3339_UTC);
      const byUser = Object.fromEntries(first.body.members.map((member: any) => [member.userId, member]));
      expect(Object.keys(byUser).sort()).toEqual([alice!.id, bob!.id].sort());
      for (const member of Object.values<any>(byUser)) {
        expect(member).toMatchObject({ role: 'member', lastReadSeq: 0 });
        expect(member.joinedAt).toMatch(RFC3339_UTC);
      }

      const again = await ctx.api.post('/v1/conversations', { type: 'direct', members: [bob!.id] }, alice!.token);
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(first.body.id);
      const reverse = await ctx.api.post('/v1/conversations', { type: 'direct', members: [alice!.id] }, bob!.token);
      expect(reverse.status).toBe(200);
      expect(reverse.body.id).toBe(first.body.id);

      expect(ids(await conversationList(ctx.api, alice!.token))).toEqual([first.body.id]);
      expect(ids(await conversationList(ctx.api, bob!.token))).toEqual([first.body.id]);
    });

    it('refuses oneself as the other member (400) and creates nothing', async () => {
      const [alice] = await users(1);
      const response = await ctx.api.post('/v1/conversations', { type: 'direct', members: [alice!.id] }, alice!.token);
      expectProblem(response, 400, 'validation_failed');
      expect(await conversationList(ctx.api, alice!.token)).toEqual([]);
    });

    it('answers an unknown user with 404 user_not_found and creates nothing', async () => {
      const [alice] = await users(1);
      const response = await ctx.api.post('/v1/conversations', { type: 'direct', members: ['01NOSUCHUSER0000000000000'] }, alice!.token);
      expectProblem(response, 404, 'user_not_found');
      expect(await conversationList(ctx.api, alice!.token)).toEqual([]);
    });

    it('refuses two other members, or none (400), and creates nothing', async () => {
      const [alice, bob, carol] = await users(3);
      expectProblem(await ctx.api.post('/v1/conversations', { type: 'direct', members: [bob!.id, carol!.id] }, alice!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.post('/v1/conversations', { type: 'direct', members: [] }, alice!.token), 400, 'validation_failed');
      for (const user of [alice!, bob!, carol!]) expect(await conversationList(ctx.api, user.token)).toEqual([]);
    });

    it('refuses a blocked user opening a direct conversation with the blocker (403 blocked), creating nothing', async () => {
      const [blocker, blocked] = await users(2);
      expect((await ctx.api.request('PUT', `/v1/users/me/blocks/${blocked!.id}`, { token: blocker!.token })).status).toBe(204);
      expectProblem(await ctx.api.post('/v1/conversations', { type: 'direct', members: [blocker!.id] }, blocked!.token), 403, 'blocked');
      expect(await conversationList(ctx.api, blocked!.token)).toEqual([]);
      expect(await conversationList(ctx.api, blocker!.token)).toEqual([]);
      expect((await ctx.api.request('DELETE', `/v1/users/me/blocks/${blocked!.id}`, { token: blocker!.token })).status).toBe(204);
      expect((await ctx.api.post('/v1/conversations', { type: 'direct', members: [blocker!.id] }, blocked!.token)).status).toBe(201);
    });

    it('refuses a title on a direct conversation (400) and creates nothing', async () => {
      const [alice, bob] = await users(2);
      const response = await ctx.api.post('/v1/conversations', { type: 'direct', title: 'Us', members: [bob!.id] }, alice!.token);
      expectProblem(response, 400, 'validation_failed');
      expect(await conversationList(ctx.api, alice!.token)).toEqual([]);
      expect(await conversationList(ctx.api, bob!.token)).toEqual([]);
    });
  });

  describe('group conversations', () => {
    it('creates a group (201): the creator is owner, the others members, the title trimmed', async () => {
      const [owner, bob, carol] = await users(3);
      // A repeated id and the creator named among the members count once.
      const response = await ctx.api.post(
        '/v1/conversations',
        { type: 'group', title: '  Team  ', members: [bob!.id, carol!.id, bob!.id, owner!.id] },
        owner!.token,
      );
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ type: 'group', title: 'Team', memberCount: 3, lastSeq: 0 });
      expect(response.body.createdAt).toMatch(RFC3339_UTC);
      expect(response.body.members.map((member: any) => [member.userId, member.role, member.lastReadSeq])).toEqual([
        [owner!.id, 'owner', 0],
        [bob!.id, 'member', 0],
        [carol!.id, 'member', 0],
      ]);
      for (const user of [owner!, bob!, carol!]) {
        expect(ids(await conversationList(ctx.api, user.token))).toEqual([response.body.id]);
        expect((await conversationOf(ctx.api, user.token, response.body.id)).memberCount).toBe(3);
      }
    });

    it('refuses a blank or missing title (400) and creates nothing', async () => {
      const [owner, bob] = await users(2);
      expectProblem(await ctx.api.post('/v1/conversations', { type: 'group', title: '   ', members: [bob!.id] }, owner!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.post('/v1/conversations', { type: 'group', members: [bob!.id] }, owner!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.post('/v1/conversations', { type: 'group', title: '', members: [bob!.id] }, owner!.token), 400, 'validation_failed');
      expect(await conversationList(ctx.api, owner!.token)).toEqual([]);
      expect(await conversationList(ctx.api, bob!.token)).toEqual([]);
    });

    it('answers an unknown member id with 404 user_not_found and creates nothing', async () => {
      const [owner, bob] = await users(2);
      const response = await ctx.api.post(
        '/v1/conversations',
        { type: 'group', title: 'Team', members: [bob!.id, 'no-such-user'] },
        owner!.token,
      );
      expectProblem(response, 404, 'user_not_found');
      expect(await conversationList(ctx.api, owner!.token)).toEqual([]);
      expect(await conversationList(ctx.api, bob!.token)).toEqual([]);
    });

    it('refuses more than 1,000 members in one request (400) and creates nothing', async () => {
      const [owner] = await users(1);
      const members = Array.from({ length: 1001 }, (_, i) => `user-${i}`);
      expectProblem(await ctx.api.post('/v1/conversations', { type: 'group', title: 'Crowd', members }, owner!.token), 400, 'validation_failed');
      expect(await conversationList(ctx.api, owner!.token)).toEqual([]);

      const group = await createGroup(ctx.api, owner!.token, []);
      expectProblem(await ctx.api.post(`/v1/conversations/${group.id}/members`, { userIds: members }, owner!.token), 400, 'validation_failed');
      expect((await conversationOf(ctx.api, owner!.token, group.id)).memberCount).toBe(1);
    });

    it('lists at most 100 members in the object and pages through all of them in join order', async () => {
      const tenant = await createTestTenant(ctx.api);
      const [owner] = await tenant.users(['owner']);
      const others = Array.from({ length: 150 }, (_, i) => `member-${String(i).padStart(3, '0')}`);
      await tenant.upsert(others);
      const created = await ctx.api.post('/v1/conversations', { type: 'group', title: 'Big', members: others }, owner!.token);
      expect(created.status).toBe(201);
      expect(created.body.memberCount).toBe(151);
      expect(created.body.members).toHaveLength(100);
      const everyone = [owner!.id, ...others];
      expect(created.body.members.map((member: any) => member.userId)).toEqual(everyone.slice(0, 100));
      expect((await conversationOf(ctx.api, owner!.token, created.body.id)).members).toHaveLength(100);

      const seen: string[] = [];
      const pageSizes: number[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `?limit=40&cursor=${encodeURIComponent(cursor)}` : '?limit=40';
        const page = await ctx.api.get(`/v1/conversations/${created.body.id}/members${query}`, owner!.token);
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((member: any) => member.userId));
        pageSizes.push(page.body.items.length);
        cursor = page.body.nextCursor;
      } while (cursor && pageSizes.length < 10);
      expect(pageSizes).toEqual([40, 40, 40, 31]);
      expect(seen).toEqual(everyone);
      expect(await allMembers(ctx.api, owner!.token, created.body.id)).toHaveLength(151);

      const path = `/v1/conversations/${created.body.id}/members`;
      expectProblem(await ctx.api.get(`${path}?limit=0`, owner!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.get(`${path}?limit=101`, owner!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.get(`${path}?limit=ten`, owner!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.get(`${path}?cursor=not-a-cursor!`, owner!.token), 400, 'invalid_cursor');
      expectProblem(await ctx.api.get(`${path}?cursor=${Buffer.from('{"x":1}').toString('base64url')}`, owner!.token), 400, 'invalid_cursor');
      // A cursor of another listing is refused, not misread.
      await createGroup(ctx.api, owner!.token, [others[0]!], 'Second');
      const listPage = await ctx.api.get('/v1/conversations?limit=1', owner!.token);
      expect(listPage.body.nextCursor).toEqual(expect.any(String));
      expectProblem(await ctx.api.get(`${path}?cursor=${encodeURIComponent(listPage.body.nextCursor)}`, owner!.token), 400, 'invalid_cursor');
    });

    it('adds members (200) and refuses unknown ids with 404, adding nobody', async () => {
      const [owner, bob, carol] = await users(3);
      const group = await createGroup(ctx.api, owner!.token, [bob!.id]);
      const rejected = await ctx.api.post(`/v1/conversations/${group.id}/members`, { userIds: [carol!.id, 'no-such-user'] }, owner!.token);
      expectProblem(rejected, 404, 'user_not_found');
      expect((await allMembers(ctx.api, owner!.token, group.id)).map((member) => member.userId)).toEqual([owner!.id, bob!.id]);
      expect(await conversationList(ctx.api, carol!.token)).toEqual([]);

      const added = await ctx.api.post(`/v1/conversations/${group.id}/members`, { userIds: [carol!.id, bob!.id] }, owner!.token);
      expect(added.status).toBe(200);
      expect(added.body.memberCount).toBe(3);
      expect(added.body.members.map((member: any) => [member.userId, member.role])).toEqual([
        [owner!.id, 'owner'],
        [bob!.id, 'member'],
        [carol!.id, 'member'],
      ]);
      expect(ids(await conversationList(ctx.api, carol!.token))).toEqual([group.id]);
    });
  });

  describe('the group member limit (MAX_GROUP_MEMBERS=5)', () => {
    const limited = useTestServer({ kind, env: { MAX_GROUP_MEMBERS: '5' } });

    it('refuses to create a group over the limit (409 too_many_members) and creates nothing', async () => {
      const people = await Promise.all(Array.from({ length: 6 }, () => registerUser(limited.api)));
      const [owner, ...others] = people;
      const response = await limited.api.post('/v1/conversations', { type: 'group', title: 'Six', members: others.map((u) => u.id) }, owner!.token);
      expectProblem(response, 409, 'too_many_members');
      for (const user of people) expect(await conversationList(limited.api, user.token)).toEqual([]);

      // Exactly at the limit is fine.
      const atLimit = await limited.api.post('/v1/conversations', { type: 'group', title: 'Five', members: others.slice(0, 4).map((u) => u.id) }, owner!.token);
      expect(atLimit.status).toBe(201);
      expect(atLimit.body.memberCount).toBe(5);
    });

    it('refuses to add members over the limit (409 too_many_members) and adds nobody', async () => {
      const people = await Promise.all(Array.from({ length: 6 }, () => registerUser(limited.api)));
      const [owner, a, b, c, d, e] = people;
      const group = await createGroup(limited.api, owner!.token, [a!.id, b!.id]);
      const before = await allMembers(limited.api, owner!.token, group.id);

      const over = await limited.api.post(`/v1/conversations/${group.id}/members`, { userIds: [c!.id, d!.id, e!.id] }, owner!.token);
      expectProblem(over, 409, 'too_many_members');
      expect(await allMembers(limited.api, owner!.token, group.id)).toEqual(before);
      expect((await conversationOf(limited.api, owner!.token, group.id)).memberCount).toBe(3);
      for (const user of [c!, d!, e!]) expect(await conversationList(limited.api, user.token)).toEqual([]);

      const fill = await limited.api.post(`/v1/conversations/${group.id}/members`, { userIds: [c!.id, d!.id] }, owner!.token);
      expect(fill.status).toBe(200);
      expect(fill.body.memberCount).toBe(5);
      const one = await limited.api.post(`/v1/conversations/${group.id}/members`, { userIds: [e!.id] }, owner!.token);
      expectProblem(one, 409, 'too_many_members');
      expect((await conversationOf(limited.api, owner!.token, group.id)).memberCount).toBe(5);
      expect(await conversationList(limited.api, e!.token)).toEqual([]);
    });
  });

  describe('GET /v1/conversations', () => {
    it('lists the most recent activity first; a message moves its conversation to the top', async () => {
      const [me, bob, carol] = await users(3);
      const direct = await openDirect(ctx.api, me!.token, bob!.id);
      const group = await createGroup(ctx.api, me!.token, [bob!.id, carol!.id], 'G1');
      const other = await createGroup(ctx.api, carol!.token, [me!.id], 'G2');

      const initial = await conversationList(ctx.api, me!.token);
      expect(ids(initial)).toEqual([other.id, group.id, direct.id]);
      for (const item of initial) {
        expect(item.lastMessage).toBeNull();
        expect(item.unreadCount).toBe(0);
      }

      const sent = await sendMessage(ctx.api, bob!.token, direct.id, 'hello');
      const afterDirect = await conversationList(ctx.api, me!.token);
      expect(ids(afterDirect)).toEqual([direct.id, other.id, group.id]);
      expect(afterDirect[0].lastMessage).toMatchObject({ id: sent.id, seq: 1, senderId: bob!.id, text: 'hello' });
      expect(afterDirect[0].lastSeq).toBe(1);

      await sendMessage(ctx.api, me!.token, group.id, 'to the group');
      expect(ids(await conversationList(ctx.api, me!.token))).toEqual([group.id, direct.id, other.id]);
      // Everyone's list follows the same activity.
      expect(ids(await conversationList(ctx.api, bob!.token))).toEqual([group.id, direct.id]);
      expect(ids(await conversationList(ctx.api, carol!.token))).toEqual([group.id, other.id]);
    });

    it('orders by the last message or creation only: edits, reactions, renames and new members do not reorder', async () => {
      const [me, bob, carol] = await users(3);
      const older = await createGroup(ctx.api, me!.token, [bob!.id], 'Older');
      const message = await sendMessage(ctx.api, bob!.token, older.id, 'first words');
      const newer = await createGroup(ctx.api, me!.token, [bob!.id], 'Newer');
      const path = `/v1/conversations/${older.id}`;
      expect((await ctx.api.patch(`${path}/messages/${message.id}`, { text: 'edited words' }, bob!.token)).status).toBe(200);
      expect((await ctx.api.request('PUT', `${path}/messages/${message.id}/reactions/${encodeURIComponent('👍')}`, { token: me!.token })).status).toBe(204);
      expect((await ctx.api.patch(path, { title: 'Renamed' }, me!.token)).status).toBe(200);
      expect((await ctx.api.post(`${path}/members`, { userIds: [carol!.id] }, me!.token)).status).toBe(200);

      const list = await conversationList(ctx.api, me!.token);
      expect(ids(list)).toEqual([newer.id, older.id]);
      expect(list[0].lastActivityAt).toBe(newer.createdAt);
      expect(list[1]).toMatchObject({ title: 'Renamed', memberCount: 3, lastActivityAt: message.createdAt });
      // The list shows the last message as it is now.
      expect(list[1].lastMessage).toMatchObject({ id: message.id, text: 'edited words', reactions: { '👍': { count: 1, me: true } } });
      expect(list[1].lastMessage.editedAt).toEqual(expect.any(String));
    });

    it('counts messages from others above the read position; sending moves the sender’s own position', async () => {
      const [me, bob] = await users(2);
      const direct = await openDirect(ctx.api, me!.token, bob!.id);
      for (const text of ['one', 'two', 'three']) await sendMessage(ctx.api, bob!.token, direct.id, text);

      const unreadOf = async (user: TestUser) => (await conversationList(ctx.api, user.token)).find((item) => item.id === direct.id);
      expect(await unreadOf(me!)).toMatchObject({ unreadCount: 3, lastMessage: { seq: 3, text: 'three' } });
      expect((await unreadOf(bob!)).unreadCount).toBe(0);

      await sendMessage(ctx.api, me!.token, direct.id, 'four');
      expect((await unreadOf(me!)).unreadCount).toBe(0);
      expect((await unreadOf(bob!)).unreadCount).toBe(1);
      const members = (await conversationOf(ctx.api, me!.token, direct.id)).members;
      expect(members.find((member: any) => member.userId === me!.id).lastReadSeq).toBe(4);
      expect(members.find((member: any) => member.userId === bob!.id).lastReadSeq).toBe(3);
    });

    it('POST .../read moves the read position forward only and clamps it to lastSeq', async () => {
      const [me, bob] = await users(2);
      const direct = await openDirect(ctx.api, me!.token, bob!.id);
      for (let i = 1; i <= 5; i += 1) await sendMessage(ctx.api, bob!.token, direct.id, `m${i}`);
      const state = async () => {
        const item = (await conversationList(ctx.api, me!.token)).find((entry) => entry.id === direct.id);
        const member = (await conversationOf(ctx.api, me!.token, direct.id)).members.find((entry: any) => entry.userId === me!.id);
        return { unread: item.unreadCount, lastReadSeq: member.lastReadSeq, itemLastRead: item.members.find((entry: any) => entry.userId === me!.id).lastReadSeq };
      };
      expect(await state()).toEqual({ unread: 5, lastReadSeq: 0, itemLastRead: 0 });

      const read = await ctx.api.post(`/v1/conversations/${direct.id}/read`, { seq: 2 }, me!.token);
      expect(read.status).toBe(204);
      expect(read.text).toBe('');
      expect(await state()).toEqual({ unread: 3, lastReadSeq: 2, itemLastRead: 2 });

      expect((await ctx.api.post(`/v1/conversations/${direct.id}/read`, { seq: 1 }, me!.token)).status).toBe(204);
      expect(await state()).toEqual({ unread: 3, lastReadSeq: 2, itemLastRead: 2 });

      expect((await ctx.api.post(`/v1/conversations/${direct.id}/read`, { seq: 999 }, me!.token)).status).toBe(204);
      expect(await state()).toEqual({ unread: 0, lastReadSeq: 5, itemLastRead: 5 });

      // A later message is unread again: the clamp did not leave the position beyond lastSeq.
      await sendMessage(ctx.api, bob!.token, direct.id, 'm6');
      expect(await state()).toEqual({ unread: 1, lastReadSeq: 5, itemLastRead: 5 });

      expectProblem(await ctx.api.post(`/v1/conversations/${direct.id}/read`, { seq: -1 }, me!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.post(`/v1/conversations/${direct.id}/read`, { seq: 1.5 }, me!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.post(`/v1/conversations/${direct.id}/read`, {}, me!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.post(`/v1/conversations/${direct.id}/read`, { seq: 1e20 }, me!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.post(`/v1/conversations/${direct.id}/read`, { seq: '6' }, me!.token), 400, 'validation_failed');
      const infinite = await ctx.api.request('POST', `/v1/conversations/${direct.id}/read`, {
        token: me!.token,
        body: '{"seq": 1e400}',
        contentType: 'application/json',
      });
      expectProblem(infinite, 400, 'validation_failed', 'seq 1e400');
      expect(await state()).toEqual({ unread: 1, lastReadSeq: 5, itemLastRead: 5 });
    });

    it('pages with a cursor without duplicates or omissions', async () => {
      const [me, bob] = await users(2);
      const created: string[] = [];
      for (let i = 0; i < 7; i += 1) created.push((await createGroup(ctx.api, me!.token, [bob!.id], `G${i}`)).id);
      const expected = [...created].reverse();

      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : '?limit=3';
        const page = await ctx.api.get(`/v1/conversations${query}`, me!.token);
        expect(page.status).toBe(200);
        pages.push(ids(page.body.items));
        cursor = page.body.nextCursor;
      } while (cursor && pages.length < 10);
      expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(expected);
      expect(ids(await conversationList(ctx.api, me!.token, 1))).toEqual(expected);

      expectProblem(await ctx.api.get('/v1/conversations?limit=0', me!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.get('/v1/conversations?limit=101', me!.token), 400, 'validation_failed');
      expectProblem(await ctx.api.get('/v1/conversations?cursor=garbage!', me!.token), 400, 'invalid_cursor');
    });

    it('is for users: a tenant API key gets 403, and so does its read position', async () => {
      const tenant = await createTestTenant(ctx.api);
      const [alice, bob] = await tenant.users(['alice', 'bob']);
      const direct = await openDirect(ctx.api, alice!.token, bob!.id);
      await sendMessage(ctx.api, alice!.token, direct.id, 'hi');
      expectProblem(await ctx.api.get('/v1/conversations', tenant.key), 403, 'forbidden');
      expectProblem(await ctx.api.post(`/v1/conversations/${direct.id}/read`, { seq: 1 }, tenant.key), 403, 'forbidden');
      expect((await conversationOf(ctx.api, tenant.key, direct.id)).members.map((member: any) => member.lastReadSeq).sort()).toEqual([0, 1]);
    });
  });
});
