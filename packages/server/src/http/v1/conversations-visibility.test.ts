/**
 * Who sees a conversation, over HTTP on both engines: a non-member of the same tenant, a user of
 * another tenant (even one whose user id is a member's id in the first tenant) and another
 * tenant's API key all get 404 conversation_not_found on every endpoint, and none of their
 * attempts changes anything. The conversation's own tenant key reads, posts and moderates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient, ApiResponse } from '../../test-support/api-client.js';
import {
  allMembers,
  conversationList,
  conversationOf,
  createGroup,
  createTestTenant,
  expectProblem,
  historyOf,
  openDirect,
  sendMessage,
  type TenantUser,
  type TestTenant,
} from '../../test-support/conversations.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { registerUser, startTestServer, type TestServer } from '../../test-support/server.js';

describe.each(ENGINE_KINDS)('conversation visibility over HTTP (%s engine)', (kind) => {
  let server: TestServer;
  let api: ApiClient;
  let home: TestTenant;
  let owner: TenantUser;
  let member: TenantUser;
  let outsider: TenantUser;
  let group: any;
  let direct: any;
  let ownerMessage: any;
  let memberMessage: any;

  beforeAll(async () => {
    server = await startTestServer({ kind });
    api = server.api;
    home = await createTestTenant(api);
    [owner, member, outsider] = (await home.users(['owner', 'member', 'outsider'])) as [TenantUser, TenantUser, TenantUser];
    group = await createGroup(api, owner.token, [member.id], 'Private');
    direct = await openDirect(api, owner.token, member.id);
    ownerMessage = await sendMessage(api, owner.token, group.id, 'from the owner');
    memberMessage = await sendMessage(api, member.token, group.id, 'from the member');
    await sendMessage(api, member.token, direct.id, 'direct hello');
  });
  afterAll(() => server?.stop());

  /** Everything the owner can observe about a conversation. */
  const snapshot = async (conversationId: string) => ({
    conversation: await conversationOf(api, owner.token, conversationId),
    members: await allMembers(api, owner.token, conversationId),
    history: await historyOf(api, owner.token, conversationId),
    memberHistory: await historyOf(api, member.token, conversationId),
  });

  /** Every conversation endpoint, as `token`, against `conversationId`. */
  const probe = async (token: string, conversationId: string, messageId: string, otherUserId: string) => {
    const base = `/v1/conversations/${conversationId}`;
    const emoji = encodeURIComponent('👍');
    const calls: [string, Promise<ApiResponse>][] = [
      ['GET conversation', api.get(base, token)],
      ['GET members', api.get(`${base}/members`, token)],
      ['GET messages', api.get(`${base}/messages`, token)],
      ['GET messages after', api.get(`${base}/messages?after=0`, token)],
      ['POST message', api.post(`${base}/messages`, { text: 'intruder' }, token)],
      ['PATCH message', api.patch(`${base}/messages/${messageId}`, { text: 'defaced' }, token)],
      ['DELETE message', api.delete(`${base}/messages/${messageId}`, token)],
      ['PUT reaction', api.request('PUT', `${base}/messages/${messageId}/reactions/${emoji}`, { token })],
      ['DELETE reaction', api.request('DELETE', `${base}/messages/${messageId}/reactions/${emoji}`, { token })],
      ['POST read', api.post(`${base}/read`, { seq: 1 }, token)],
      ['PATCH conversation', api.patch(base, { title: 'Hijacked' }, token)],
      ['POST members', api.post(`${base}/members`, { userIds: [outsider.id] }, token)],
      ['DELETE member', api.delete(`${base}/members/${otherUserId}`, token)],
      ['PATCH member', api.patch(`${base}/members/${otherUserId}`, { role: 'owner' }, token)],
    ];
    for (const [label, call] of calls) expectProblem(await call, 404, 'conversation_not_found', label);
  };

  it('answers a non-member of the same tenant with 404 everywhere and changes nothing', async () => {
    for (const conversation of [group, direct]) {
      const before = await snapshot(conversation.id);
      const messageId = before.history[0].id;
      await probe(outsider.token, conversation.id, messageId, member.id);
      // Leaving is not a way in either.
      expectProblem(await api.delete(`/v1/conversations/${conversation.id}/members/${outsider.id}`, outsider.token), 404, 'conversation_not_found');
      expect(await snapshot(conversation.id)).toEqual(before);
    }
    expect(await conversationList(api, outsider.token)).toEqual([]);
  });

  it('answers a user of another tenant with 404 everywhere, even one with a member’s user id', async () => {
    const elsewhere = await createTestTenant(api);
    const [twin, stranger] = (await elsewhere.users([member.id, 'stranger'])) as [TenantUser, TenantUser];
    const registered = await registerUser(api);
    for (const conversation of [group, direct]) {
      const before = await snapshot(conversation.id);
      const messageId = before.history[0].id;
      for (const user of [twin, stranger, registered]) await probe(user.token, conversation.id, messageId, member.id);
      expect(await snapshot(conversation.id)).toEqual(before);
    }
    for (const user of [twin, stranger, registered]) expect(await conversationList(api, user.token)).toEqual([]);
  });

  it('answers another tenant’s API key with 404 everywhere and changes nothing', async () => {
    const elsewhere = await createTestTenant(api);
    for (const conversation of [group, direct]) {
      const before = await snapshot(conversation.id);
      await probe(elsewhere.key, conversation.id, before.history[0].id, member.id);
      expect(await snapshot(conversation.id)).toEqual(before);
    }
  });

  it('answers ids that name nothing with 404 too', async () => {
    await probe(owner.token, '01NOSUCHCONVERSATION00000', ownerMessage.id, member.id);
    await probe(home.key, '01NOSUCHCONVERSATION00000', ownerMessage.id, member.id);
  });

  it('lets the conversation’s tenant key read, post as the system, and moderate', async () => {
    const conversation = await createGroup(api, owner.token, [member.id], 'Moderated');
    const userMessage = await sendMessage(api, member.token, conversation.id, 'needs moderation');

    const read = await api.get(`/v1/conversations/${conversation.id}`, home.key);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: conversation.id, title: 'Moderated', memberCount: 2, lastSeq: 1 });
    expect((await api.get(`/v1/conversations/${conversation.id}/members`, home.key)).body.items).toHaveLength(2);
    const history = await api.get(`/v1/conversations/${conversation.id}/messages`, home.key);
    expect(history.status).toBe(200);
    expect(history.body.items.map((message: any) => message.text)).toEqual(['needs moderation']);

    const posted = await api.post(`/v1/conversations/${conversation.id}/messages`, { text: ' Be nice. ' }, home.key);
    expect(posted.status).toBe(201);
    expect(posted.body).toMatchObject({ conversationId: conversation.id, seq: 2, senderId: null, system: true, text: 'Be nice.' });

    const deleted = await api.delete(`/v1/conversations/${conversation.id}/messages/${userMessage.id}`, home.key);
    expect(deleted.status).toBe(204);
    const seenByMember = await historyOf(api, member.token, conversation.id);
    expect(seenByMember.map((message) => [message.seq, message.text, message.senderId, message.system])).toEqual([
      [1, null, member.id, false],
      [2, 'Be nice.', null, true],
    ]);
    expect(seenByMember[0].deletedAt).toEqual(expect.any(String));
    // The system message counts as unread for members.
    const listed = (await conversationList(api, member.token)).find((item) => item.id === conversation.id);
    expect(listed).toMatchObject({ unreadCount: 1, lastMessage: { seq: 2, senderId: null, system: true } });
  });

  it('makes a tenant key’s sends idempotent by clientMessageId too (a retrying back end posts once)', async () => {
    const conversation = await createGroup(api, owner.token, [member.id], 'Retries');
    const body = { text: 'Scheduled maintenance', clientMessageId: 'crm-notice-1' };
    const first = await api.post(`/v1/conversations/${conversation.id}/messages`, body, home.key);
    const again = await api.post(`/v1/conversations/${conversation.id}/messages`, body, home.key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, seq: first.body.seq, system: true });
    // A user's clientMessageId of the same value is another scope.
    const fromUser = await api.post(`/v1/conversations/${conversation.id}/messages`, body, member.token);
    expect(fromUser.status).toBe(201);
    expect((await historyOf(api, member.token, conversation.id)).map((message) => message.seq)).toEqual([1, 2]);
  });

  it('lets a tenant key create conversations for its users: a group without owner, a direct for two', async () => {
    const [first, second] = (await home.users(['first', 'second'])) as [TenantUser, TenantUser];
    const group = await api.post('/v1/conversations', { type: 'group', title: 'By the back end', members: [first.id, second.id] }, home.key);
    expect(group.status).toBe(201);
    expect(group.body.members.map((entry: any) => [entry.userId, entry.role])).toEqual([
      [first.id, 'member'],
      [second.id, 'member'],
    ]);
    expectProblem(await api.post('/v1/conversations', { type: 'group', title: 'Empty', members: [] }, home.key), 400, 'validation_failed');
    expectProblem(await api.post('/v1/conversations', { type: 'direct', members: [first.id] }, home.key), 400, 'validation_failed');
    expectProblem(await api.post('/v1/conversations', { type: 'direct', members: [first.id, 'nobody'] }, home.key), 404, 'user_not_found');

    const direct = await api.post('/v1/conversations', { type: 'direct', members: [first.id, second.id] }, home.key);
    expect(direct.status).toBe(201);
    const opened = await api.post('/v1/conversations', { type: 'direct', members: [first.id] }, second.token);
    expect(opened.status).toBe(200);
    expect(opened.body.id).toBe(direct.body.id);
    expect((await conversationList(api, first.token)).map((item) => item.id).sort()).toEqual([group.body.id, direct.body.id].sort());

    const elsewhere = await createTestTenant(api);
    expectProblem(await api.post('/v1/conversations', { type: 'direct', members: [first.id, second.id] }, elsewhere.key), 404, 'user_not_found');
  });

  it('lets the tenant key edit its own system messages but not users’ messages (403)', async () => {
    const system = await api.post(`/v1/conversations/${group.id}/messages`, { text: 'Maintenance tonight' }, home.key);
    expect(system.status).toBe(201);
    const edited = await api.patch(`/v1/conversations/${group.id}/messages/${system.body.id}`, { text: 'Maintenance tomorrow' }, home.key);
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ id: system.body.id, senderId: null, system: true, text: 'Maintenance tomorrow' });
    const before = await historyOf(api, owner.token, group.id);
    expectProblem(await api.patch(`/v1/conversations/${group.id}/messages/${memberMessage.id}`, { text: 'censored' }, home.key), 403, 'forbidden');
    expectProblem(await api.patch(`/v1/conversations/${group.id}/messages/${system.body.id}`, { text: 'mine now' }, owner.token), 403, 'forbidden');
    expect(await historyOf(api, owner.token, group.id)).toEqual(before);
  });

  it('keeps reactions for users: the tenant key reacting gets 403 and nothing is stored', async () => {
    const before = await historyOf(api, owner.token, group.id);
    expectProblem(
      await api.request('PUT', `/v1/conversations/${group.id}/messages/${memberMessage.id}/reactions/${encodeURIComponent('👍')}`, { token: home.key }),
      403,
      'forbidden',
    );
    expect(await historyOf(api, owner.token, group.id)).toEqual(before);
  });
});
